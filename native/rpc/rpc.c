#include "rpc/rpc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* msgpack-c's unpacker nests at most this many non-empty containers (MSGPACK_EMBED_STACK_SIZE);
 * the framer refuses deeper frames itself so both always agree on what is a valid frame. */
#define RPC_MAX_DEPTH 32
/* Method names quoted back in error messages are cut here: the peer controls their length. */
#define RPC_MAX_QUOTED 200
#define RPC_UNPACKER_INITIAL 8192
/* After a message bigger than this the unpacker is rebuilt: its buffer never shrinks, and one
 * large paste should not stay resident while the host idles. */
#define RPC_UNPACKER_KEEP (1024 * 1024)

/* The framer finds where each message ends before msgpack-c parses any of it.
 *
 * Why not let msgpack_unpacker_next() run on partial input: msgpack-c allocates a container's
 * element storage as soon as it reads the header, from the count the peer claims. Five bytes
 * (dd ff ff ff ff) would ask for ~100 GB, and a few nested claims of a million elements each
 * would really get it. The framer instead walks the bytes with a small stack of element counts
 * and never allocates; the unpacker is only asked to parse a frame once all of its bytes are
 * buffered, so what msgpack-c allocates is bounded by bytes the peer actually sent.
 *
 * Size accounting: every element not yet started needs at least one byte, so after each header
 * `size + skip + owed` is a lower bound on the finished message; once it passes max_message the
 * frame is refused, before its bytes are buffered. */
typedef struct {
  uint64_t left[RPC_MAX_DEPTH]; /* elements not yet started in each open container */
  unsigned depth;
  uint64_t owed;      /* sum of left[]: bytes still owed at the very least */
  uint64_t size;      /* bytes of the current message seen so far */
  uint64_t skip;      /* payload bytes still to pass over (str/bin/ext data, fixed values) */
  bool scalar_open;   /* the element being skipped completes when skip reaches 0 */
  unsigned char lead; /* type byte whose big-endian length field is being read */
  unsigned len_want;  /* length-field bytes still to read (0: expecting a type byte) */
  uint64_t len_acc;
} rpc_framer;

typedef enum { FRAME_MORE, FRAME_DONE, FRAME_ERROR } frame_status;

typedef struct {
  char *name;
  size_t len;
  rpc_method_fn fn;
  void *data;
} rpc_method;

typedef struct {
  uint64_t msgid;
  rpc_response_fn cb;
  void *data;
} rpc_pending;

struct rpc_channel {
  size_t max_message;
  rpc_write_fn write;
  rpc_error_fn on_error;
  void *io_data;

  msgpack_unpacker unpacker;
  msgpack_unpacked unpacked;
  rpc_framer framer;

  rpc_method *methods;
  size_t nmethods;
  rpc_pending *pending; /* sorted by msgid: ids only grow, so appending keeps the order */
  size_t npending, cap_pending;
  uint64_t next_msgid;

  bool dead;           /* fatal framing error: reading has stopped for good */
  bool feeding;        /* inside rpc_channel_feed: nested feeds go to the backlog */
  bool free_requested; /* rpc_channel_free() was called by a callback during a feed */
  bool closing;        /* rpc_channel_free() is failing pending requests */
  buf_t backlog;       /* bytes fed re-entrantly, processed after the current chunk */
};

/* ---- output ---------------------------------------------------------------------------- */

void rpc_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
  msgpack_pack_str(pk, len);
  msgpack_pack_str_body(pk, s, len);
}

void rpc_pack_cstr(msgpack_packer *pk, const char *s)
{
  rpc_pack_str(pk, s, strlen(s));
}

static void send_sbuffer(rpc_channel *ch, msgpack_sbuffer *sb)
{
  if (ch->write && sb->size > 0) {
    ch->write(ch->io_data, sb->data, sb->size);
  }
  msgpack_sbuffer_destroy(sb);
}

