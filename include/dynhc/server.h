/*
 * dynhc/server.h: the status server (SPEC 4), an HTTP server on libmicrohttpd
 * that shows a scheduler's state to Kubernetes and Prometheus:
 *   GET/HEAD health path (default /health): 200 when ready, 503 when not,
 *            with the status JSON of dynhc_sched_status_json(); "?verbose" (or
 *            verbose=1/true/yes/on) gives the verbose form;
 *   GET/HEAD live path (default /live): 200 while the process is up, with
 *            {"status":"live","uptime":{...}} (shallow: never follows checks);
 *   GET/HEAD /metrics: the Prometheus text of dynhc_sched_metrics();
 *   anything else 404; other methods 405.
 *
 * It is an optional part: when dynhc was built without libmicrohttpd every
 * function returns DYNHC_ERR_UNSUPPORTED (or NULL).
 *
 * Hostile clients (docs/robustness.md): the server holds at most half of
 * the process's soft file limit (RLIMIT_NOFILE, read at start; at most
 * 16384) in connections, and never changes the limit itself. Each request
 * must arrive and be answered within 10 s of its connection opening or of
 * the previous answer on it, however slowly it trickles in; when the server
 * is nearly full, the connections that have waited longest are closed, so
 * that a fresh GET of the health path always finds room.
 *
 * Thread safety: the server answers from its own threads (three, which
 * block every signal); the functions below belong to one thread at a time.
 * The scheduler must outlive the server.
 */
#ifndef DYNHC_SERVER_H
#define DYNHC_SERVER_H

#include "common.h"
#include "resolver.h"
#include "sched.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dynhc_server dynhc_server;

/* 1 when this build has the status server. */
DYNHC_API int dynhc_server_supported(void);

/* A server for s, not yet listening: host 0.0.0.0, port off, paths /health
 * and /live. NULL when out of memory or unsupported. */
DYNHC_NODISCARD DYNHC_API dynhc_server *dynhc_server_new(dynhc_sched *s);

/* Stops the server if it runs and frees it. NULL is a no-op. */
DYNHC_API void dynhc_server_free(dynhc_server *srv);

/* Settings, before dynhc_server_start(). host is an IPv4 or IPv6 address
 * literal or "localhost"; port -1 is off, 0 any free port. Paths start
 * with '/', differ from each other and from /metrics. Strings are copied.
 * DYNHC_ERR_INVALID_ARG for bad values, DYNHC_ERR_BUSY while running. */
DYNHC_API int dynhc_server_set_host(dynhc_server *srv, const char *host);
DYNHC_API int dynhc_server_set_port(dynhc_server *srv, int port);
DYNHC_API int dynhc_server_set_health_path(dynhc_server *srv, const char *path);
DYNHC_API int dynhc_server_set_live_path(dynhc_server *srv, const char *path);

/*
 * Reads DYN_SYSTEM_HOST, DYN_SYSTEM_PORT, DYN_SYSTEM_HEALTH_PATH and
 * DYN_SYSTEM_LIVE_PATH through fn (NULL: getenv). A bad value is a warning
 * in the format of SPEC 1.6, written to the scheduler's log, and ignored.
 */
DYNHC_API int dynhc_server_load_env(dynhc_server *srv, dynhc_getenv_fn fn, void *user_data);

/*
 * Starts listening; the connection limit is taken from the file limit now,
 * and the memory to track that many connections is taken at once, so that
 * no connection needs an allocation later (a fresh probe is answered, if
 * only with a 500, however little memory is left).
 * DYNHC_OK; DYNHC_ERR_INVALID_ARG (srv NULL); DYNHC_DISABLED when the port
 * is off (-1); DYNHC_ERR_BUSY when it runs already; DYNHC_ERR_NOMEM; DYNHC_ERR_SYSTEM when
 * the address cannot be bound or a thread cannot start, with the error
 * number in *sys_errno when sys_errno is not NULL (the failure is also
 * logged through the scheduler's log sink, a callback that may change
 * errno: read *sys_errno, not errno). sys_errno is left alone on every
 * other return. DYNHC_ERR_UNSUPPORTED without the status server.
 */
DYNHC_NODISCARD DYNHC_API int dynhc_server_start(dynhc_server *srv, int *sys_errno);

/* The port it listens on (the one chosen for port 0), or -1 when stopped. */
DYNHC_API int dynhc_server_port(const dynhc_server *srv);

/* The address it listens on as "HOST:PORT" ("[::1]:8081" for IPv6), the
 * chosen port included, into buf (cut to size). DYNHC_ERR_INVALID_ARG when
 * stopped. */
DYNHC_API int dynhc_server_address(const dynhc_server *srv, char *buf, size_t size);

/* Stops listening and closes every connection, whatever it is doing, in
 * well under a second; waits for answers being built. DYNHC_OK also when
 * stopped already. */
DYNHC_API int dynhc_server_stop(dynhc_server *srv);

#ifdef __cplusplus
}
#endif

#endif
