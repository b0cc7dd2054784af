/* host_int: what the host's files share (private to native/host; nothing else includes it).
 *
 * The host is split by job:
 *   params.c    msgpack params -> typed requests (service/plan.h), JSON results -> msgpack
 *   dispatch.c  the methods: reads params, runs a use case (off the loop when it touches the
 *               disk), answers; the host's life (new, shutdown, free)
 *   events.c    runs: a model's answer streamed to the editor in batches, again, cancel
 *   stdio.c     `frugal --stdio`: the loop, the pipes, the end of input
 *   inproc.c    the in-process backend (frugal_inprocess_*): the loop on a thread of its own,
 *               a socket to the editor's RPC server, stop from the editor's thread
 *
 * Life: every callback that may still run refers to the host through `live_ops`. host_free()
 * only marks the host as freed; the memory goes in host_release() once the host is both freed
 * and without live operations, whichever comes last (a stream closing inside the loop after
 * stdin ended, or rpc_channel_free() failing the editor calls still pending). */
#ifndef FRUGAL_HOST_HOST_INT_H
#define FRUGAL_HOST_HOST_INT_H

#include <jansson.h>
#include <stdint.h>

#include "host/host.h"
#include "service/plan_steps.h"
#include "service/service.h"
#include "util/buf.h"

/* Most diagnostics a request may carry; more is a client bug, not a use case. */
#define HOST_MAX_DIAGS 10000
#define HOST_MAX_FILES 1000
/* Largest buffer the host asks the editor for: the reply must fit in one RPC frame
 * (RPC_DEFAULT_MAX_MESSAGE, 64 MiB) with room for msgpack's per-line headers; a larger buffer
 * is refused with its size named rather than read. */
#define HOST_MAX_BUFFER_BYTES (48u * 1024 * 1024)

typedef struct host_stream host_stream;

/* Conversations kept for `again`, by the id of the run that last answered in them. The oldest
 * goes when the table is full: each holds a copy of its file. */
#define HOST_CONVERSATIONS 16
typedef struct {
  int64_t id;
  uint64_t seq; /* age: higher is newer */
  action_conv *conv;
} host_conv;

/* The configuration, shared by reference with work running off the loop: `configure` swaps in
 * a new one while a preview still reads the old. */
typedef struct {
  int refs;
  frugal_config cfg;
} host_cfg;

struct host {
  host_cfg *cfg;
  rpc_channel *ch;
  uv_loop_t *loop;      /* NULL: no model calls, and disk work runs inline (unit tests) */
  llm_client *llm;      /* made on the first run, so libcurl loads only when needed */
  host_stream *streams; /* runs in flight */
  host_conv convs[HOST_CONVERSATIONS];
  plan_mapshare *mapshare; /* the repo map cache of every plan, for the host's life */
  uint64_t conv_seq;
  int closing;          /* shut down: nothing more is sent, new work is refused */
  int freed;            /* host_free() was called: memory goes when live_ops reaches 0 */
  size_t live_ops;      /* callbacks that still refer to the host */
  host_log_fn log;
  void *log_data;
};

/* One method call in flight. Owns copies of everything it read from params, because params die
 * with the handler call and the buffer read and the disk work complete later. */
typedef struct {
  host *h;
  host_cfg *cfg;   /* referenced: the configuration the call started with */
  uint64_t msgid;  /* the request to answer, or RPC_NOTIFY when answering a frugal_call */
  int64_t call_id; /* the frugal_call id */
  int parts;
  char *path;
  char *language;
  char *action;
  action_request req;
  pkg_diag *diags;
  size_t ndiags;
  int64_t bufnr;
  buf_t text;
  int have_text;
  int is_run;          /* `run` rather than preview/context/route */
  int budget_override; /* run: budget_override = true */
  char *instruction;   /* run: the user's instruction, or NULL */
  char **files;        /* other files in scope */
  size_t nfiles;
  char **file_texts;   /* per file: the editor's text (owned), or NULL to read the disk */
  size_t *file_lens;
  unsigned char *file_from_set; /* per file: 1 when it came from a set, not named */
  /* run with a `plan` param: step plan_n of the editor's plan text (plan_params.c) */
  int plan_n;
  char *plan_text;
  char *plan_goal;
  char *plan_task_id;
  char *plan_root;      /* the plan's project (absolute); NULL: the host's directory */
  char *plan_path;      /* the step's file joined to plan_root (owned), or NULL */
  plan_steps plan_steps;
  buf_t plan_instr;
  /* off the loop */
  uv_work_t work;
  int rc;              /* of the work */
  json_t *result;      /* preview: the answer */
  action_conv *conv;   /* run: the prepared conversation */
  char err[512];
} host_op;

/* dispatch.c */
void host_answer(host *h, uint64_t msgid, int64_t call_id, const char *err, const json_t *result);
void host_release(host *h);
void host_logf(host *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void host_cfg_unref(host_cfg *c);

/* params.c */
void host_pack_json(msgpack_packer *pk, const json_t *j);
int host_param_str(const msgpack_object *params, const char *key, char **out, char *err,
                   size_t errlen);
int host_param_int(const msgpack_object *params, const char *key, int64_t lo, int64_t hi,
                   int64_t def, int64_t *out, char *err, size_t errlen);
/* Fills op (req, text, diagnostics, files) from the params map of preview/context/route/run.
 * Returns 0, or -1 with a message naming the key. */
int host_params_action(host_op *op, const msgpack_object *p, char *err, size_t errlen);
/* Appends lines (an array of strings) to `out`, each with its newline. */
int host_params_lines(buf_t *out, const msgpack_object *arr, char *err, size_t errlen);
void host_op_free(host_op *op);

/* plan_params.c */
/* Reads the `plan` param of `run` ({text, n, goal, task_id}) into op. Returns 0, or -1 with a
 * message naming the key. */
int host_params_plan(host_op *op, const msgpack_object *plan, char *err, size_t errlen);
/* Worker thread: turns op->req into step plan_n's request (plan_exec.h) over op->text, the
 * step's paths checked against the current directory. Returns 0, or -1 with op->err set. */
int host_plan_step_prepare(host_op *op);
/* plan_validate {text, root?}: the plan buffer checked (plan_exec.h), off the loop. */
void host_call_plan_validate(host *h, uint64_t msgid, int64_t call_id,
                             const msgpack_object *params);
/* plan_load {root?} / plan_save {root?, plan} (save = 1): the project's stored plan
 * (plan_store.h), off the loop. */
void host_call_plan_store(host *h, uint64_t msgid, int64_t call_id, const msgpack_object *params,
                          int save);
void host_plan_free(host_op *op);

/* events.c */
/* Starts the run of a prepared op (op->conv) and frees the op. */
void host_start_run(host_op *op);
void host_call_again(host *h, uint64_t msgid, int64_t call_id, const msgpack_object *params);
void host_call_cancel(host *h, uint64_t msgid, int64_t call_id, const msgpack_object *params);
/* Drops the kept conversations (the host is going). */
void host_convs_free(host *h);

#endif