void rpc_respond(rpc_channel *ch, uint64_t msgid, rpc_pack_fn result, void *rdata)
{
  if (msgid == RPC_NOTIFY) {
    return; /* a notification handler has nobody to answer */
  }
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 4);
  msgpack_pack_uint64(&pk, 1);
  msgpack_pack_uint64(&pk, msgid);
  msgpack_pack_nil(&pk);
  if (result) {
    result(&pk, rdata);
  } else {
    msgpack_pack_nil(&pk);
  }
  send_sbuffer(ch, &sb);
}

void rpc_respond_error(rpc_channel *ch, uint64_t msgid, int kind, const char *message)
{
  if (msgid == RPC_NOTIFY) {
    return;
  }
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 4);
  msgpack_pack_uint64(&pk, 1);
  msgpack_pack_uint64(&pk, msgid);
  msgpack_pack_array(&pk, 2);
  msgpack_pack_int(&pk, kind);
  rpc_pack_cstr(&pk, message);
  msgpack_pack_nil(&pk);
  send_sbuffer(ch, &sb);
}

void rpc_notify(rpc_channel *ch, const char *method, rpc_pack_fn params, void *pdata)
{
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 3);
  msgpack_pack_uint64(&pk, 2);
  rpc_pack_cstr(&pk, method);
  if (params) {
    params(&pk, pdata);
  } else {
    msgpack_pack_array(&pk, 0);
  }
  send_sbuffer(ch, &sb);
}

static const msgpack_object closed_error = {
    .type = MSGPACK_OBJECT_STR,
    .via.str = {.size = sizeof("channel closed") - 1, .ptr = "channel closed"},
};

uint64_t rpc_request(rpc_channel *ch, const char *method, rpc_pack_fn params, void *pdata,
                     rpc_response_fn cb, void *cbdata)
{
  if (ch->closing) {
    /* Keeps "cb runs exactly once" true for a request made by another request's callback while
     * the channel is being freed. */
    if (cb) {
      cb(ch, &closed_error, NULL, cbdata);
    }
    return 0;
  }
  uint64_t msgid = ch->next_msgid++;
  /* Registered before the write: a synchronous transport may deliver the response from
   * inside write(). */
  if (ch->npending == ch->cap_pending) {
    ch->cap_pending = ch->cap_pending ? ch->cap_pending * 2 : 8;
    ch->pending = xrealloc(ch->pending, ch->cap_pending * sizeof(*ch->pending));
  }
  ch->pending[ch->npending++] = (rpc_pending){msgid, cb, cbdata};

  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 4);
  msgpack_pack_uint64(&pk, 0);
  msgpack_pack_uint64(&pk, msgid);
  rpc_pack_cstr(&pk, method);
  if (params) {
    params(&pk, pdata);
  } else {
    msgpack_pack_array(&pk, 0);
  }
  send_sbuffer(ch, &sb);
  return msgid;
}

/* ---- channel lifetime -------------------------------------------------------------------- */

rpc_channel *rpc_channel_new(size_t max_message, rpc_write_fn write, rpc_error_fn on_error,
                             void *io_data)
{
  rpc_channel *ch = xcalloc(1, sizeof(*ch));
  ch->max_message = max_message ? max_message : RPC_DEFAULT_MAX_MESSAGE;
  ch->write = write;
  ch->on_error = on_error;
  ch->io_data = io_data;
  ch->next_msgid = 1;
  if (!msgpack_unpacker_init(&ch->unpacker, RPC_UNPACKER_INITIAL)) {
    abort(); /* like every other allocation failure (util/buf.h) */
  }
  msgpack_unpacked_init(&ch->unpacked);
  return ch;
}

