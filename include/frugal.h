/* frugal.h: the public API of libfrugal.
 *
 * libfrugal packages the code at a cursor as focused context for a language model, routes the
 * request to a cheap ("mini") or a capable ("full") model tier with reasons, runs it against the
 * provider, keeps a cost ledger with budgets, and serves all of this to an editor over
 * msgpack-RPC (`frugal --stdio`) and to the shell (`frugal context|route|preview|run|cost`).
 * Everything else in the library is internal (hidden visibility; see doc/architecture.md for
 * its layout); only the functions below are exported. */
#ifndef FRUGAL_H
#define FRUGAL_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FRUGAL_API __attribute__((visibility("default")))
#else
#define FRUGAL_API
#endif

#define FRUGAL_VERSION_MAJOR 0
#define FRUGAL_VERSION_MINOR 1
#define FRUGAL_VERSION_PATCH 0
#define FRUGAL_VERSION_STRING "0.1.0"

/* Returns the library's version string ("MAJOR.MINOR.PATCH"); static storage. The plugin compares
 * it with the host's to detect a stale build. */
FRUGAL_API const char *frugal_version(void);

/* Runs the `frugal` command line (see `frugal --help`): `context`, `route`, `preview`, `run`,
 * `cost`, `--stdio` (the RPC host), `--version`. argv[0] is the program name. Writes to
 * stdout/stderr; returns the process exit status: 0 on success, 1 on a runtime failure, 2 on bad
 * arguments or unreadable input. */
FRUGAL_API int frugal_main(int argc, char **argv);

#include <stddef.h>

/* The in-process backend (`backend = "inprocess"`, see `:help frugal-backends`): the library
 * loaded into Neovim (LuaJIT FFI) serves the editor on a thread of its own.
 *
 * frugal_inprocess_start() starts a libuv loop on a new thread that connects to the editor's
 * RPC server at `address` (v:servername: a Unix socket path, or HOST:PORT for TCP) as a
 * msgpack-RPC client and serves the methods `frugal --stdio` serves (|frugal-rpc|). Once
 * connected it calls `require('frugal.host')._attach(token, channel)` through nvim_exec_lua with
 * the `token` given here and the channel id the editor gave the connection; the plugin then sends
 * its calls there. The library never touches Lua state: everything crosses on that channel.
 * Waits only for the connect itself (a local socket: the kernel completes it). Returns a handle
 * owned by the caller, to pass to frugal_inprocess_stop() exactly once; or NULL with a one-line
 * message in `err` (`errlen` bytes, always NUL-terminated when errlen > 0). */
typedef struct frugal_inprocess frugal_inprocess;
FRUGAL_API frugal_inprocess *frugal_inprocess_start(const char *address, long long token,
                                                    char *err, size_t errlen);

/* Stops the host started by frugal_inprocess_start(): runs in flight are cancelled (recorded in
 * the ledger as cancelled, nothing more is sent to the editor), the socket closes, and the call
 * returns once the thread has ended and the handle is freed. Also right after the editor closed
 * the connection. Never call it from a callback the library is running (there are none: the
 * library calls the editor only over RPC). NULL is ignored. Another start may follow. */
FRUGAL_API void frugal_inprocess_stop(frugal_inprocess *p);

/* Checks that the library's own references to libuv, msgpack-c and Jansson do not resolve into
 * the program that loaded it (Neovim exports symbols of the same names). Writes where each probe
 * resolved to `out` (`outlen` bytes, NUL-terminated). Returns 1 when isolated, 0 when some
 * reference binds to the program, -1 when the library cannot find its own file. */
FRUGAL_API int frugal_inprocess_isolation(char *out, size_t outlen);

#ifdef __cplusplus
}
#endif
#endif
