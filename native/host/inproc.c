/* inproc: the host inside the editor's own process (`backend = "inprocess"`).
 *
 * The plugin loads libfrugal.so through LuaJIT's FFI and calls frugal_inprocess_start() with the
 * editor's RPC server address (v:servername). The library then runs a libuv loop of its own on a
 * thread of its own, connects to that address as a msgpack-RPC client and serves the same
 * methods as `frugal --stdio`, through the same host (dispatch.c, params.c, events.c): only the
 * transport differs (a socket instead of stdin/stdout). Nothing here touches Lua state or calls
 * the editor's C functions; everything crosses on the socket, where the editor's main loop
 * handles it like any other RPC client. Once connected the host tells the plugin its channel id
 * (nvim_get_api_info, then `_attach(token, channel)` through nvim_exec_lua), and the plugin
 * sends its `frugal_call` notifications there.
 *
 * Threads: start() and stop() run on the editor's main thread; everything else on the loop
 * thread. They share only the struct below: `stop_async` (uv_async_send is the one libuv call
 * that is safe from another thread) and the connect result, handed over once through `ready`
 * before start() returns. */
#include "host/host_int.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal.h"

struct frugal_inprocess {
  uv_loop_t loop;
  uv_thread_t thread;
  uv_async_t stop_async;
  uv_sem_t ready;
  union {
    uv_pipe_t pipe;
    uv_tcp_t tcp;
  } sock;
  uv_connect_t connect;
  char *address;
  int64_t token;
  int connect_rc; /* the connect's status, read by start() after `ready` */
  int stopping;   /* loop thread: stop requested or the editor hung up */
  rpc_uv *transport;
  rpc_channel *ch;
  host *host;
};

typedef struct frugal_inprocess inproc;

/* ---- what the host cannot answer goes to the plugin's log (`_log`) ------------------------ */

static void pack_log(msgpack_packer *pk, void *data)
{
  msgpack_pack_array(pk, 2);
  rpc_pack_cstr(pk, "require('frugal.host')._log(...)");
  msgpack_pack_array(pk, 1);
  rpc_pack_cstr(pk, data);
}

/* The in-process edge has no stderr of its own to write to: the line goes to the editor, which
 * keeps it with the host's last words (`:checkhealth frugal`, crash reports). */
static void log_editor(void *data, const char *line)
{
  inproc *p = data;
  if (p->ch && !p->stopping) {
    rpc_notify(p->ch, "nvim_exec_lua", pack_log, (void *)line);
  }
}

static void on_rpc_error(void *data, const char *message, int fatal)
{
  inproc *p = rpc_uv_data(data);
  if (p) {
    log_editor(p, message);
  }
}

/* ---- ending --------------------------------------------------------------------------------- */

/* Stops the host (runs in flight are cancelled and recorded as such) and closes the socket and
 * the wake-up handle, so the loop ends once the last callback has run. */
static void inproc_close(inproc *p)
{
  if (p->stopping) {
    return;
  }
  p->stopping = 1;
  if (p->host) {
    host_shutdown(p->host);
  }
  if (p->transport) {
    rpc_uv_close(p->transport);
  } else if (!uv_is_closing((uv_handle_t *)&p->sock)) {
    uv_close((uv_handle_t *)&p->sock, NULL);
  }
  uv_close((uv_handle_t *)&p->stop_async, NULL);
}

static void on_stop(uv_async_t *a)
{
  inproc_close(a->data);
}

static void on_eof(void *data)
{
  inproc_close(data);
}

/* ---- connecting ----------------------------------------------------------------------------- */

static void pack_attach(msgpack_packer *pk, void *data)
{
  const int64_t *args = data;
  msgpack_pack_array(pk, 2);
  rpc_pack_cstr(pk, "return require('frugal.host')._attach(...)");
  msgpack_pack_array(pk, 2);
  msgpack_pack_int64(pk, args[0]);
  msgpack_pack_int64(pk, args[1]);
}

static void on_attached(rpc_channel *ch, const msgpack_object *error,
                        const msgpack_object *result, void *data)
{
  inproc *p = data;
  if (error && !p->stopping) {
    size_t n = 0;
    const char *msg = rpc_error_text(error, &n);
    char line[300];
    snprintf(line, sizeof(line), "the editor refused the in-process host: %.*s", (int)n,
             msg ? msg : "?");
    log_editor(p, line);
    inproc_close(p);
  }
}