static void channel_destroy(rpc_channel *ch)
{
  ch->closing = true;
  /* Oldest first; each entry is removed before its callback so a callback that looks at
   * rpc_channel_pending() sees the truth. */
  while (ch->npending > 0) {
    rpc_pending p = ch->pending[0];
    memmove(ch->pending, ch->pending + 1, (ch->npending - 1) * sizeof(*ch->pending));
    ch->npending--;
    if (p.cb) {
      p.cb(ch, &closed_error, NULL, p.data);
    }
  }
  for (size_t i = 0; i < ch->nmethods; i++) {
    free(ch->methods[i].name);
  }
  free(ch->methods);
  free(ch->pending);
  msgpack_unpacked_destroy(&ch->unpacked);
  msgpack_unpacker_destroy(&ch->unpacker);
  buf_free(&ch->backlog);
  free(ch);
}

void rpc_channel_free(rpc_channel *ch)
{
  if (!ch || ch->closing) {
    return; /* a pending request's "channel closed" callback freeing it again */
  }
  if (ch->feeding) {
    /* A callback is running on our stack; the feed loop frees the channel when it unwinds. */
    ch->free_requested = true;
    return;
  }
  channel_destroy(ch);
}

void rpc_channel_add_method(rpc_channel *ch, const char *name, rpc_method_fn fn, void *data)
{
  size_t len = strlen(name);
  for (size_t i = 0; i < ch->nmethods; i++) {
    if (ch->methods[i].len == len && memcmp(ch->methods[i].name, name, len) == 0) {
      ch->methods[i].fn = fn;
      ch->methods[i].data = data;
      return;
    }
  }
  ch->methods = xrealloc(ch->methods, (ch->nmethods + 1) * sizeof(*ch->methods));
  ch->methods[ch->nmethods++] = (rpc_method){xstrndup(name, len), len, fn, data};
}

size_t rpc_channel_pending(const rpc_channel *ch)
{
  return ch->npending;
}

/* ---- errors ------------------------------------------------------------------------------ */

