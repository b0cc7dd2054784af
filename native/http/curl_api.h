/* curl_api: libcurl, loaded on first use.
 *
 * Linking libcurl pulls in some thirty libraries (TLS, Kerberos, LDAP, ...) whose loading and
 * constructors cost about 3 ms at every process start, five times what the rest of frugal needs
 * to start. Commands that never touch the network (`frugal context`, `route`, `preview`) should
 * not pay that, so the library opens libcurl with dlopen() the first time it needs it. The
 * function table lives in whatever context object needs HTTP; there is no global state.
 *
 * Member names drop the `curl_` prefix on purpose: curl.h defines function-like macros named
 * `curl_easy_setopt` etc. (type checking under GCC) that would otherwise capture the calls.
 * The variadic setopt/getinfo pointers take exactly the argument type the option documents
 * (long, pointer or curl_off_t); nothing converts them for you. */
#ifndef FRUGAL_HTTP_CURL_API_H
#define FRUGAL_HTTP_CURL_API_H

#include <curl/curl.h>
#include <stddef.h>

typedef struct {
  void *handle;      /* dlopen handle; NULL until loaded */
  int global_inited; /* curl_api_global_init() succeeded on this table */
  curl_version_info_data *(*version_info)(CURLversion);
  CURLcode (*global_init)(long flags);
  void (*global_cleanup)(void);
  const char *(*easy_strerror)(CURLcode);
  CURL *(*easy_init)(void);
  void (*easy_cleanup)(CURL *);
  CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
  CURLM *(*multi_init)(void);
  CURLMcode (*multi_cleanup)(CURLM *);
  CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
  CURLMcode (*multi_add_handle)(CURLM *, CURL *);
  CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
  CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
  CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
  CURLMsg *(*multi_info_read)(CURLM *, int *);
  const char *(*multi_strerror)(CURLMcode);
  struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
  void (*slist_free_all)(struct curl_slist *);
} curl_api;

/* Loads libcurl (SONAME libcurl.so.4) and resolves the functions above. Returns 0 (also when
 * already loaded), or -1 with a message in `err` naming what is missing; on failure the table
 * is left unloaded. */
int curl_api_load(curl_api *api, char *err, size_t errlen);

/* Calls curl_global_init(CURL_GLOBAL_DEFAULT) once for this loaded table (later calls return 0
 * at once); curl_api_unload() balances it with curl_global_cleanup(). Loads the library first
 * if needed. Returns 0, or -1 with a message in `err`.
 * NOT thread-safe: libcurl's global init and cleanup touch process-wide state (TLS library
 * init), so every table in the process must be initialised and unloaded from one thread. The
 * frugal host is single-threaded, which is why this is acceptable. */
int curl_api_global_init(curl_api *api, char *err, size_t errlen);

/* Balances curl_api_global_init() if it was called, closes the library and zeroes the table;
 * the table is unusable until loaded again. Safe on a table that was never loaded. */
void curl_api_unload(curl_api *api);

/* The version of the libcurl this process would load ("8.14.1"), written to out[0..n): loads
 * the library, reads it and unloads it again. Returns 0, or -1 with the reason it cannot be
 * loaded in `out` instead. */
int curl_api_version(char *out, size_t n);

#endif
