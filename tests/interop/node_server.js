// The interop test's Node.js server (node's own `http` module): loopback only.
//   node node_server.js <port> <content-dir>
// Routes:
//   /files/<name>       a file of <content-dir>/files (Last-Modified; If-Modified-Since -> 304)
//   /info/100 /info/102 /info/103 /info/all
//                       100 Continue, 102 Processing, 103 Early Hints (all: the three in turn)
//                       before a 200 whose body tells them apart (100 B, 64 KiB, 0 B, 10 MiB)
//   /chunked            chunked, 3 chunks (5000 B), then a trailer announced by `Trailer:`
//   /gz                 text.txt gzip-encoded (Content-Encoding: gzip, Content-Length)
//   /redir/30x          301/302/307 to ../files/... (a relative reference inside the root)
//   /up30x              301/302/307 to ../files/100b (its ".." climbs above the root)
//   /204 /304           those statuses, fixed
//   anything else       404 with a short body
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const zlib = require('zlib');

const [port, contentDir] = process.argv.slice(2);
const files = path.join(contentDir, 'files');
const gzipped = zlib.gzipSync(fs.readFileSync(path.join(files, 'text.txt')));

const redirects = {
  '/redir/301': [301, '../files/100b'],
  '/redir/302': [302, '../files/64k'],
  '/redir/307': [307, '../files/empty'],
  '/up301': [301, '../files/100b'],
  '/up302': [302, '../files/100b'],
  '/up307': [307, '../files/100b'],
};

// The answer after the informational responses: which file says which route it was.
const informational = {
  '/info/100': ['100b', (res) => res.writeContinue()],
  '/info/102': ['64k', (res) => res.writeProcessing()],
  '/info/103': ['empty', (res) => res.writeEarlyHints({link: '</files/100b>; rel=preload'})],
  '/info/all': ['10m', (res) => {
    res.writeContinue();
    res.writeProcessing();
    res.writeEarlyHints({link: '</files/64k>; rel=preload'});
  }],
};

function sendFile(req, res, name) {
  const file = path.join(files, path.basename(name));
  let stat;
  try {
    stat = fs.statSync(file);
  } catch {
    return notFound(res);
  }
  const since = Date.parse(req.headers['if-modified-since'] || '');
  if (!Number.isNaN(since) && Math.floor(stat.mtimeMs / 1000) * 1000 <= since) {
    res.writeHead(304, {'last-modified': stat.mtime.toUTCString()});
    return res.end();
  }
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': stat.size,
    'last-modified': stat.mtime.toUTCString(),
  });
  if (req.method === 'HEAD') return res.end();
  fs.createReadStream(file).pipe(res);
}

function notFound(res) {
  res.writeHead(404, {'content-type': 'text/plain', 'content-length': 10});
  res.end('not found\n');
}

function answer(req, res) {
  const url = new URL(req.url, 'http://localhost');
  const route = url.pathname;
  if (route.startsWith('/files/')) return sendFile(req, res, route.slice('/files/'.length));
  if (informational[route]) {
    const [name, interim] = informational[route];
    interim(res);
    return sendFile(req, res, name);
  }
  if (redirects[route]) {
    const [status, location] = redirects[route];
    res.writeHead(status, {location, 'content-length': 0});
    return res.end();
  }
  switch (route) {
    case '/chunked':
      // No Content-Length: node frames it chunked; the trailer follows the last chunk (node
      // refuses a Trailer header on a response without a body: none for HEAD).
      if (req.method === 'HEAD') {
        res.writeHead(200, {'content-type': 'text/plain'});
        return res.end();
      }
      res.writeHead(200, {'content-type': 'text/plain', trailer: 'x-checksum'});
      res.write('a'.repeat(1000));
      res.write('b'.repeat(1500));
      res.write('c'.repeat(2500));
      res.addTrailers({'x-checksum': 'abc5000'});
      return res.end();
    case '/gz':
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-encoding': 'gzip',
        'content-length': gzipped.length,
        vary: 'accept-encoding',
      });
      return res.end(req.method === 'HEAD' ? undefined : gzipped);
    case '/204':
      res.writeHead(204);
      return res.end();
    case '/304':
      res.writeHead(304);
      return res.end();
    default:
      return notFound(res);
  }
}

const server = http.createServer((req, res) => {
  // A mistake here must show as a 500 in the diff, not end the server for the rows after it.
  try {
    answer(req, res);
  } catch (e) {
    console.error(e);
    if (!res.headersSent) res.writeHead(500, {'content-length': 0});
    res.end();
  }
});
server.keepAliveTimeout = 30000;
server.listen(Number(port), '127.0.0.1');
// Stop cleanly on TERM from the test script.
process.on('SIGTERM', () => process.exit(0));