static void report(rpc_channel *ch, int fatal, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(rpc_channel *ch, int fatal, const char *fmt, ...)
{
  if (!ch->on_error) {
    return;
  }
  buf_t b = BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(&b, fmt, ap);
  va_end(ap);
  ch->on_error(ch->io_data, b.data ? b.data : "", fatal);
  buf_free(&b);
}

static void respond_errorf(rpc_channel *ch, uint64_t msgid, int kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void respond_errorf(rpc_channel *ch, uint64_t msgid, int kind, const char *fmt, ...)
{
  buf_t b = BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(&b, fmt, ap);
  va_end(ap);
  rpc_respond_error(ch, msgid, kind, b.data ? b.data : "");
  buf_free(&b);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static int quoted_len(const msgpack_object *s)
{
  return (int)(s->via.str.size < RPC_MAX_QUOTED ? s->via.str.size : RPC_MAX_QUOTED);
}

static const rpc_method *find_method(const rpc_channel *ch, const msgpack_object *name)
{
  for (size_t i = 0; i < ch->nmethods; i++) {
    if (ch->methods[i].len == name->via.str.size &&
        memcmp(ch->methods[i].name, name->via.str.ptr, name->via.str.size) == 0) {
      return &ch->methods[i];
    }
  }
  return NULL;
}

/* Index of msgid in the pending list, or npending. */
static size_t find_pending(const rpc_channel *ch, uint64_t msgid)
{
  size_t lo = 0, hi = ch->npending;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ch->pending[mid].msgid < msgid) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < ch->npending && ch->pending[lo].msgid == msgid ? lo : ch->npending;
}

static bool read_msgid(const msgpack_object *o, uint64_t *msgid)
{
  if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 == RPC_NOTIFY) {
    return false;
  }
  *msgid = o->via.u64;
  return true;
}

static void handle_request(rpc_channel *ch, const msgpack_object *a, uint32_t n)
{
  uint64_t msgid;
  if (n < 2 || !read_msgid(&a[1], &msgid)) {
    report(ch, 0, "rpc: request without a valid msgid");
    return;
  }
  if (n != 4) {
    respond_errorf(ch, msgid, 1, "rpc: a request has 4 elements, got %u", (unsigned)n);
    return;
  }
  if (a[2].type != MSGPACK_OBJECT_STR) {
    rpc_respond_error(ch, msgid, 1, "rpc: request method is not a string");
    return;
  }
  if (a[3].type != MSGPACK_OBJECT_ARRAY) {
    rpc_respond_error(ch, msgid, 1, "rpc: request params are not an array");
    return;
  }
  const rpc_method *m = find_method(ch, &a[2]);
  if (!m) {
    respond_errorf(ch, msgid, 0, "unknown method: %.*s", quoted_len(&a[2]), a[2].via.str.ptr);
    return;
  }
  m->fn(ch, msgid, &a[3], m->data);
}

static void handle_notification(rpc_channel *ch, const msgpack_object *a, uint32_t n)
{
  if (n != 3) {
    report(ch, 0, "rpc: a notification has 3 elements, got %u", (unsigned)n);
    return;
  }
  if (a[1].type != MSGPACK_OBJECT_STR) {
    report(ch, 0, "rpc: notification method is not a string");
    return;
  }
  if (a[2].type != MSGPACK_OBJECT_ARRAY) {
    report(ch, 0, "rpc: notification params are not an array");
    return;
  }
  const rpc_method *m = find_method(ch, &a[1]);
  if (!m) {
    report(ch, 0, "rpc: notification for unknown method: %.*s", quoted_len(&a[1]),
           a[1].via.str.ptr);
    return;
  }
  m->fn(ch, RPC_NOTIFY, &a[2], m->data);
}

static void handle_response(rpc_channel *ch, const msgpack_object *a, uint32_t n)
{
  uint64_t msgid;
  if (n < 2 || !read_msgid(&a[1], &msgid)) {
    report(ch, 0, "rpc: response without a valid msgid");
    return;
  }
  size_t i = find_pending(ch, msgid);
  if (i == ch->npending) {
    report(ch, 0, "rpc: response to unknown msgid %llu", (unsigned long long)msgid);
    return;
  }
  /* Removed before the callback, which may send requests (and so grow the list). */
  rpc_pending p = ch->pending[i];
  memmove(ch->pending + i, ch->pending + i + 1, (ch->npending - i - 1) * sizeof(*ch->pending));
  ch->npending--;
  if (n != 4) {
    /* Our caller would otherwise wait forever for an answer that has arrived, broken. */
    report(ch, 0, "rpc: a response has 4 elements, got %u", (unsigned)n);
    static const msgpack_object malformed = {
        .type = MSGPACK_OBJECT_STR,
        .via.str = {.size = sizeof("malformed response") - 1, .ptr = "malformed response"},
    };
    if (p.cb) {
      p.cb(ch, &malformed, NULL, p.data);
    }
    return;
  }
  if (!p.cb) {
    return;
  }
  if (a[2].type != MSGPACK_OBJECT_NIL) {
    p.cb(ch, &a[2], NULL, p.data);
  } else {
    p.cb(ch, NULL, &a[3], p.data);
  }
}

static void dispatch(rpc_channel *ch, const msgpack_object *msg)
{
  if (msg->type != MSGPACK_OBJECT_ARRAY || msg->via.array.size == 0) {
    report(ch, 0, "rpc: message is not a non-empty array");
    return;
  }
  const msgpack_object *a = msg->via.array.ptr;
  uint32_t n = msg->via.array.size;
  if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
    report(ch, 0, "rpc: message type is not an integer");
    return;
  }
  switch (a[0].via.u64) {
  case 0:
    handle_request(ch, a, n);
    break;
  case 1:
    handle_response(ch, a, n);
    break;
  case 2:
    handle_notification(ch, a, n);
    break;
  default:
    report(ch, 0, "rpc: unknown message type %llu", (unsigned long long)a[0].via.u64);
    break;
  }
}

