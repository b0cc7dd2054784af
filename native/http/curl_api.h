/* curl_api: libcurl, loaded on first use.
 *
 * Linking libcurl pulls in some thirty libraries (TLS, Kerberos, LDAP, ...) whose loading and
 * constructors cost about 3 ms at every process start, five times what the rest of frugal needs
 * to start. Commands that never touch the network (`frugal context`, `route`, `preview`) should
 * not pay that, so the library opens libcurl with dlopen() the first time it needs it. The
 * function table lives in whatever context object needs HTTP; there is no global state. */
#ifndef FRUGAL_HTTP_CURL_API_H
#define FRUGAL_HTTP_CURL_API_H

#include <curl/curl.h>
#include <stddef.h>

typedef struct {
  void *handle; /* dlopen handle; NULL until loaded */
  curl_version_info_data *(*version_info)(CURLversion);
} curl_api;

/* Loads libcurl (SONAME libcurl.so.4) and resolves the functions above. Returns 0 (also when
 * already loaded), or -1 with a message in `err` naming what is missing. */
int curl_api_load(curl_api *api, char *err, size_t errlen);
/* Closes the library; the table is unusable until loaded again. */
void curl_api_unload(curl_api *api);

#endif
