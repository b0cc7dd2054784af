/* llm key commands: `/bin/sh -c api_key_cmd` run on the loop, its stdout captured in a fixed
 * buffer that is wiped as soon as the caller has taken the key. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, strptime, timegm, explicit_bzero */
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/llm_int.h"
#include "util/buf.h"

struct llm_cmd {
  uv_process_t proc;
  uv_pipe_t out;
  uv_timer_t timer;
  llm_cmd_done_fn cb;
  void *data;
  char *buf;
  size_t len, max_out;
  uint64_t timeout_ms;
  int open; /* handles not yet closed */
  int exited, pipe_closed, reported;
  int timed_out, overflow, stopped;
  int64_t exit_status;
  int term_signal;
};

void llm__wipe(void *p, size_t n)
{
  if (p && n) {
    explicit_bzero(p, n);
  }
}

static void cmd_closed(uv_handle_t *h)
{
  llm_cmd *c = h->data;
  if (--c->open > 0) {
    return;
  }
  llm__wipe(c->buf, c->max_out + 1);
  free(c->buf);
  free(c);
}

static void close_pipe(llm_cmd *c)
{
  if (!c->pipe_closed) {
    c->pipe_closed = 1;
    uv_close((uv_handle_t *)&c->out, cmd_closed);
  }
}

/* The command runs in its own process group (UV_PROCESS_DETACHED makes it a session leader),
 * so this also reaches whatever it started: `sh -c 'a | b'` forks, and killing sh alone would
 * leave the pipe's writers alive. */
static void kill_group(llm_cmd *c)
{
  if (!c->exited || !c->pipe_closed) {
    uv_kill(-c->proc.pid, SIGKILL);
  }
}

static void maybe_report(llm_cmd *c)
{
  if (c->reported || !c->exited || !c->pipe_closed) {
    return;
  }
  c->reported = 1;
  uv_timer_stop(&c->timer);
  char why[96] = "";
  int ok = 0;
  if (c->stopped) {
    snprintf(why, sizeof(why), "was stopped");
  } else if (c->timed_out) {
    snprintf(why, sizeof(why), "timed out after %llu ms", (unsigned long long)c->timeout_ms);
  } else if (c->overflow) {
    snprintf(why, sizeof(why), "printed more than %zu bytes", c->max_out);
  } else if (c->term_signal) {
    snprintf(why, sizeof(why), "was killed by signal %d", c->term_signal);
  } else if (c->exit_status != 0) {
    snprintf(why, sizeof(why), "exited with status %lld", (long long)c->exit_status);
  } else {
    ok = 1;
  }
  c->buf[c->len] = '\0';
  c->cb(c, ok, c->buf, ok ? c->len : 0, why, c->data);
  llm__wipe(c->buf, c->max_out + 1);
  c->len = 0;
  uv_close((uv_handle_t *)&c->proc, cmd_closed);
  uv_close((uv_handle_t *)&c->timer, cmd_closed);
}

static void on_exit_cb(uv_process_t *p, int64_t exit_status, int term_signal)
{
  llm_cmd *c = p->data;
  c->exited = 1;
  c->exit_status = exit_status;
  c->term_signal = term_signal;
  maybe_report(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
  (void)suggested;
  llm_cmd *c = h->data;
  /* One byte more than allowed is room to notice an overlong output. */
  b->base = c->buf + c->len;
  b->len = c->max_out + 1 - c->len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  (void)b;
  llm_cmd *c = s->data;
  if (n > 0) {
    c->len += (size_t)n;
    if (c->len > c->max_out) {
      c->overflow = 1;
      kill_group(c);
      close_pipe(c);
    }
  } else if (n < 0) {
    close_pipe(c); /* EOF, or a read error that leaves nothing more to read */
  }
  maybe_report(c);
}

static void on_timeout(uv_timer_t *t)
{
  llm_cmd *c = t->data;
  c->timed_out = 1;
  kill_group(c);
  /* A grandchild that escaped the group could keep the pipe open forever: stop reading. */
  close_pipe(c);
  maybe_report(c);
}

llm_cmd *llm__cmd_run(uv_loop_t *loop, const char *command, size_t max_out, uint64_t timeout_ms,
                      llm_cmd_done_fn cb, void *data, char *err, size_t errlen)
{
  llm_cmd *c = xcalloc(1, sizeof(*c));
  c->cb = cb;
  c->data = data;
  c->max_out = max_out;
  c->timeout_ms = timeout_ms;
  c->buf = xmalloc(max_out + 1);
  uv_pipe_init(loop, &c->out, 0);
  uv_timer_init(loop, &c->timer);
  c->out.data = c->timer.data = c->proc.data = c;
  c->open = 3;

  char *args[] = {"/bin/sh", "-c", (char *)command, NULL};
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&c->out;
  stdio[2].flags = UV_IGNORE; /* stderr may echo the secret in a message: never read it */
  uv_process_options_t o;
  memset(&o, 0, sizeof(o));
  o.exit_cb = on_exit_cb;
  o.file = args[0];
  o.args = args;
  o.stdio = stdio;
  o.stdio_count = 3;
  o.flags = UV_PROCESS_DETACHED;
  int rc = uv_spawn(loop, &c->proc, &o);
  if (rc != 0) {
    snprintf(err, errlen, "cannot run api_key_cmd: %s", uv_strerror(rc));
    c->exited = c->reported = 1;
    uv_close((uv_handle_t *)&c->proc, cmd_closed);
    close_pipe(c);
    uv_close((uv_handle_t *)&c->timer, cmd_closed);
    return NULL;
  }
  uv_read_start((uv_stream_t *)&c->out, on_alloc, on_read);
  uv_update_time(loop); /* the limit counts from now, not from the start of the loop turn */
  uv_timer_start(&c->timer, on_timeout, timeout_ms, 0);
  return c;
}

void llm__cmd_kill(llm_cmd *c)
{
  if (c->reported) {
    return;
  }
  c->stopped = 1;
  kill_group(c);
  close_pipe(c);
  maybe_report(c);
}
