/* http: an HTTP client on the library's libuv loop (libcurl's multi interface, opened lazily
 * through curl_api).
 *
 * One client owns one CURLM for its whole life, so connections (and HTTP/2 multiplexing when a
 * TLS server offers it) are reused across requests to the same host. curl's sockets are watched
 * with one uv_poll_t each and its timeouts with one uv_timer_t; the loop is never blocked and
 * the client starts no thread of its own (libcurl's threaded resolver may run getaddrinfo on
 * its own thread for host names; IP literals need none).
 *
 * Callbacks run on the loop thread, from the loop. For each request, in this order:
 *   on_response  at most once, when the final (non-1xx) response head has arrived, before any
 *                body byte;
 *   on_body      zero or more times, with bytes as they arrive (nothing is buffered);
 *   on_done      exactly once, always, whatever happened (also after cancel and client free).
 * The request pointer is valid until on_done returns; never use it afterwards.
 *
 * Inside any callback you may: cancel this or any other request, start new requests (they are
 * queued and handed to curl as soon as the callback returns when curl cannot take them at
 * once), and free the client (the teardown then happens when the callback returns).
 *
 * SIGPIPE: CURLOPT_NOSIGNAL is set (no signal juggling around every curl call), so a write to
 * a peer that has gone away can raise SIGPIPE; a process using this client must ignore it
 * (signal(SIGPIPE, SIG_IGN) in main), as any network server does.
 *
 * Secrets: request headers (Authorization, x-api-key, ...) are never copied into messages, and
 * a rejected header is named by its index only. URLs are never echoed either (some APIs put
 * keys in the query string); curl's own messages may name the host. */
#ifndef FRUGAL_HTTP_HTTP_H
#define FRUGAL_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct http_client http_client;
typedef struct http_request http_request;

typedef struct {
  /* PEM bundle trusted IN ADDITION to the system bundle (the two are handed to the TLS
   * library together). NULL: system CAs only. */
  const char *ca_file;
  /* Directory of hashed CA certificates (OpenSSL c_rehash layout) searched in addition to the
   * system bundle file; replaces libcurl's built-in CA directory. NULL: the built-in one. */
  const char *ca_path;
  /* Proxy URL ("http://host:3128", "socks5h://..."). NULL: libcurl's usual environment
   * variables apply (http_proxy, https_proxy/HTTPS_PROXY, all_proxy/ALL_PROXY, no_proxy/
   * NO_PROXY; lowercase http_proxy only, as in curl). "": no proxy, environment ignored. */
  const char *proxy;
  /* Hosts that bypass the proxy, curl's NOPROXY syntax ("localhost,.internal"). NULL: the
   * no_proxy environment variable, if any. */
  const char *no_proxy;
  /* NULL: "frugal/<version>". */
  const char *user_agent;
} http_client_opts;
/* TLS peer and host verification are always on; there is deliberately no option to turn
 * them off. */

typedef struct {
  const char *name;  /* as the server sent it; compare case-insensitively */
  const char *value; /* surrounding whitespace removed; folded lines joined by one space */
} http_header;

typedef struct {
  int status;       /* e.g. 200, 429 */
  int http_version; /* 10, 11, 20, 30; 0 if unknown */
  const http_header *headers;
  size_t nheaders;
} http_response;

typedef enum {
  HTTP_OK = 0,          /* transfer complete; any HTTP status, 4xx/5xx included */
  HTTP_CANCELLED,       /* http_request_cancel() or http_client_free() */
  HTTP_TIMEOUT_CONNECT, /* connect (TCP + TLS handshake) took longer than connect_timeout_ms */
  HTTP_TIMEOUT_IDLE,    /* no byte for idle_timeout_ms */
  HTTP_TIMEOUT_TOTAL,   /* whole request took longer than total_timeout_ms */
  HTTP_FAILED_BEFORE_RESPONSE, /* resolve/connect/send/receive failure, no response byte yet */
  HTTP_FAILED_AFTER_RESPONSE,  /* connection broke after the first response byte */
  HTTP_TLS_ERROR,              /* handshake or certificate verification failed */
  HTTP_ERROR_OTHER             /* anything else (malformed response, internal error, ...) */
} http_code;

typedef struct {
  http_code code;
  const char *message;        /* "" when ok; no header value or URL, at most the host name */
  int status;                 /* HTTP status of the final response, 0 if none arrived */
  const http_header *headers; /* final response headers (also after errors), may be empty */
  size_t nheaders;
  uint64_t body_bytes; /* body bytes handed to on_body */
  double ttfb_ms;      /* start to first response byte; -1 if none arrived */
  double total_ms;     /* start to completion */
  int reused;          /* 1 if the request went over an existing connection */
  int http_version;    /* 10, 11, 20, 30; 0 if no response */
} http_result;

typedef struct {
  /* `resp` and its headers are valid until on_done returns. */
  void (*on_response)(http_request *req, const http_response *resp, void *data);
  void (*on_body)(http_request *req, const char *bytes, size_t len, void *data);
  /* `res` and everything it points to are valid only during the call. */
  void (*on_done)(http_request *req, const http_result *res, void *data);
} http_callbacks;

typedef struct {
  const char *method;         /* NULL: "POST" if body_len > 0 or body != NULL, else "GET" */
  const char *url;            /* http:// or https:// only */
  const char *const *headers; /* "Name: value", no CR/LF; copied */
  size_t nheaders;
  const void *body; /* copied */
  size_t body_len;
  /* Milliseconds; 0 means no limit. The idle timer runs from the start of the request and is
   * re-armed by every received byte (head or body), so it also bounds the wait for the first
   * byte; size it above the server's worst time to first byte. */
  long connect_timeout_ms;
  long idle_timeout_ms;
  long total_timeout_ms;
} http_request_opts;

/* Creates a client on `loop`, loading libcurl if needed and calling curl_global_init once for
 * the client's own curl_api table (not thread-safe; see curl_api.h). `opts` may be NULL; its
 * strings are copied. Returns NULL with a message in `err` (libcurl missing, unreadable CA
 * file, ...). Free with http_client_free(). */
http_client *http_client_new(uv_loop_t *loop, const http_client_opts *opts, char *err,
                             size_t errlen);

/* Cancels every request (each gets on_done with HTTP_CANCELLED, synchronously from this call,
 * or when the current callback returns if called from one), releases curl and starts closing
 * the uv handles; the memory goes when the loop has run the close callbacks, so run the loop
 * (uv_run) before uv_loop_close(). NULL is a no-op. Calling it twice is a no-op. */
void http_client_free(http_client *c);

/* Starts a request. Everything in `o` is copied; `cb` is copied too, and `data` is passed to
 * each callback. on_done is only ever called from the loop, never from inside this function.
 * Returns NULL with a message in `err` on invalid options (bad method, URL scheme, malformed
 * header: named by index, never by content) or when the client is being freed. */
http_request *http_request_start(http_client *c, const http_request_opts *o,
                                 const http_callbacks *cb, void *data, char *err, size_t errlen);

/* Cancels `req` at any moment, including from inside its own callbacks. After this returns no
 * on_response or on_body is delivered for it; on_done follows with HTTP_CANCELLED, deferred to
 * the next loop iteration (never from inside this call, so the caller's state stays coherent).
 * A request whose outcome is already decided (on_done pending or running) is left alone. */
void http_request_cancel(http_request *req);

/* Case-insensitive lookup of the first header called `name`; NULL if absent. */
const char *http_header_find(const http_header *headers, size_t n, const char *name);

/* Short stable name of a code ("ok", "timeout_idle", ...), static storage. */
const char *http_code_name(http_code code);

#endif
