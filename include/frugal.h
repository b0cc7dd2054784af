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

#ifdef __cplusplus
}
#endif
#endif