/* ---- framing ----------------------------------------------------------------------------- */

static void fail(rpc_channel *ch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(rpc_channel *ch, const char *fmt, ...)
{
  ch->dead = true;
  if (!ch->on_error) {
    return;
  }
  buf_t b = BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(&b, fmt, ap);
  va_end(ap);
  ch->on_error(ch->io_data, b.data ? b.data : "", 1);
  buf_free(&b);
}

/* Marks one element complete and closes every container it completes. Returns true when the
 * top-level object (the message) is complete. */
static bool framer_element_done(rpc_framer *f)
{
  while (f->depth > 0) {
    if (f->left[f->depth - 1] > 0) {
      return false;
    }
    f->depth--;
  }
  return true;
}

/* What the type bytes 0xc0..0xdf announce (the others carry their size in the byte itself). */
typedef enum { LEAD_INVALID, LEAD_FIXED, LEAD_SIZED, LEAD_ARRAY, LEAD_MAP } lead_kind;

typedef struct {
  unsigned char kind;
  unsigned char len_bytes; /* big-endian length field after the type byte */
  unsigned char extra;     /* LEAD_FIXED: payload size; LEAD_SIZED: bytes beyond the length
                              (the ext type byte) */
} lead_info;

static const lead_info lead_table[32] = {
    [0x00] = {LEAD_FIXED, 0, 0},  /* nil (0xc1 is never used) */
    [0x02] = {LEAD_FIXED, 0, 0},  /* false */
    [0x03] = {LEAD_FIXED, 0, 0},  /* true */
    [0x04] = {LEAD_SIZED, 1, 0},  /* bin 8 */
    [0x05] = {LEAD_SIZED, 2, 0},  /* bin 16 */
    [0x06] = {LEAD_SIZED, 4, 0},  /* bin 32 */
    [0x07] = {LEAD_SIZED, 1, 1},  /* ext 8: length, type byte, data */
    [0x08] = {LEAD_SIZED, 2, 1},  /* ext 16 */
    [0x09] = {LEAD_SIZED, 4, 1},  /* ext 32 */
    [0x0a] = {LEAD_FIXED, 0, 4},  /* float 32 */
    [0x0b] = {LEAD_FIXED, 0, 8},  /* float 64 */
    [0x0c] = {LEAD_FIXED, 0, 1},  /* uint 8 */
    [0x0d] = {LEAD_FIXED, 0, 2},  /* uint 16 */
    [0x0e] = {LEAD_FIXED, 0, 4},  /* uint 32 */
    [0x0f] = {LEAD_FIXED, 0, 8},  /* uint 64 */
    [0x10] = {LEAD_FIXED, 0, 1},  /* int 8 */
    [0x11] = {LEAD_FIXED, 0, 2},  /* int 16 */
    [0x12] = {LEAD_FIXED, 0, 4},  /* int 32 */
    [0x13] = {LEAD_FIXED, 0, 8},  /* int 64 */
    [0x14] = {LEAD_FIXED, 0, 2},  /* fixext 1: type byte, data */
    [0x15] = {LEAD_FIXED, 0, 3},  /* fixext 2 */
    [0x16] = {LEAD_FIXED, 0, 5},  /* fixext 4 */
    [0x17] = {LEAD_FIXED, 0, 9},  /* fixext 8 */
    [0x18] = {LEAD_FIXED, 0, 17}, /* fixext 16 */
    [0x19] = {LEAD_SIZED, 1, 0},  /* str 8 */
    [0x1a] = {LEAD_SIZED, 2, 0},  /* str 16 */
    [0x1b] = {LEAD_SIZED, 4, 0},  /* str 32 */
    [0x1c] = {LEAD_ARRAY, 2, 0},  /* array 16 */
    [0x1d] = {LEAD_ARRAY, 4, 0},  /* array 32 */
    [0x1e] = {LEAD_MAP, 2, 0},    /* map 16 */
    [0x1f] = {LEAD_MAP, 4, 0},    /* map 32 */
};

/* Starts an element of `kind` whose count or length is `n`. Returns FRAME_DONE when it is
 * already complete, FRAME_MORE when contents follow, FRAME_ERROR when nested too deeply. */
static frame_status framer_begin(rpc_framer *f, lead_kind kind, uint64_t n)
{
  if (kind == LEAD_ARRAY || kind == LEAD_MAP) {
    uint64_t elems = kind == LEAD_MAP ? 2 * n : n;
    /* msgpack-c checks its stack before it looks at the count: an empty container inside
     * RPC_MAX_DEPTH open ones is refused too (as "out of memory") */
    if (f->depth == RPC_MAX_DEPTH) {
      return FRAME_ERROR;
    }
    if (elems == 0) {
      return FRAME_DONE; /* otherwise it takes no stack slot, in msgpack-c either */
    }
    f->left[f->depth++] = elems;
    f->owed += elems;
    return FRAME_MORE;
  }
  f->skip = n;
  if (n == 0) {
    return FRAME_DONE;
  }
  f->scalar_open = true;
  return FRAME_MORE;
}

/* Reads a type byte; FRAME_MORE also covers "length field follows". */
static frame_status framer_lead(rpc_framer *f, unsigned char c)
{
  if (c <= 0x7f || c >= 0xe0) {
    return FRAME_DONE; /* fixints */
  }
  if (c <= 0x8f) {
    return framer_begin(f, LEAD_MAP, c & 0x0f);
  }
  if (c <= 0x9f) {
    return framer_begin(f, LEAD_ARRAY, c & 0x0f);
  }
  if (c <= 0xbf) {
    return framer_begin(f, LEAD_SIZED, c & 0x1f);
  }
  const lead_info *li = &lead_table[c - 0xc0];
  if (li->kind == LEAD_INVALID) {
    return FRAME_ERROR;
  }
  if (li->len_bytes > 0) {
    f->lead = c;
    f->len_want = li->len_bytes;
    f->len_acc = 0;
    return FRAME_MORE;
  }
  return framer_begin(f, (lead_kind)li->kind, li->extra);
}

typedef enum { FRAME_TOO_BIG, FRAME_BAD_BYTE, FRAME_TOO_DEEP } frame_error;

typedef struct {
  frame_status status;
  size_t used;       /* bytes of the input that belong to the current message */
  frame_error error; /* FRAME_ERROR: what was wrong */
} frame_result;

/* Walks `len` bytes of the current message, stopping right after its last byte. */
static frame_result framer_scan(rpc_framer *f, const unsigned char *p, size_t len, uint64_t max)
{
  size_t i = 0;
  while (i < len) {
    if (f->skip > 0) {
      size_t take = f->skip < (uint64_t)(len - i) ? (size_t)f->skip : len - i;
      f->skip -= take;
      f->size += take;
      i += take;
      if (f->skip == 0 && f->scalar_open) {
        f->scalar_open = false;
        if (framer_element_done(f)) {
          return (frame_result){FRAME_DONE, i, FRAME_TOO_BIG};
        }
      }
      continue;
    }
    unsigned char c = p[i++];
    f->size++;
    frame_status st;
    if (f->len_want > 0) {
      f->len_acc = (f->len_acc << 8) | c;
      if (--f->len_want > 0) {
        continue;
      }
      const lead_info *li = &lead_table[f->lead - 0xc0];
      st = framer_begin(f, (lead_kind)li->kind, f->len_acc + li->extra);
      c = f->lead;
    } else {
      if (f->depth > 0) {
        f->left[f->depth - 1]--;
        f->owed--;
      }
      st = framer_lead(f, c);
    }
    if (st == FRAME_ERROR) {
      return (frame_result){FRAME_ERROR, i, c == 0xc1 ? FRAME_BAD_BYTE : FRAME_TOO_DEEP};
    }
    if (f->size + f->skip + f->owed > max) {
      return (frame_result){FRAME_ERROR, i, FRAME_TOO_BIG};
    }
    if (st == FRAME_DONE && framer_element_done(f)) {
      return (frame_result){FRAME_DONE, i, FRAME_TOO_BIG};
    }
  }
  if (f->size + f->skip + f->owed > max) {
    return (frame_result){FRAME_ERROR, i, FRAME_TOO_BIG};
  }
  return (frame_result){FRAME_MORE, i, FRAME_TOO_BIG};
}

/* Appends message bytes to the unpacker's buffer. */
static void unpacker_append(rpc_channel *ch, const char *p, size_t n)
{
  if (n == 0) {
    return;
  }
  if (!msgpack_unpacker_reserve_buffer(&ch->unpacker, n)) {
    abort();
  }
  memcpy(msgpack_unpacker_buffer(&ch->unpacker), p, n);
  msgpack_unpacker_buffer_consumed(&ch->unpacker, n);
}

/* Processes one chunk; stops early on a fatal error or a free requested by a callback. */
static void feed_chunk(rpc_channel *ch, const char *bytes, size_t len)
{
  const unsigned char *p = (const unsigned char *)bytes;
  while (len > 0 && !ch->dead && !ch->free_requested) {
    rpc_framer *f = &ch->framer;
    uint64_t before = f->size;
    frame_result r = framer_scan(f, p, len, ch->max_message);
    if (r.status == FRAME_ERROR) {
      if (r.error == FRAME_BAD_BYTE) {
        fail(ch, "rpc: input is not msgpack (byte 0xc1 at offset %llu of a message)",
             (unsigned long long)(before + r.used - 1));
      } else if (r.error == FRAME_TOO_DEEP) {
        fail(ch, "rpc: message nested deeper than %d levels", RPC_MAX_DEPTH);
      } else {
        fail(ch, "rpc: message larger than %zu bytes", ch->max_message);
      }
      return;
    }
    unpacker_append(ch, (const char *)p, r.used);
    p += r.used;
    len -= r.used;
    if (r.status == FRAME_MORE) {
      return;
    }
    uint64_t size = f->size;
    memset(f, 0, sizeof(*f));
    msgpack_unpack_return ret = msgpack_unpacker_next(&ch->unpacker, &ch->unpacked);
    if (ret == MSGPACK_UNPACK_SUCCESS) {
      dispatch(ch, &ch->unpacked.data);
      /* Freed now, not when the next message arrives: the zone can be as big as the frame. */
      msgpack_unpacked_destroy(&ch->unpacked);
      msgpack_unpacked_init(&ch->unpacked);
      if (size > RPC_UNPACKER_KEEP) {
        /* Nothing past the frame was buffered, so no bytes are lost. */
        msgpack_unpacker_destroy(&ch->unpacker);
        if (!msgpack_unpacker_init(&ch->unpacker, RPC_UNPACKER_INITIAL)) {
          abort();
        }
      }
    } else if (ret == MSGPACK_UNPACK_NOMEM_ERROR) {
      fail(ch, "rpc: out of memory decoding a message");
    } else {
      /* The framer accepted this frame, so msgpack-c should have too. */
      fail(ch, "rpc: msgpack-c rejected a frame (code %d)", (int)ret);
    }
  }
}

int rpc_channel_feed(rpc_channel *ch, const char *bytes, size_t len)
{
  if (ch->dead || ch->free_requested) {
    return -1;
  }
  if (ch->feeding) {
    /* A callback's write reached us again (a synchronous loopback). The rest of the current
     * chunk came first, so these bytes wait their turn. */
    buf_append(&ch->backlog, bytes, len);
    return 0;
  }
  ch->feeding = true;
  feed_chunk(ch, bytes, len);
  while (!ch->dead && !ch->free_requested && ch->backlog.len > 0) {
    buf_t chunk = ch->backlog;
    ch->backlog = (buf_t)BUF_INIT;
    feed_chunk(ch, chunk.data, chunk.len);
    buf_free(&chunk);
  }
  ch->feeding = false;
  if (ch->free_requested) {
    channel_destroy(ch);
    return -1;
  }
  if (ch->dead) {
    buf_free(&ch->backlog);
    return -1;
  }
  return 0;
}

/* ---- reading params ---------------------------------------------------------------------- */

const msgpack_object *rpc_map_get(const msgpack_object *map, const char *key)
{
  if (!map || map->type != MSGPACK_OBJECT_MAP) {
    return NULL;
  }
  size_t klen = strlen(key);
  for (uint32_t i = 0; i < map->via.map.size; i++) {
    const msgpack_object *k = &map->via.map.ptr[i].key;
    if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
        memcmp(k->via.str.ptr, key, klen) == 0) {
      return &map->via.map.ptr[i].val;
    }
  }
  return NULL;
}

