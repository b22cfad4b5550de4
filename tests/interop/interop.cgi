#!/bin/sh
# The interop test's CGI for Apache and lighttpd: ?chunked (200000 B written as it goes, no
# Content-Length: the server frames it chunked), ?204, ?304; anything else is a 404.
case "$QUERY_STRING" in
  chunked)
    printf 'Content-Type: text/plain\r\n\r\n'
    # yes ends on EPIPE when head is done (the server may ignore SIGPIPE): no message for it.
    yes 'a chunked line of the interop test' 2>/dev/null | head -c 200000
    ;;
  204) printf 'Status: 204 No Content\r\n\r\n' ;;
  304) printf 'Status: 304 Not Modified\r\n\r\n' ;;
  *) printf 'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnot found\n' ;;
esac
