#include "host/host_int.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- stdio ---------------------------------------------------------------------------------- */

typedef struct {
  uv_loop_t loop;
  uv_pipe_t in;
  uv_pipe_t out;
  rpc_uv *transport;
  host *host;
  int fatal;
} stdio_host;

/* The edge of the process: what the host reports goes to stderr, which the editor shows. */
static void log_stderr(void *data, const char *line)
{
  fprintf(stderr, "frugal: %s\n", line);
}

static void on_rpc_error(void *data, const char *message, int fatal)
{
  stdio_host *s = rpc_uv_data(data);
  log_stderr(NULL, message);
  if (fatal && s) {
    s->fatal = 1;
  }
}

static void on_eof(void *data)
{
  stdio_host *s = data;
  host_shutdown(s->host);
  rpc_uv_close(s->transport);
}

int host_run_stdio(frugal_config *cfg)
{
  /* A write to a pipe whose reader is gone (the editor quit, a server hung up) must come back
   * as EPIPE to the code that wrote, not kill the host. */
  signal(SIGPIPE, SIG_IGN);
  stdio_host s;
  memset(&s, 0, sizeof(s));
  int rc = uv_loop_init(&s.loop);
  if (rc == 0) {
    rc = uv_pipe_init(&s.loop, &s.in, 0);
  }
  if (rc == 0) {
    rc = uv_pipe_open(&s.in, 0);
  }
  if (rc == 0) {
    rc = uv_pipe_init(&s.loop, &s.out, 0);
  }
  if (rc == 0) {
    rc = uv_pipe_open(&s.out, 1);
  }
  if (rc) {
    fprintf(stderr, "frugal --stdio: stdin and stdout must be pipes or sockets (%s)\n",
            uv_strerror(rc));
    config_free(cfg);
    return 1;
  }
  s.transport = rpc_uv_new(&s.loop, (uv_stream_t *)&s.in, (uv_stream_t *)&s.out);
  rpc_channel *ch = rpc_channel_new(RPC_DEFAULT_MAX_MESSAGE, rpc_uv_write, on_rpc_error,
                                    s.transport);
  host *h = host_new(cfg, ch, &s.loop);
  host_set_log(h, log_stderr, NULL);
  s.host = h;
  rc = rpc_uv_start(s.transport, ch, on_eof, &s);
  if (rc) {
    fprintf(stderr, "frugal --stdio: cannot read stdin: %s\n", uv_strerror(rc));
    rpc_uv_close(s.transport);
  }
  uv_run(&s.loop, UV_RUN_DEFAULT);
  host_free(h);
  rpc_channel_free(ch);
  rpc_uv_free(s.transport);
  uv_loop_close(&s.loop);
  return rc || s.fatal ? 1 : 0;
}
