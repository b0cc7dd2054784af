/* host: the RPC host the editor talks to: a msgpack-RPC endpoint on its own libuv loop, on
 * stdin/stdout (`frugal --stdio`, host_run_stdio) or, loaded into the editor, on a socket to the
 * editor's RPC server (frugal_inprocess_start in include/frugal.h, inproc.c). Both serve the
 * same methods through host_new() on an rpc_channel; only the transport differs.
 *
 * Methods (requests, answered with a result or an error):
 *   version   {}                      -> {version, libuv, msgpack, curl, jansson}
 *   configure {config_json = STRING}  -> {ok = true}; errors name the bad key
 *   preview / context / route  {see doc/frugal.txt, |frugal-rpc|} -> the action's figures
 *   cancel    {id}                    -> {cancelled}: stops the run started by frugal_call `id`
 * `run` (frugal_call only) packages, routes, prompts and calls the model, streaming the answer to
 * the editor in batches through nvim_exec_lua("...require('frugal.host')._event(...)",
 * [id, event]) and ending with _reply (see action/run.h for the result).
 * and one notification, `frugal_call` [id, method, params], for editors that must never block:
 * the host runs the method and answers by calling the editor's
 *   nvim_exec_lua("return require('frugal.host')._reply(...)", [id, error|nil, result|nil]).
 * When params carry `bufnr` and no `lines`, the host reads the buffer with nvim_buf_get_lines. */
#ifndef FRUGAL_HOST_HOST_H
#define FRUGAL_HOST_HOST_H

#include <jansson.h>

#include "config/config.h"
#include "rpc/rpc.h"

typedef struct host host;

/* Registers the host's methods on `ch` (which must outlive the host). Takes ownership of `cfg`.
 * `loop` runs model calls and stream batching; NULL makes `run` answer with an error (tests of
 * the other methods). Free with host_free() before freeing the channel. */
host *host_new(frugal_config *cfg, rpc_channel *ch, uv_loop_t *loop);
/* Where the host reports what it cannot answer to anyone (a malformed notification, the editor
 * rejecting a stream event): one line, without a trailing newline, valid during the call. The
 * library never prints; without a log these lines are dropped. */
typedef void (*host_log_fn)(void *data, const char *line);
void host_set_log(host *h, host_log_fn log, void *data);

/* Stops work in flight (model calls are cancelled, nothing more is sent to the editor) while the
 * loop still runs, so its handles can close; host_free() does it too if not done. */
void host_shutdown(host *h);
/* Shuts the host down if not done, and frees it once no callback refers to it any more (at once,
 * or when the loop or rpc_channel_free() runs the last of them); call it once, before
 * rpc_channel_free(). */
void host_free(host *h);

/* Serves RPC on fds 0 and 1 until stdin closes. Takes ownership of `cfg` (it is freed on
 * return). Returns the process exit status: 0 after a clean EOF, 1 if the streams could not be
 * set up or the peer broke the protocol beyond recovery. */
int host_run_stdio(frugal_config *cfg);

#endif
