#include "http/curl_api.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* Resolves `name` into *slot; dlsym returns a void pointer, so go through memcpy to assign it
 * to a function pointer without a cast that -Wpedantic would flag. */
static int resolve(curl_api *api, const char *name, void *slot, size_t size, char *err,
                   size_t errlen)
{
  void *sym = dlsym(api->handle, name);
  if (!sym) {
    snprintf(err, errlen, "libcurl has no %s", name);
    return -1;
  }
  memcpy(slot, &sym, size);
  return 0;
}

#define RESOLVE(field, name)                                                                       \
  if (resolve(api, name, &api->field, sizeof(api->field), err, errlen)) {                          \
    goto fail;                                                                                     \
  }

int curl_api_load(curl_api *api, char *err, size_t errlen)
{
  if (api->handle) {
    return 0;
  }
  memset(api, 0, sizeof(*api));
  api->handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (!api->handle) {
    const char *why = dlerror();
    snprintf(err, errlen, "cannot load libcurl: %s", why ? why : "unknown error");
    return -1;
  }
  RESOLVE(version_info, "curl_version_info");
  RESOLVE(global_init, "curl_global_init");
  RESOLVE(global_cleanup, "curl_global_cleanup");
  RESOLVE(easy_strerror, "curl_easy_strerror");
  RESOLVE(easy_init, "curl_easy_init");
  RESOLVE(easy_cleanup, "curl_easy_cleanup");
  RESOLVE(easy_setopt, "curl_easy_setopt");
  RESOLVE(easy_getinfo, "curl_easy_getinfo");
  RESOLVE(multi_init, "curl_multi_init");
  RESOLVE(multi_cleanup, "curl_multi_cleanup");
  RESOLVE(multi_setopt, "curl_multi_setopt");
  RESOLVE(multi_add_handle, "curl_multi_add_handle");
  RESOLVE(multi_remove_handle, "curl_multi_remove_handle");
  RESOLVE(multi_socket_action, "curl_multi_socket_action");
  RESOLVE(multi_assign, "curl_multi_assign");
  RESOLVE(multi_info_read, "curl_multi_info_read");
  RESOLVE(multi_strerror, "curl_multi_strerror");
  RESOLVE(slist_append, "curl_slist_append");
  RESOLVE(slist_free_all, "curl_slist_free_all");
  return 0;
fail:
  curl_api_unload(api);
  return -1;
}

int curl_api_global_init(curl_api *api, char *err, size_t errlen)
{
  if (curl_api_load(api, err, errlen)) {
    return -1;
  }
  if (api->global_inited) {
    return 0;
  }
  CURLcode rc = api->global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) {
    snprintf(err, errlen, "cannot initialise libcurl: %s", api->easy_strerror(rc));
    return -1;
  }
  api->global_inited = 1;
  return 0;
}

void curl_api_unload(curl_api *api)
{
  if (api->handle) {
    if (api->global_inited) {
      api->global_cleanup();
    }
    dlclose(api->handle);
  }
  memset(api, 0, sizeof(*api));
}

int curl_api_version(char *out, size_t n)
{
  curl_api curl = {0};
  if (curl_api_load(&curl, out, n)) {
    return -1;
  }
  snprintf(out, n, "%s", curl.version_info(CURLVERSION_NOW)->version);
  curl_api_unload(&curl);
  return 0;
}
