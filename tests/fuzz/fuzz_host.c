/* libFuzzer target for the host's params layer (native/host/params.c and the methods of
 * dispatch.c): every method, with params made from the input, as a request and through
 * frugal_call, on a host with no loop (so no model call starts and disk work runs inline).
 *
 * Input layout: byte 0 picks the method (and bit 7 whether it goes through frugal_call), the
 * rest is decoded as one msgpack object: the params. When it is not valid msgpack, the bytes
 * are sent as a map of well-known keys holding the raw bytes as a string, an integer and an
 * array, so wrong types reach every key. Editor calls the host makes (nvim_buf_get_lines, the
 * buffer size question, _reply) are answered with values taken from the input too.
 *
 * Checked: nothing crashes or leaks (ASan), every request the channel accepts gets exactly one
 * response, and the
 * host never writes a frame msgpack-c cannot read. The ledger goes to a private folder
 * ($XDG_STATE_HOME is set at start), never the user's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "host/host.h"
#include "rpc/rpc.h"
#include "util/buf.h"

static const char *const methods[] = {"preview", "context", "route",   "configure", "cancel",
                                      "again",   "cost",    "outcome", "version",   "run",
                                      "nosuch",  "plan_validate", "plan_load", "plan_save"};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

typedef struct {
  buf_t out;
  int responses;
  int errors;          /* frames the channel refused (nesting, size): those get no answer */
  const uint8_t *data; /* for answering the host's calls into the editor */
  size_t size;
} sink;

static void s_write(void *d, const char *bytes, size_t len)
{
  buf_append(&((sink *)d)->out, bytes, len);
}

static void s_error(void *d, const char *message, int fatal)
{
  ((sink *)d)->errors++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  char dir[] = "/tmp/frugal-fuzz-host-XXXXXX";
  if (!mkdtemp(dir)) {
    abort();
  }
  setenv("XDG_STATE_HOME", dir, 1);
  return 0;
}

static uint64_t be(const uint8_t *p, int n)
{
  uint64_t v = 0;
  for (int i = 0; i < n; i++) {
    v = v << 8 | p[i];
  }
  return v;
}

/* 1 when d[*off..n) starts with a msgpack object whose every declared length fits in the bytes
 * left (msgpack-c allocates a declared array size before reading it: a 4-byte header could ask
 * for gigabytes, which tests the harness, not the host; the host's framer refuses those). */
static int plausible(const uint8_t *d, size_t n, size_t *off, int depth)
{
  if (*off >= n || depth > 32) {
    return 0;
  }
  uint8_t b = d[(*off)++];
  uint64_t len = 0, items = 0;
  int hdr = 0, kv = 1;
  if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
    return 1;
  } else if ((b & 0xe0) == 0xa0) {
    len = b & 0x1f;
  } else if ((b & 0xf0) == 0x90) {
    items = b & 0x0f;
  } else if ((b & 0xf0) == 0x80) {
    items = b & 0x0f;
    kv = 2;
  } else {
    switch (b) {
    case 0xcc: case 0xd0: len = 1; break;
    case 0xcd: case 0xd1: len = 2; break;
    case 0xca: case 0xce: case 0xd2: len = 4; break;
    case 0xcb: case 0xcf: case 0xd3: len = 8; break;
    case 0xd9: case 0xc4: hdr = 1; break;
    case 0xda: case 0xc5: hdr = 2; break;
    case 0xdb: case 0xc6: hdr = 4; break;
    case 0xdc: hdr = 2; items = 1; break;
    case 0xdd: hdr = 4; items = 1; break;
    case 0xde: hdr = 2; items = 1; kv = 2; break;
    case 0xdf: hdr = 4; items = 1; kv = 2; break;
    default: return 0; /* ext types and 0xc1 */
    }
    if (hdr) {
      if (*off + (size_t)hdr > n) {
        return 0;
      }
      uint64_t v = be(d + *off, hdr);
      *off += (size_t)hdr;
      if (items) {
        items = v;
      } else {
        len = v;
      }
    }
  }
  if (len > n - *off) {
    return 0;
  }
  *off += (size_t)len;
  if (items > (n - *off) / (size_t)kv) {
    return 0;
  }
  for (uint64_t i = 0; i < items * (uint64_t)kv; i++) {
    if (!plausible(d, n, off, depth + 1)) {
      return 0;
    }
  }
  return 1;
}

/* Packs the params: the input decoded as msgpack, else a map of the usual keys with wrong and
 * right shapes made from the raw bytes. */
