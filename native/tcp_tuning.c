// setsockopt/getsockopt TCP_NOTSENT_LOWAT on a socket's file descriptor, which Node.js cannot do
// itself. The fan-out uses it to keep the kernel from queueing megabytes for a slow viewer (see
// src/streaming/tcp-tuning.ts). Each call returns 0 (or the value) on success, -errno on failure.
// Built by `npm ci` (package.json "install": node-gyp rebuild, binding.gyp).
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <node_api.h>

static int read_ints(napi_env env, napi_callback_info info, size_t want, int32_t *out) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) return 0;
  for (size_t i = 0; i < want; i++) {
    if (napi_get_value_int32(env, argv[i], &out[i]) != napi_ok) return 0;
  }
  return 1;
}

static napi_value result(napi_env env, int32_t v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

// setNotsentLowat(fd, bytes) -> 0 | -errno
static napi_value set_notsent_lowat(napi_env env, napi_callback_info info) {
  int32_t a[2];
  if (!read_ints(env, info, 2, a)) {
    napi_throw_type_error(env, NULL, "setNotsentLowat(fd, bytes) takes two integers");
    return NULL;
  }
#ifdef TCP_NOTSENT_LOWAT
  int v = a[1];
  return result(env, setsockopt(a[0], IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof v) == 0 ? 0 : -errno);
#else
  return result(env, -ENOTSUP);
#endif
}

// getNotsentLowat(fd) -> bytes (unsigned: the kernel's "no limit" is 4294967295) | -errno
static napi_value get_notsent_lowat(napi_env env, napi_callback_info info) {
  int32_t a[1];
  if (!read_ints(env, info, 1, a)) {
    napi_throw_type_error(env, NULL, "getNotsentLowat(fd) takes an integer");
    return NULL;
  }
#ifdef TCP_NOTSENT_LOWAT
  unsigned int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(a[0], IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &len) != 0) return result(env, -errno);
  napi_value out;
  napi_create_uint32(env, v, &out);
  return out;
#else
  return result(env, -ENOTSUP);
#endif
}

NAPI_MODULE_INIT() {
  napi_value fn, supported;
#ifdef TCP_NOTSENT_LOWAT
  napi_get_boolean(env, 1, &supported);
#else
  napi_get_boolean(env, 0, &supported);
#endif
  napi_set_named_property(env, exports, "supported", supported);
  napi_create_function(env, "setNotsentLowat", NAPI_AUTO_LENGTH, set_notsent_lowat, NULL, &fn);
  napi_set_named_property(env, exports, "setNotsentLowat", fn);
  napi_create_function(env, "getNotsentLowat", NAPI_AUTO_LENGTH, get_notsent_lowat, NULL, &fn);
  napi_set_named_property(env, exports, "getNotsentLowat", fn);
  return exports;
}
