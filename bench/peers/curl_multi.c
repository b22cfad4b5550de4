/* curl-multi: the libcurl peer of fanout-bench, written the way libcurl's documentation
 * recommends for many transfers, so that the comparison is against libcurl at its best:
 *
 *   curl-multi URL N C [--cacert FILE] [--keep-bodies] [--timeout SECONDS] [--epoll]
 *
 * N GETs of URL with at most C in flight through one multi handle:
 * - CURLMOPT_MAX_TOTAL_CONNECTIONS = CURLMOPT_MAX_HOST_CONNECTIONS = CURLMOPT_MAXCONNECTS = C;
 * - C easy handles created once and re-used (a finished handle is re-added for the next
 *   request, so connections stay alive and nothing is set up per request);
 * - one share handle for DNS and TLS sessions (handshakes after the first resume);
 * - curl_multi_poll, no busy loop (or, with --epoll, libcurl's event API: an epoll loop
 *   driving curl_multi_socket_action, documented as the way to scale to many connections;
 *   on one host with C <= 300 it measured 10-25% slower here, from an epoll_ctl per
 *   request, so the default stays curl_multi_poll);
 *   HTTP/1.1 as fanout speaks it; TLS verified (against
 *   --cacert when given, else the system store);
 * - each body lands in memory as a user would read it (a growing buffer per handle, re-used);
 *   with --keep-bodies every body is kept until the end, as fanout keeps every response.
 *
 * The last stdout line is exactly "curl-multi N C seconds req_per_s errors": seconds from the
 * first request to the last answer; errors = transport errors plus non-2xx answers. Exit
 * status 1 when errors > 0, 2 on bad usage. Bounded: every transfer has a timeout and the
 * whole run stops at --timeout (default 300 s), counting what is left as errors. */
#include <curl/curl.h>

#include <errno.h>
#include <sys/epoll.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct buffer {
  char *data;
  size_t size;
  size_t cap;
};

struct slot {
  CURL *easy;
  struct buffer body;
  char error[CURL_ERROR_SIZE];
};

/* Everything one run counts; shared by both event loops. */
struct run {
  CURLM *multi;
  const char *url;
  long n, started, done, errors, reported, connections;
  curl_off_t bytes;
  int keep_bodies;
  struct buffer *kept;
  /* --epoll: the epoll instance and libcurl's timer as an absolute deadline (< 0: none) */
  int epfd;
  double timer_at;
};

static void die(const char *what) {
  fprintf(stderr, "curl-multi: %s\n", what);
  exit(2);
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
  struct buffer *b = userdata;
  size_t n = size * nmemb;
  if (b->size + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->size + n) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return 0; /* makes the transfer fail with CURLE_WRITE_ERROR */
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->size, ptr, n);
  b->size += n;
  return n;
}

static long parse_count(const char *s, const char *name) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < 1 || v > INT_MAX) {
    fprintf(stderr, "curl-multi: %s must be a positive integer, got '%s'\n", name, s);
    exit(2);
  }
  return v;
}

/* Takes every finished transfer: counts it, hands its body to the "user", and re-adds the
 * same easy handle for the next request while any is left. */
static void collect(struct run *r) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(r->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL *e = msg->easy_handle;
    CURLcode result = msg->data.result;
    char *priv = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
    struct slot *s = (struct slot *)priv;
    long status = 0, connects = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    r->connections += connects;
    if (result != CURLE_OK || status < 200 || status > 299) {
      ++r->errors;
      if (r->reported++ < 5) {
        if (result != CURLE_OK)
          fprintf(stderr, "curl-multi: %s: %s\n", r->url,
                  s->error[0] ? s->error : curl_easy_strerror(result));
        else
          fprintf(stderr, "curl-multi: %s: HTTP status %ld\n", r->url, status);
      }
    }
    r->bytes += (curl_off_t)s->body.size;
    if (r->keep_bodies) {
      r->kept[r->done] = s->body;
      memset(&s->body, 0, sizeof s->body);
    } else {
      s->body.size = 0; /* the user read it; the capacity is re-used */
    }
    s->error[0] = '\0';
    ++r->done;
    curl_multi_remove_handle(r->multi, e);
    if (r->started < r->n) {
      curl_multi_add_handle(r->multi, e);
      ++r->started;
    }
  }
}

/* The classic loop: curl_multi_perform, then curl_multi_poll until something happens.
 * Returns 0 when it stopped early (error or run deadline). */
static int loop_poll(struct run *r, double deadline) {
  int running;
  while (r->done < r->n) {
    CURLMcode mc = curl_multi_perform(r->multi, &running);
    if (mc != CURLM_OK) {
      fprintf(stderr, "curl-multi: curl_multi_perform: %s\n", curl_multi_strerror(mc));
      return 0;
    }
    collect(r);
    if (r->done >= r->n) break;
    if (now_seconds() > deadline) {
      fprintf(stderr, "curl-multi: run deadline reached\n");
      return 0;
    }
    mc = curl_multi_poll(r->multi, NULL, 0, 1000, NULL);
    if (mc != CURLM_OK) {
      fprintf(stderr, "curl-multi: curl_multi_poll: %s\n", curl_multi_strerror(mc));
      return 0;
    }
  }
  return 1;
}