static void pack_params(msgpack_packer *pk, const uint8_t *d, size_t n)
{
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0, check = 0;
  if (n > 0 && plausible(d, n, &check, 0) &&
      msgpack_unpack_next(&u, (const char *)d, n, &off) == MSGPACK_UNPACK_SUCCESS) {
    msgpack_pack_object(pk, u.data);
    msgpack_unpacked_destroy(&u);
    return;
  }
  msgpack_unpacked_destroy(&u);
  static const char *const keys[] = {"action", "line", "text", "path", "files", "bufnr",
                                     "diagnostics", "sel_start", "sel_end", "tier", "id",
                                     "period", "outcome", "config_json", "lines", "plan",
                                     "root"};
  size_t nk = sizeof(keys) / sizeof(keys[0]);
  msgpack_pack_map(pk, nk);
  for (size_t i = 0; i < nk; i++) {
    rpc_pack_cstr(pk, keys[i]);
    uint8_t sel = n ? d[i % n] : 0;
    switch (sel % 4) {
    case 0:
      rpc_pack_str(pk, (const char *)d, n);
      break;
    case 1:
      msgpack_pack_int64(pk, (int64_t)sel - 3);
      break;
    case 2:
      msgpack_pack_array(pk, 1);
      rpc_pack_str(pk, (const char *)d, n);
      break;
    default:
      if (strcmp(keys[i], "action") == 0) {
        rpc_pack_cstr(pk, "explain");
      } else if (strcmp(keys[i], "line") == 0) {
        msgpack_pack_int(pk, 1);
      } else {
        msgpack_pack_nil(pk);
      }
    }
  }
}

/* Answers each request the host sent to the editor since `from` (bytes of s->out). */
static size_t answer_editor(rpc_channel *ch, sink *s, size_t from)
{
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = from;
  int rc;
  while ((rc = msgpack_unpack_next(&u, s->out.data, s->out.len, &off)) == MSGPACK_UNPACK_SUCCESS) {
    msgpack_object o = u.data;
    if (o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size < 1) {
      abort();
    }
    if (o.via.array.ptr[0].via.u64 == 1) {
      s->responses++;
    } else if (o.via.array.ptr[0].via.u64 == 0) {
      /* answer with [lines, bytes] or lines, shaped by the input */
      uint64_t msgid = o.via.array.ptr[1].via.u64;
      msgpack_sbuffer sb;
      msgpack_sbuffer_init(&sb);
      msgpack_packer pk;
      msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
      msgpack_pack_array(&pk, 4);
      msgpack_pack_int(&pk, 1);
      msgpack_pack_uint64(&pk, msgid);
      msgpack_pack_nil(&pk);
      uint8_t sel = s->size ? s->data[msgid % s->size] : 0;
      if (sel % 3 == 0) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, sel);
        msgpack_pack_int(&pk, (int)sel * 40);
      } else if (sel % 3 == 1) {
        msgpack_pack_array(&pk, 2);
        rpc_pack_str(&pk, (const char *)s->data, s->size);
        msgpack_pack_int(&pk, 1);
      } else {
        pack_params(&pk, s->data, s->size);
      }
      size_t before = s->out.len;
      rpc_channel_feed(ch, sb.data, sb.size);
      msgpack_sbuffer_destroy(&sb);
      (void)before;
    }
  }
  if (rc == MSGPACK_UNPACK_PARSE_ERROR) {
    abort(); /* the host wrote something msgpack cannot read */
  }
  msgpack_unpacked_destroy(&u);
  return off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1) {
    return 0;
  }
  sink s = {.out = BUF_INIT, .data = data + 1, .size = size - 1};
  rpc_channel *ch = rpc_channel_new(1 << 20, s_write, s_error, &s);
  frugal_config cfg;
  config_init(&cfg);
  for (int t = 0; t < TIER__COUNT; t++) {
    free(cfg.tiers[t].base_url);
    cfg.tiers[t].base_url = strdup("http://127.0.0.1:9/v1"); /* never a real provider */
  }
  host *h = host_new(&cfg, ch, NULL);
  const char *method = methods[(data[0] & 0x7f) % NMETHODS];
  int via_call = data[0] & 0x80;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  if (via_call) {
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int(&pk, 2);
    rpc_pack_cstr(&pk, "frugal_call");
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int(&pk, 1);
    rpc_pack_cstr(&pk, method);
    pack_params(&pk, data + 1, size - 1);
  } else {
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_int(&pk, 1);
    rpc_pack_cstr(&pk, method);
    msgpack_pack_array(&pk, 1);
    pack_params(&pk, data + 1, size - 1);
  }
  rpc_channel_feed(ch, sb.data, sb.size);
  msgpack_sbuffer_destroy(&sb);
  size_t off = 0;
  for (int round = 0; round < 4; round++) {
    off = answer_editor(ch, &s, off);
  }
  if (!via_call && s.errors == 0 && s.responses != 1) {
    fprintf(stderr, "request answered %d times\n", s.responses);
    abort();
  }
  host_free(h);
  rpc_channel_free(ch);
  buf_free(&s.out);
  return 0;
}
