/* libFuzzer target for native/rpc: differential framing.
 *
 * Input layout: byte 0 picks max_message, byte 1 (mod 16) is the number N of piece lengths that
 * follow, the next N bytes are those lengths (cycled; 0 feeds an empty chunk, N == 0 feeds one
 * byte at a time), the rest is the byte stream. The stream is fed once whole and once in
 * pieces; everything the channel does (handler calls, reports, responses, bytes written) must be
 * identical, every request callback must run exactly once, and msgpack-c must never reject a
 * frame the framer accepted. Any difference aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc.h"
#include "util/buf.h"

typedef struct {
  rpc_channel *ch;
  buf_t log;
  int requests, callbacks;
  int freed;
  uint64_t later[4];
  int nlater;
} run;

static void f_write(void *data, const char *bytes, size_t len)
{
  run *r = data;
  buf_printf(&r->log, "W%zu:", len);
  buf_append(&r->log, bytes, len);
  buf_putc(&r->log, '\n');
}

static void f_error(void *data, const char *message, int fatal)
{
  run *r = data;
  if (strncmp(message, "rpc: msgpack-c rejected", 23) == 0 ||
      strncmp(message, "rpc: out of memory", 18) == 0) {
    fprintf(stderr, "framer and msgpack-c disagree: %s\n", message);
    abort();
  }
  buf_printf(&r->log, "E%d:%s\n", fatal, message);
}

static void pack_obj(msgpack_packer *pk, void *data)
{
  msgpack_pack_object(pk, *(const msgpack_object *)data);
}

static void on_resp(rpc_channel *ch, const msgpack_object *error, const msgpack_object *result,
                    void *data)
{
  run *r = data;
  r->callbacks++;
  buf_printf(&r->log, "R%d:", error ? 1 : 0);
  /* Re-encoding the object logs its full content; a request from inside a callback exercises
   * the pending list while it is being walked. */
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_object(&pk, error ? *error : *result);
  buf_append(&r->log, sb.data, sb.size);
  buf_putc(&r->log, '\n');
  msgpack_sbuffer_destroy(&sb);
  if (!error && result->type == MSGPACK_OBJECT_POSITIVE_INTEGER && result->via.u64 == 7) {
    r->requests++;
    rpc_request(ch, "again", NULL, NULL, on_resp, r);
  }
}

static void m_echo(rpc_channel *ch, uint64_t msgid, const msgpack_object *params, void *data)
{
  rpc_respond(ch, msgid, pack_obj, (void *)params);
}

static void m_ask(rpc_channel *ch, uint64_t msgid, const msgpack_object *params, void *data)
{
  run *r = data;
  r->requests++;
  rpc_request(ch, "asked", pack_obj, (void *)params, on_resp, r);
  rpc_notify(ch, "told", NULL, NULL);
  rpc_respond_error(ch, msgid, 1, "asked");
}

static void m_later(rpc_channel *ch, uint64_t msgid, const msgpack_object *params, void *data)
{
  run *r = data;
  if (msgid != RPC_NOTIFY && r->nlater < 4) {
    r->later[r->nlater++] = msgid;
  }
}

static void m_quit(rpc_channel *ch, uint64_t msgid, const msgpack_object *params, void *data)
{
  run *r = data;
  r->freed = 1;
  rpc_channel_free(ch);
}

static void m_getters(rpc_channel *ch, uint64_t msgid, const msgpack_object *params, void *data)
{
  run *r = data;
  const msgpack_object *m = params->via.array.size ? &params->via.array.ptr[0] : NULL;
  const char *s = NULL;
  size_t len = 0;
  int64_t n = 0;
  int b = 0;
  int rs = rpc_map_str(m, "s", &s, &len);
  int rn = rpc_map_int(m, "n", &n);
  int rb = rpc_map_bool(m, "b", &b);
  buf_printf(&r->log, "G%d,%d,%d:%lld,%d,", rs, rn, rb, (long long)n, b);
  buf_append(&r->log, s ? s : "", len);
  buf_putc(&r->log, '\n');
  const char *t = rpc_error_text(m, &len);
  buf_append(&r->log, t ? t : "", len);
  buf_putc(&r->log, '\n');
}

static size_t pick_max(uint8_t b)
{
  static const size_t caps[] = {0, 8, 16, 40, 100, 256, 1000, 4096};
  return caps[b % (sizeof(caps) / sizeof(caps[0]))];
}

static void run_start(run *r, size_t max)
{
  memset(r, 0, sizeof(*r));
  r->ch = rpc_channel_new(max, f_write, f_error, r);
  rpc_channel_add_method(r->ch, "echo", m_echo, r);
  rpc_channel_add_method(r->ch, "ask", m_ask, r);
  rpc_channel_add_method(r->ch, "later", m_later, r);
  rpc_channel_add_method(r->ch, "quit", m_quit, r);
  rpc_channel_add_method(r->ch, "get", m_getters, r);
  for (int i = 0; i < 3; i++) {
    r->requests++;
    rpc_request(r->ch, "first", NULL, NULL, on_resp, r);
  }
}

static void run_feed(run *r, const uint8_t *p, size_t len)
{
  if (r->freed) {
    return;
  }
  int rc = rpc_channel_feed(r->ch, (const char *)p, len);
  buf_printf(&r->log, "F%d\n", rc);
}

static void run_finish(run *r)
{
  if (!r->freed) {
    for (int i = 0; i < r->nlater; i++) {
      rpc_respond(r->ch, r->later[i], NULL, NULL);
    }
    rpc_channel_free(r->ch);
  }
  if (r->callbacks != r->requests) {
    fprintf(stderr, "%d requests but %d callbacks\n", r->requests, r->callbacks);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 2) {
    return 0;
  }
  size_t max = pick_max(data[0]);
  size_t nsplit = data[1] % 16;
  if (size < 2 + nsplit) {
    return 0;
  }
  const uint8_t *splits = data + 2;
  const uint8_t *p = data + 2 + nsplit;
  size_t len = size - 2 - nsplit;

  run whole, pieces;
  run_start(&whole, max);
  run_feed(&whole, p, len);

  run_start(&pieces, max);
  size_t off = 0;
  for (size_t k = 0; off < len; k++) {
    size_t n = nsplit ? splits[k % nsplit] : 1;
    if (n > len - off) {
      n = len - off;
    }
    run_feed(&pieces, p + off, n);
    off += n;
    if (n == 0) { /* keep moving even when every length is 0 */
      run_feed(&pieces, p + off, 1);
      off += 1;
    }
  }

  /* Only what the channel did counts, not how often it was fed: drop the F lines. */
  buf_t a = BUF_INIT, b = BUF_INIT;
  run *runs[2] = {&whole, &pieces};
  buf_t *outs[2] = {&a, &b};
  for (int i = 0; i < 2; i++) {
    const char *s = runs[i]->log.data ? runs[i]->log.data : "";
    const char *end = s + runs[i]->log.len;
    while (s < end) {
      const char *nl = memchr(s, '\n', (size_t)(end - s));
      size_t l = nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);
      if (!(s[0] == 'F' && (s[1] == '0' || s[1] == '-'))) {
        buf_append(outs[i], s, l);
      }
      s += l;
    }
  }
  if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) {
    fprintf(stderr, "whole and split feeds differ\n");
    abort();
  }
  run_finish(&whole);
  run_finish(&pieces);
  buf_free(&whole.log);
  buf_free(&pieces.log);
  buf_free(&a);
  buf_free(&b);
  return 0;
}