/* --epoll: libcurl tells which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to
 * call back on a timeout (CURLMOPT_TIMERFUNCTION); we wait with epoll. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)e;
  (void)socketp;
  struct run *r = userp;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL); /* may already be closed: ignore */
    return 0;
  }
  struct epoll_event ev = {.data.fd = fd};
  if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
  if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
  if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 &&
      (errno != ENOENT || epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)) {
    perror("curl-multi: epoll_ctl");
    return -1;
  }
  return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp) {
  (void)m;
  struct run *r = userp;
  r->timer_at = timeout_ms < 0 ? -1 : now_seconds() + (double)timeout_ms / 1e3;
  return 0;
}

static int loop_epoll(struct run *r, double deadline) {
  struct epoll_event events[256];
  int running;
  while (r->done < r->n) {
    double now = now_seconds();
    if (now > deadline) {
      fprintf(stderr, "curl-multi: run deadline reached\n");
      return 0;
    }
    int wait_ms = 1000;
    if (r->timer_at >= 0) {
      double ms = (r->timer_at - now) * 1e3;
      wait_ms = ms <= 0 ? 0 : ms < 1000 ? (int)ms + 1 : 1000;
    }
    int k = epoll_wait(r->epfd, events, (int)(sizeof events / sizeof events[0]), wait_ms);
    if (k < 0 && errno != EINTR) {
      perror("curl-multi: epoll_wait");
      return 0;
    }
    for (int i = 0; i < k; ++i) {
      int flags = 0;
      if (events[i].events & EPOLLIN) flags |= CURL_CSELECT_IN;
      if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
      curl_multi_socket_action(r->multi, events[i].data.fd, flags, &running);
    }
    if (r->timer_at >= 0 && now_seconds() >= r->timer_at) {
      r->timer_at = -1;
      curl_multi_socket_action(r->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    collect(r);
  }
  return 1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: curl-multi URL N C [--cacert FILE] [--keep-bodies] [--timeout SECONDS] "
          "[--epoll]\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 4) usage();
  const char *url = argv[1];
  long n = parse_count(argv[2], "N");
  long c = parse_count(argv[3], "C");
  const char *cacert = NULL;
  int keep_bodies = 0, use_epoll = 0;
  long run_timeout = 300;
  for (int i = 4; i < argc; ++i) {
    if (!strcmp(argv[i], "--cacert") && i + 1 < argc)
      cacert = argv[++i];
    else if (!strcmp(argv[i], "--epoll"))
      use_epoll = 1;
    else if (!strcmp(argv[i], "--keep-bodies"))
      keep_bodies = 1;
    else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
      run_timeout = parse_count(argv[++i], "--timeout");
    else
      usage();
  }
  if (c > n) c = n;

  if (curl_global_init(CURL_GLOBAL_DEFAULT)) die("curl_global_init failed");

  CURLSH *share = curl_share_init();
  if (!share) die("curl_share_init failed");
  curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);

  CURLM *multi = curl_multi_init();
  if (!multi) die("curl_multi_init failed");
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, c);
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, c);
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, c);

  struct slot *slots = calloc((size_t)c, sizeof *slots);
  struct buffer *kept = keep_bodies ? calloc((size_t)n, sizeof *kept) : NULL;
  if (!slots || (keep_bodies && !kept)) die("out of memory");

  for (long i = 0; i < c; ++i) {
    CURL *e = curl_easy_init();
    if (!e) die("curl_easy_init failed");
    slots[i].easy = e;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_SHARE, share);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &slots[i]);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &slots[i].body);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, slots[i].error);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (cacert) curl_easy_setopt(e, CURLOPT_CAINFO, cacert);
  }

  struct run r = {.multi = multi, .url = url, .n = n, .keep_bodies = keep_bodies,
                  .kept = kept, .epfd = -1, .timer_at = -1};
  if (use_epoll) {
    r.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r.epfd < 0) die("epoll_create1 failed");
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, &r);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, &r);
  }
  double t0 = now_seconds();
  double deadline = t0 + (double)run_timeout;
  for (; r.started < c; ++r.started) curl_multi_add_handle(multi, slots[r.started].easy);

  int ok = use_epoll ? loop_epoll(&r, deadline) : loop_poll(&r, deadline);
  if (!ok)
    fprintf(stderr, "curl-multi: stopped with %ld answers missing\n", n - r.done);
  double seconds = now_seconds() - t0;
  long done = r.done, errors = r.errors + (n - r.done); /* never answered */

  printf("curl-multi: %s connections=%ld bytes=%" CURL_FORMAT_CURL_OFF_T " kept=%s\n",
         curl_version(), r.connections, r.bytes,
         keep_bodies ? "all" : "in-flight");
  printf("curl-multi %ld %ld %.6f %.1f %ld\n", n, c, seconds, (double)done / seconds, errors);
  fflush(stdout);

  for (long i = 0; i < c; ++i) {
    curl_multi_remove_handle(multi, slots[i].easy);
    curl_easy_cleanup(slots[i].easy);
    free(slots[i].body.data);
  }
  if (keep_bodies)
    for (long i = 0; i < done; ++i) free(kept[i].data);
  free(kept);
  free(slots);
  curl_multi_cleanup(multi);
  if (r.epfd >= 0) close(r.epfd);
  curl_share_cleanup(share);
  curl_global_cleanup();
  return errors > 0 ? 1 : 0;
}
