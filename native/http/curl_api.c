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

int curl_api_load(curl_api *api, char *err, size_t errlen)
{
  if (api->handle) {
    return 0;
  }
  api->handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (!api->handle) {
    const char *why = dlerror();
    snprintf(err, errlen, "cannot load libcurl: %s", why ? why : "unknown error");
    return -1;
  }
  if (resolve(api, "curl_version_info", &api->version_info, sizeof(api->version_info), err,
              errlen)) {
    curl_api_unload(api);
    return -1;
  }
  return 0;
}

void curl_api_unload(curl_api *api)
{
  if (api->handle) {
    dlclose(api->handle);
  }
  memset(api, 0, sizeof(*api));
}
