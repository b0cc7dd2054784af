/* Time to first byte of a request on a reused connection: frugal's http client vs a new `curl`
 * process per request vs a bare blocking socket (the floor: server + kernel only), interleaved
 * round by round in one run against the same loopback server. Prints medians in ms as JSON. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "http/http.h"

extern char **environ;

typedef struct {
  int done;
  uint64_t start, first;
  http_code code;
  int reused;
} run_state;

static void on_response(http_request *req, const http_response *resp, void *data)
{
  run_state *s = data;
  s->first = uv_hrtime();
}

static void on_done(http_request *req, const http_result *res, void *data)
{
  run_state *s = data;
  s->code = res->code;
  s->reused = res->reused;
  s->done = 1;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof(double), cmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double client_ttfb(uv_loop_t *loop, http_client *c, const char *url, int *reused)
{
  run_state s = {0};
  http_callbacks cb = {on_response, NULL, on_done};
  http_request_opts o = {.url = url, .total_timeout_ms = 5000};
  char err[256];
  s.start = uv_hrtime();
  if (!http_request_start(c, &o, &cb, &s, err, sizeof(err))) {
    fprintf(stderr, "start: %s\n", err);
    exit(1);
  }
  while (!s.done) {
    uv_run(loop, UV_RUN_ONCE);
  }
  if (s.code != HTTP_OK) {
    fprintf(stderr, "request failed: %s\n", http_code_name(s.code));
    exit(1);
  }
  *reused = s.reused;
  return (double)(s.first - s.start) / 1e6;
}

/* Wall time of a whole `curl` process (spawn to exit), and curl's own time_starttransfer. */
static double curl_process(const char *url, double *self_ttfb)
{
  int fds[2];
  if (pipe(fds)) {
    exit(1);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  char *argv[] = {"curl",      "-s", "-o", "/dev/null", "-w", "%{time_starttransfer}",
                  (char *)url, NULL};
  uint64_t t0 = uv_hrtime();
  pid_t pid;
  if (posix_spawnp(&pid, "curl", &fa, NULL, argv, environ)) {
    perror("curl");
    exit(1);
  }
  close(fds[1]);
  char out[64] = "";
  ssize_t n = read(fds[0], out, sizeof(out) - 1);
  int status;
  waitpid(pid, &status, 0);
  uint64_t t1 = uv_hrtime();
  close(fds[0]);
  posix_spawn_file_actions_destroy(&fa);
  out[n > 0 ? n : 0] = '\0';
  *self_ttfb = atof(out) * 1000.0;
  return (double)(t1 - t0) / 1e6;
}

static double raw_ttfb(int fd, const char *req)
{
  char buf[4096];
  uint64_t t0 = uv_hrtime();
  if (write(fd, req, strlen(req)) < 0) {
    exit(1);
  }
  ssize_t n = read(fd, buf, sizeof(buf));
  uint64_t t1 = uv_hrtime();
  if (n <= 0) {
    exit(1);
  }
  /* The whole small response comes in one read; nothing to drain. */
  return (double)(t1 - t0) / 1e6;
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: http_bench PORT ROUNDS\n");
    return 2;
  }
  int port = atoi(argv[1]);
  int rounds = atoi(argv[2]);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/models", port);
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[256];
  http_client *c = http_client_new(&loop, NULL, err, sizeof(err));
  if (!c) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
    perror("connect");
    return 1;
  }
  char raw_req[256];
  snprintf(raw_req, sizeof(raw_req),
           "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: raw\r\n"
           "Accept: */*\r\n\r\n",
           port);

  int reused;
  double first = client_ttfb(&loop, c, url, &reused); /* opens the connection */
  raw_ttfb(fd, raw_req);
  double *cl = calloc((size_t)rounds, sizeof(double));
  double *cw = calloc((size_t)rounds, sizeof(double));
  double *cs = calloc((size_t)rounds, sizeof(double));
  double *rw = calloc((size_t)rounds, sizeof(double));
  int reused_all = 1;
  for (int i = 0; i < rounds; i++) {
    cl[i] = client_ttfb(&loop, c, url, &reused);
    reused_all &= reused;
    cw[i] = curl_process(url, &cs[i]);
    rw[i] = raw_ttfb(fd, raw_req);
  }
  double m_client = median(cl, rounds), m_raw = median(rw, rounds);
  printf("{\"rounds\": %d, \"all_reused\": %s,\n"
         " \"client_first_request_ttfb_ms\": %.3f,\n"
         " \"client_reused_ttfb_ms\": %.3f,\n"
         " \"raw_socket_ttfb_ms\": %.3f,\n"
         " \"client_overhead_ms\": %.3f,\n"
         " \"curl_process_wall_ms\": %.3f,\n"
         " \"curl_process_self_ttfb_ms\": %.3f}\n",
         rounds, reused_all ? "true" : "false", first, m_client, m_raw, m_client - m_raw,
         median(cw, rounds), median(cs, rounds));
  close(fd);
  http_client_free(c);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  free(cl);
  free(cw);
  free(cs);
  free(rw);
  return 0;
}
