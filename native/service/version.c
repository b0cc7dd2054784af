#include "service/service.h"

#include <frugal.h>
#include <msgpack.h>
#include <uv.h>

#include "http/curl_api.h"

json_t *service_version_json(void)
{
  json_t *o = json_object();
  json_object_set_new(o, "version", json_string(FRUGAL_VERSION_STRING));
  json_object_set_new(o, "libuv", json_string(uv_version_string()));
  json_object_set_new(o, "msgpack", json_string(msgpack_version()));
  char curl[256];
  curl_api_version(curl, sizeof(curl));
  json_object_set_new(o, "curl", json_string(curl));
  json_object_set_new(o, "jansson", json_string(jansson_version_str()));
  return o;
}
