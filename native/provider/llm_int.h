/* Internals of the llm module (llm.c, llm_wire.c, llm_key.c). Not a public contract. */
#ifndef FRUGAL_PROVIDER_LLM_INT_H
#define FRUGAL_PROVIDER_LLM_INT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "provider/llm.h"
#include "provider/stream.h"

/* ---- llm_wire.c: what goes on the wire and what a whole JSON body says ---- */

/* The stream_api that decodes `p`'s responses. */
stream_api llm__stream_api(provider_id p);

/* The request URL for a tier ({base_url}/responses, .../chat/completions, .../v1/messages).
 * Returns a malloc'd string, or NULL with a message (a base URL that is not http(s), or that
 * holds whitespace or control bytes). */
char *llm__url(const tier_config *t, char *err, size_t errlen);

/* The host of an http(s) URL, without user info or port, into out (at most outlen - 1 bytes,
 * lower case); "" when there is none. */
void llm__url_host(const char *url, char *out, size_t outlen);

/* 1 when `host` (as llm__url_host gives it) is this machine: "localhost", a name under
 * ".localhost" (RFC 6761; curl resolves them to loopback itself), 127.0.0.0/8, [::1] or
 * [::ffff:127.x.y.z]. Anything else, shorthand IPv4 forms ("127.1") included, is remote. */
int llm__is_loopback_host(const char *host);

/* The output limit a request asks for: the request's, else the tier's, else the default. */
long llm__max_output(const llm_request *req);

/* 1 when `base_url` points at OpenAI's own API (api.openai.com), which gets the fields other
 * Chat Completions servers do not understand. */
int llm__is_openai_host(const char *base_url);

/* The whole answer of a non-streamed 2xx JSON body (a server that ignored "stream": true).
 * Strings are malloc'd; text is "" when the body held none. */
typedef struct {
  char *text;
  stream_usage usage;
  char *finish_raw; /* NULL when absent */
  stream_finish finish;
} llm_complete;

/* Parses a complete response of `api`. Returns 0, or -1 when the body is not JSON or not a
 * response of that API (nothing to free then). Free with llm__complete_free(). */
int llm__complete_parse(stream_api api, const char *body, size_t len, llm_complete *out);
void llm__complete_free(llm_complete *c);

/* ---- llm_key.c: a key command, run without blocking the loop ---- */

typedef struct llm_cmd llm_cmd;

/* Called once per run. ok: the command exited with status 0 within the time limit and printed
 * at most max_out bytes; out[0..len) is its stdout (the buffer is wiped after the callback, so
 * copy what you keep). Otherwise `why` says what went wrong ("exited with status 2", "timed out
 * after 10 s", ...) without a byte of the output. The runner frees itself after the callback. */
typedef void (*llm_cmd_done_fn)(llm_cmd *cmd, int ok, const char *out, size_t len, const char *why,
                                void *data);

/* Runs `/bin/sh -c command` in its own process group with stdin and stderr on /dev/null and
 * stdout captured; kills the group after timeout_ms. Returns NULL with a message when the
 * process cannot be started (the callback is then never called). */
llm_cmd *llm__cmd_run(uv_loop_t *loop, const char *command, size_t max_out, uint64_t timeout_ms,
                      llm_cmd_done_fn cb, void *data, char *err, size_t errlen);

/* Kills the command's process group; the callback still follows (not ok, "was stopped"). */
void llm__cmd_kill(llm_cmd *cmd);

/* Overwrites n bytes in a way the compiler may not drop (for keys). */
void llm__wipe(void *p, size_t n);

#endif