int rpc_obj_str(const msgpack_object *o, const char **s, size_t *len)
{
  if (!o || o->type == MSGPACK_OBJECT_NIL) {
    return RPC_GET_MISSING;
  }
  if (o->type != MSGPACK_OBJECT_STR) {
    return RPC_GET_WRONG_TYPE;
  }
  *s = o->via.str.ptr;
  *len = o->via.str.size;
  return RPC_GET_OK;
}

int rpc_obj_int(const msgpack_object *o, int64_t *out)
{
  if (!o || o->type == MSGPACK_OBJECT_NIL) {
    return RPC_GET_MISSING;
  }
  if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
    *out = o->via.i64;
    return RPC_GET_OK;
  }
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
    *out = (int64_t)o->via.u64;
    return RPC_GET_OK;
  }
  return RPC_GET_WRONG_TYPE;
}

int rpc_obj_bool(const msgpack_object *o, int *out)
{
  if (!o || o->type == MSGPACK_OBJECT_NIL) {
    return RPC_GET_MISSING;
  }
  if (o->type != MSGPACK_OBJECT_BOOLEAN) {
    return RPC_GET_WRONG_TYPE;
  }
  *out = o->via.boolean ? 1 : 0;
  return RPC_GET_OK;
}

/* A map that is not a map is a type error, not a missing key: the caller passed the wrong
 * params element, and should say so. */
