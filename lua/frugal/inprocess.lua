-- The in-process backend's loader: libfrugal.so opened in Neovim's own process through LuaJIT's
-- FFI, and the four functions of include/frugal.h it is driven by (start, stop, version,
-- isolation). Only lua/frugal/host.lua and lua/frugal/health.lua use this module; the calls
-- cross on the RPC channel the library opens to the editor, never through here.
--
-- The library is opened with dlopen(RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND) rather than
-- ffi.load(): Neovim exports symbols of its own (msgpack_* and json_* functions, and its bundled
-- libuv in release builds), and DEEPBIND makes the library's references to libuv, msgpack-c and
-- Jansson resolve in the library and the shared libraries it was built against first. The one
-- exception is a process that carries AddressSanitizer's runtime (LD_PRELOAD of libasan, to
-- test an ASan build), which refuses DEEPBIND: the library is then opened without it, and
-- frugal_inprocess_isolation() (`:checkhealth frugal`) reports where its references went.
local M = {}

local ok_ffi, ffi = pcall(require, 'ffi')

local RTLD_NOW = 2
local RTLD_LOCAL = 0
local RTLD_DEEPBIND = 8 -- glibc

local declared = false
local function declare()
  if declared then
    return
  end
  declared = true
  -- Each declaration on its own: another plugin may have declared dlopen already.
  for _, decl in ipairs({
    'void *dlopen(const char *file, int mode);',
    'void *dlsym(void *handle, const char *name);',
    'char *dlerror(void);',
    'typedef struct frugal_inprocess frugal_inprocess;',
  }) do
    pcall(ffi.cdef, decl)
  end
end

local libs = {} -- path -> { start, stop, version, isolation, deepbind }

-- True when the process carries the sanitizer runtime (which refuses RTLD_DEEPBIND).
local function asan_loaded()
  return ffi.C.dlsym(nil, '__asan_init') ~= nil
end

-- Opens the library at `path` (once per path; it stays loaded: a thread of it may run).
-- Returns the table of its functions, or nil and a message.
function M.load(path)
  if not ok_ffi then
    return nil, 'the in-process backend needs LuaJIT (this Neovim has no FFI)'
  end
  if libs[path] then
    return libs[path]
  end
  if ffi.os ~= 'Linux' then
    return nil, 'the in-process backend is built and tested on Linux only; use backend = "process"'
  end
  if vim.fn.filereadable(path) ~= 1 then
    return nil, 'library not found: ' .. path .. ' (build it with `make`)'
  end
  declare()
  local deepbind = not asan_loaded()
  local handle = ffi.C.dlopen(path, RTLD_NOW + RTLD_LOCAL + (deepbind and RTLD_DEEPBIND or 0))
  if handle == nil then
    local e = ffi.C.dlerror()
    return nil, 'cannot load ' .. path .. ': ' .. (e ~= nil and ffi.string(e) or '?')
  end
  local function sym(name, ctype)
    local p = ffi.C.dlsym(handle, name)
    if p == nil then
      return nil
    end
    return ffi.cast(ctype, p)
  end
  local lib = {
    start = sym('frugal_inprocess_start',
      'frugal_inprocess *(*)(const char *, long long, char *, size_t)'),
    stop = sym('frugal_inprocess_stop', 'void (*)(frugal_inprocess *)'),
    version = sym('frugal_version', 'const char *(*)(void)'),
    isolation = sym('frugal_inprocess_isolation', 'int (*)(char *, size_t)'),
    deepbind = deepbind,
  }
  if not (lib.start and lib.stop and lib.version and lib.isolation) then
    return nil, path .. ' has no in-process entry point (an older build: run `make`)'
  end
  libs[path] = lib
  return lib
end

-- Starts the library's host: it connects to `address` and calls back
-- require('frugal.host')._attach(token, channel). Returns a handle for M.stop, or nil and a
-- message. Waits only for the connect to the editor's own socket.
function M.start(path, address, token)
  local lib, err = M.load(path)
  if not lib then
    return nil, err
  end
  local buf = ffi.new('char[512]')
  local p = lib.start(address, token, buf, 512)
  if p == nil then
    return nil, ffi.string(buf)
  end
  return { lib = lib, p = p }
end

-- Stops a started host: its runs are cancelled and recorded as such, its thread ends. Returns
-- once the thread is gone.
function M.stop(handle)
  if handle and handle.p ~= nil then
    local p = handle.p
    handle.p = nil
    handle.lib.stop(p)
  end
end

-- The version the library at `path` reports, or nil and a message.
function M.version(path)
  local lib, err = M.load(path)
  if not lib then
    return nil, err
  end
  return ffi.string(lib.version())
end

-- Whether the library's libuv/msgpack-c/Jansson references stay out of the editor's own
-- symbols: true/false and where each probe resolved; nil and a message when it cannot say.
function M.isolation(path)
  local lib, err = M.load(path)
  if not lib then
    return nil, err
  end
  local buf = ffi.new('char[1024]')
  local rc = lib.isolation(buf, 1024)
  if rc < 0 then
    return nil, ffi.string(buf)
  end
  return rc == 1, ffi.string(buf), lib.deepbind
end

return M
