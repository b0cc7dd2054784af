/* rpc: a msgpack-RPC endpoint (https://github.com/msgpack-rpc/msgpack-rpc/blob/master/spec.md),
 * both client and server, as Neovim speaks it over a job's stdio.
 *
 * The channel core is transport-free: bytes go in through rpc_channel_feed() (split at any byte,
 * or many messages at once) and come out through the `write` callback given at creation. The
 * uv glue (rpc_uv_*, rpc_uv.c) connects a channel to a pair of libuv streams.
 *
 * Messages:
 *   request      [0, msgid, method, params]   -> a registered method; answered with rpc_respond*
 *   response     [1, msgid, error, result]    -> the callback given to rpc_request
 *   notification [2, method, params]         -> a registered method with msgid RPC_NOTIFY
 *
 * A frame that is not a valid message (wrong shape, method not a string, params not an array)
 * is answered with an error response when it carries a msgid, and reported through `on_error`
 * otherwise. A request for an unknown method gets the error "unknown method: NAME". A message
 * larger than `max_message` bytes is an unrecoverable framing error: the channel reports it and
 * stops reading (the stream cannot be resynchronised); so is a byte that no msgpack value starts
 * with (0xc1) or nesting deeper than 32 containers. Frames are delimited before msgpack-c
 * parses them, so memory follows the bytes received, never the sizes a header claims.
 *
 * Callbacks (handlers, response callbacks, on_error) may call rpc_request/rpc_notify/
 * rpc_respond*, add methods, and even rpc_channel_free(): a free requested during a feed takes
 * effect when the feed unwinds (that feed then returns -1). A write callback may synchronously
 * feed this same channel (a loopback): those bytes are queued and decoded after the message in
 * progress. Errors use Neovim's [kind, message]: "unknown method: NAME" has kind 0, malformed
 * requests kind 1. */
#ifndef FRUGAL_RPC_RPC_H
#define FRUGAL_RPC_RPC_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define RPC_NOTIFY UINT64_MAX /* the msgid a method handler sees for a notification */
#define RPC_DEFAULT_MAX_MESSAGE (64u * 1024u * 1024u)

typedef struct rpc_channel rpc_channel;

/* Writes `len` bytes of encoded messages to the peer. The callee copies what it keeps. */
typedef void (*rpc_write_fn)(void *data, const char *bytes, size_t len);
/* Reports a protocol error that has no request to answer (bad notification, oversized frame,
 * garbage). `fatal` is 1 when the channel has stopped reading. */
typedef void (*rpc_error_fn)(void *data, const char *message, int fatal);

/* A method handler. `params` is the params array, valid only during the call. For a request
 * (msgid != RPC_NOTIFY) the handler must eventually answer exactly once with rpc_respond_*,
 * now or later (keep the msgid). */
typedef void (*rpc_method_fn)(rpc_channel *ch, uint64_t msgid, const msgpack_object *params,
                              void *data);
/* A response to one of our requests. Exactly one of `error` / `result` is meaningful: `error`
 * is NULL on success (msgpack nil counts as no error). Objects are valid only during the call.
 * Called with error "channel closed" (and result NULL) for requests still pending when the
 * channel is freed, and with error "malformed response" when the peer's answer has the wrong
 * shape. Both are str objects; Neovim's own errors are [kind, message] (see rpc_error_text). */
typedef void (*rpc_response_fn)(rpc_channel *ch, const msgpack_object *error,
                                const msgpack_object *result, void *data);
/* Packs a value (params or a result) with `pk`. */
typedef void (*rpc_pack_fn)(msgpack_packer *pk, void *data);

/* `max_message` 0 means RPC_DEFAULT_MAX_MESSAGE; `write` and `on_error` may be NULL (output or
 * reports are then dropped). Never returns NULL (allocation failure aborts). */
rpc_channel *rpc_channel_new(size_t max_message, rpc_write_fn write, rpc_error_fn on_error,
                             void *io_data);
/* Fails every pending request with "channel closed", then frees. NULL is ignored. */
void rpc_channel_free(rpc_channel *ch);

/* Registers `name`; a later registration of the same name replaces the earlier one. */
void rpc_channel_add_method(rpc_channel *ch, const char *name, rpc_method_fn fn, void *data);

/* Feeds received bytes. Returns 0, or -1 once the channel has hit a fatal framing error (every
 * later call returns -1 and ignores its bytes). */
int rpc_channel_feed(rpc_channel *ch, const char *bytes, size_t len);

/* Sends a request; `cb` gets the response. Returns the msgid (from 1, increasing). `params`
 * packs the params array (it must pack exactly one array); NULL sends []. On a channel being
 * freed (a "channel closed" callback asking again) `cb` runs at once with that error and the
 * result is 0. */