/* nvim_get_api_info answers [channel_id, metadata]: the id the plugin sends its calls to. */
static void on_api_info(rpc_channel *ch, const msgpack_object *error,
                        const msgpack_object *result, void *data)
{
  inproc *p = data;
  int64_t chan = 0;
  if (error || !result || result->type != MSGPACK_OBJECT_ARRAY || result->via.array.size < 1 ||
      rpc_obj_int(&result->via.array.ptr[0], &chan) != RPC_GET_OK || chan <= 0) {
    if (!p->stopping) {
      inproc_close(p);
    }
    return;
  }
  if (p->stopping) {
    return;
  }
  int64_t args[2] = {p->token, chan};
  rpc_request(p->ch, "nvim_exec_lua", pack_attach, args, on_attached, p);
}

static void on_connect(uv_connect_t *req, int status)
{
  inproc *p = req->data;
  p->connect_rc = status;
  if (status == 0) {
    uv_stream_t *s = (uv_stream_t *)&p->sock;
    p->transport = rpc_uv_new(&p->loop, s, s);
    p->ch = rpc_channel_new(RPC_DEFAULT_MAX_MESSAGE, rpc_uv_write, on_rpc_error, p->transport);
    frugal_config cfg;
    config_init(&cfg); /* the plugin sends `configure` as its first call */
    p->host = host_new(&cfg, p->ch, &p->loop);
    host_set_log(p->host, log_editor, p);
    status = rpc_uv_start(p->transport, p->ch, on_eof, p);
    if (status == 0) {
      rpc_request(p->ch, "nvim_get_api_info", NULL, NULL, on_api_info, p);
    } else {
      p->connect_rc = status;
      inproc_close(p);
    }
  } else {
    inproc_close(p);
  }
  uv_sem_post(&p->ready);
}

/* "HOST:PORT" (nvim --listen 127.0.0.1:6666) is TCP; anything else is a Unix socket path. */
static int parse_tcp(const char *address, struct sockaddr_storage *sa)
{
  const char *colon = strrchr(address, ':');
  if (!colon || strchr(address, '/') || colon == address || !colon[1]) {
    return -1;
  }
  char hostname[256];
  size_t n = (size_t)(colon - address);
  if (n >= sizeof(hostname)) {
    return -1;
  }
  memcpy(hostname, address, n);
  hostname[n] = '\0';
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port <= 0 || port > 65535) {
    return -1;
  }
  if (uv_ip4_addr(hostname, (int)port, (struct sockaddr_in *)sa) == 0) {
    return 0;
  }
  return uv_ip6_addr(hostname, (int)port, (struct sockaddr_in6 *)sa) == 0 ? 0 : -1;
}

/* The editor's signals (SIGCHLD of its jobs, SIGWINCH, SIGINT, ...) are its own: this thread
 * blocks them, so they go to the editor's threads. A SIGPIPE raised by a write of this thread
 * to a closed socket stays pending on it and the write gets EPIPE. Faults are left unblocked: a
 * blocked SIGSEGV would kill the process without the sanitizers' report. */
static void block_signals(void)
{
  sigset_t set;
  sigfillset(&set);
  const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS};
  for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
    sigdelset(&set, faults[i]);
  }
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void loop_thread(void *arg)
{
  inproc *p = arg;
  block_signals();
  p->connect.data = p;
  struct sockaddr_storage sa;
  if (parse_tcp(p->address, &sa) == 0) {
    uv_tcp_init(&p->loop, &p->sock.tcp);
    int rc = uv_tcp_connect(&p->connect, &p->sock.tcp, (struct sockaddr *)&sa, on_connect);
    if (rc) {
      p->connect_rc = rc;
      inproc_close(p);
      uv_sem_post(&p->ready);
    }
  } else {
    uv_pipe_init(&p->loop, &p->sock.pipe, 0);
    uv_pipe_connect(&p->connect, &p->sock.pipe, p->address, on_connect);
  }
  uv_run(&p->loop, UV_RUN_DEFAULT);
  /* The loop ran dry: the socket and the wake-up handle are closed, and the host's callbacks
   * have run (the cancelled runs' ledger lines are written). */
  if (p->host) {
    host_free(p->host);
  }
  rpc_channel_free(p->ch);
  rpc_uv_free(p->transport);
  uv_run(&p->loop, UV_RUN_DEFAULT);
}