static int map_lookup(const msgpack_object *map, const char *key, const msgpack_object **val)
{
  if (!map || map->type != MSGPACK_OBJECT_MAP) {
    return RPC_GET_WRONG_TYPE;
  }
  *val = rpc_map_get(map, key);
  return RPC_GET_OK;
}

int rpc_map_str(const msgpack_object *map, const char *key, const char **s, size_t *len)
{
  const msgpack_object *v = NULL;
  int rc = map_lookup(map, key, &v);
  return rc != RPC_GET_OK ? rc : rpc_obj_str(v, s, len);
}

int rpc_map_int(const msgpack_object *map, const char *key, int64_t *out)
{
  const msgpack_object *v = NULL;
  int rc = map_lookup(map, key, &v);
  return rc != RPC_GET_OK ? rc : rpc_obj_int(v, out);
}

int rpc_map_bool(const msgpack_object *map, const char *key, int *out)
{
  const msgpack_object *v = NULL;
  int rc = map_lookup(map, key, &v);
  return rc != RPC_GET_OK ? rc : rpc_obj_bool(v, out);
}

const char *rpc_error_text(const msgpack_object *error, size_t *len)
{
  *len = 0;
  if (!error) {
    return NULL;
  }
  if (error->type == MSGPACK_OBJECT_ARRAY && error->via.array.size == 2) {
    error = &error->via.array.ptr[1];
  }
  if (error->type != MSGPACK_OBJECT_STR) {
    return NULL;
  }
  *len = error->via.str.size;
  return error->via.str.ptr;
}