uint64_t rpc_request(rpc_channel *ch, const char *method, rpc_pack_fn params, void *pdata,
                     rpc_response_fn cb, void *cbdata);
void rpc_notify(rpc_channel *ch, const char *method, rpc_pack_fn params, void *pdata);
/* Answers request `msgid` with a result packed by `result` (NULL packs nil). Answering
 * RPC_NOTIFY does nothing. */
void rpc_respond(rpc_channel *ch, uint64_t msgid, rpc_pack_fn result, void *rdata);
/* Answers request `msgid` with an error: Neovim's shape, [kind, message] with kind 0
 * (exception) or 1 (validation). */
void rpc_respond_error(rpc_channel *ch, uint64_t msgid, int kind, const char *message);

/* Number of our requests still waiting for a response. */
size_t rpc_channel_pending(const rpc_channel *ch);

/* Packs a NUL-terminated string (str type). */
void rpc_pack_cstr(msgpack_packer *pk, const char *s);
/* Packs len bytes as a str. */
void rpc_pack_str(msgpack_packer *pk, const char *s, size_t len);

/* uv glue: reads from `in`, writes to `out` (both already initialised, e.g. uv_pipe_t on fds 0
 * and 1), feeding `ch`. `on_eof` is called once when `in` reaches EOF or fails, or when a fatal
 * framing error stops the channel. The transport owns nothing: rpc_uv_close() closes both
 * handles; free the channel after their close callbacks have run (loop run to completion). */
typedef struct rpc_uv rpc_uv;
typedef void (*rpc_eof_fn)(void *data);
/* The transport uses the `data` field of both handles until they are closed; `in` may equal
 * `out` (a socket). */
rpc_uv *rpc_uv_new(uv_loop_t *loop, uv_stream_t *in, uv_stream_t *out);
/* The write callback and data to give rpc_channel_new for this transport. Never blocks: what
 * the kernel does not take at once is copied and queued. A write error (EPIPE) ends the
 * session like EOF. After rpc_uv_close() writes are dropped. */
void rpc_uv_write(void *rpc_uv_ptr, const char *bytes, size_t len);
/* The `data` given to rpc_uv_start. The channel passes one io_data (the rpc_uv) to both `write`
 * and `on_error`, so an on_error callback of a uv channel finds its own context with this (or
 * the host gives the channel a write function of its own that forwards to rpc_uv_write). */
void *rpc_uv_data(const rpc_uv *t);
/* Starts reading into `ch`. Returns 0 or a negative libuv error. */
int rpc_uv_start(rpc_uv *t, rpc_channel *ch, rpc_eof_fn on_eof, void *data);
/* Stops reading and closes both handles (once; later calls do nothing). */
void rpc_uv_close(rpc_uv *t);
/* Closes if needed and frees; the memory is released when the last close and write callbacks
 * have run, so this is safe from any callback, on_eof included. */
void rpc_uv_free(rpc_uv *t);

/* Reading params. Neovim sends options as maps with string keys; these helpers find a key and
 * check its type so a handler can answer a precise validation error. Returned pointers point
 * into the object and share its lifetime (usually: the handler call). */
#define RPC_GET_OK 0
#define RPC_GET_MISSING (-1)    /* key absent, or present with value nil */
#define RPC_GET_WRONG_TYPE (-2) /* value (or `map` itself) has another type */

/* The value stored under the str key `key` in `map` (nil values included), or NULL when `map`
 * is NULL, not a map, or has no such key. With duplicate keys the first one wins. */
const msgpack_object *rpc_map_get(const msgpack_object *map, const char *key);
/* Typed getters: store the value and return RPC_GET_OK, or return RPC_GET_MISSING /
 * RPC_GET_WRONG_TYPE and leave the outputs untouched. A str is not NUL-terminated; `*s` points
 * into the object. Integers must fit int64_t (floats are not integers). */
int rpc_map_str(const msgpack_object *map, const char *key, const char **s, size_t *len);
int rpc_map_int(const msgpack_object *map, const char *key, int64_t *out);
int rpc_map_bool(const msgpack_object *map, const char *key, int *out);
/* The same checks on one object (e.g. an element of the params array); NULL or nil is
 * RPC_GET_MISSING. */
int rpc_obj_str(const msgpack_object *o, const char **s, size_t *len);
int rpc_obj_int(const msgpack_object *o, int64_t *out);
int rpc_obj_bool(const msgpack_object *o, int *out);

/* The human-readable text of a response error: the str itself, or the message of Neovim's
 * [kind, message] array. Returns NULL (and *len 0) when there is no such text. The pointer
 * shares the error object's lifetime. */
const char *rpc_error_text(const msgpack_object *error, size_t *len);

#endif