frugal_inprocess *frugal_inprocess_start(const char *address, long long token, char *err,
                                         size_t errlen)
{
  if (!address || !*address) {
    snprintf(err, errlen, "no server address (v:servername is empty)");
    return NULL;
  }
  if (strlen(address) >= 4096) {
    snprintf(err, errlen, "server address too long");
    return NULL;
  }
  inproc *p = xcalloc(1, sizeof(*p));
  p->address = xstrdup(address);
  p->token = token;
  int rc = uv_loop_init(&p->loop);
  if (rc) {
    snprintf(err, errlen, "cannot make an event loop: %s", uv_strerror(rc));
    free(p->address);
    free(p);
    return NULL;
  }
  uv_async_init(&p->loop, &p->stop_async, on_stop);
  p->stop_async.data = p;
  uv_sem_init(&p->ready, 0);
  rc = uv_thread_create(&p->thread, loop_thread, p);
  if (rc) {
    snprintf(err, errlen, "cannot start the host's thread: %s", uv_strerror(rc));
    uv_close((uv_handle_t *)&p->stop_async, NULL);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    uv_loop_close(&p->loop);
    uv_sem_destroy(&p->ready);
    free(p->address);
    free(p);
    return NULL;
  }
  /* A connect to the editor's own socket completes in the kernel (the listen backlog), without
   * the editor's main loop, which is waiting here: this wait is bounded. */
  uv_sem_wait(&p->ready);
  if (p->connect_rc) {
    snprintf(err, errlen, "cannot connect to %s: %s", address, uv_strerror(p->connect_rc));
    frugal_inprocess_stop(p);
    return NULL;
  }
  return p;
}

void frugal_inprocess_stop(frugal_inprocess *p)
{
  if (!p) {
    return;
  }
  /* Sent even when the loop thread has already closed the handle itself (the editor hung up):
   * its memory and the loop's wake-up descriptor stay valid until uv_loop_close() below, so the
   * send is then a no-op, and reading the handle's state from this thread would be a race. */
  uv_async_send(&p->stop_async);
  uv_thread_join(&p->thread);
  uv_loop_close(&p->loop);
  uv_sem_destroy(&p->ready);
  free(p->address);
  free(p);
}

/* ---- symbol isolation ----------------------------------------------------------------------- */

typedef struct {
  const void *addr;
  int in_main;
} main_probe;

/* dl_iterate_phdr lists the main program first. */
static int probe_main(struct dl_phdr_info *info, size_t size, void *data)
{
  main_probe *m = data;
  uintptr_t a = (uintptr_t)m->addr;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && a >= lo && a < lo + ph->p_memsz) {
      m->in_main = 1;
    }
  }
  return 1; /* only the first entry */
}

int frugal_inprocess_isolation(char *out, size_t outlen)
{
  /* Functions of each library the host uses, as the library's own references resolved them
   * (none of msgpack-c's packing functions: they are inline, always the library's own). */
  const struct {
    const char *name;
    const void *fn;
  } probes[] = {
    {"uv_run", (const void *)uv_run},
    {"uv_queue_work", (const void *)uv_queue_work},
    {"msgpack_unpack_next", (const void *)msgpack_unpack_next},
    {"msgpack_unpacker_init", (const void *)msgpack_unpacker_init},
    {"json_loads", (const void *)json_loads},
    {"json_dumps", (const void *)json_dumps},
  };
  Dl_info self;
  if (!dladdr((const void *)frugal_inprocess_isolation, &self) || !self.dli_fname) {
    snprintf(out, outlen, "cannot find the library's own file");
    return -1;
  }
  int isolated = 1;
  size_t used = 0;
  if (outlen > 0) {
    out[0] = '\0';
  }
  for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
    main_probe m = {probes[i].fn, 0};
    dl_iterate_phdr(probe_main, &m);
    Dl_info where;
    const char *file = dladdr(probes[i].fn, &where) && where.dli_fname ? where.dli_fname : "?";
    int own = where.dli_fbase == self.dli_fbase; /* a static copy inside the library */
    if (own) {
      file = "libfrugal";
    } else if (m.in_main) {
      isolated = 0;
    }
    if (used + 1 < outlen) {
      int n = snprintf(out + used, outlen - used, "%s%s -> %s%s", i ? ", " : "", probes[i].name,
                       m.in_main && !own ? "the program " : "", file);
      used = n > 0 ? used + (size_t)n : used;
    }
  }
  return isolated;
}
