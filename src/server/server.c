/* server.c: the status server (SPEC 4) on libmicrohttpd, or, in a build
 * without it, functions that say so.
 *
 * Threads: a pool of two libmicrohttpd threads, each polling its share of
 * the connections with epoll. Unlike a thread per connection, the thread
 * count stays fixed however many clients keep connections open (Prometheus,
 * kubelets, load balancers); sockets are non-blocking, so a slow client
 * holds no thread, and an answer costs microseconds (a report built under
 * the scheduler's lock). A third thread, the watchdog, closes connections
 * past their deadline. The settings are written before the threads start
 * and only read by them; the list of open connections has a lock.
 *
 * Hostile clients (docs/robustness.md): the connection limit follows the
 * process's file limit; every request must arrive and be answered within a
 * deadline, however slowly its bytes trickle in; when the server is nearly
 * full, the connections that have waited longest are closed to make room,
 * so that a fresh probe always finds a place. */
#include "dynhc/server.h"

#ifdef DYNHC_HAVE_SERVER

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "alloc.h"
#include "clock.h"
#include "sched_services.h"
#include "server_internal.h"
#include "settings.h"
#include "status.h"
#include "system_settings.h"
#include "text.h"

#define NS_PER_MS 1000000ull

/* The connection limit is this share of the process's soft file limit at
 * start (half): the rest stays with the host, whose own sockets and files
 * must not run out because of a flood. */
#define FILE_LIMIT_DIVISOR 2u
/* ... but never more than this: an idle connection costs about 5 KiB of
 * memory (4000 of them added 18 MiB to dynhc watch), and a sidecar's
 * memory limit must not be what a flood reaches first. */
#define MAX_CONNECTIONS 16384u
/* ... nor fewer than this, whatever a tiny file limit says. */
#define MIN_CONNECTIONS 8u

/* One of libmicrohttpd's connections, in the list of open connections; a
 * node of the pool when free (older links the free nodes). */
typedef struct connection {
    struct connection *older, *newer;
    int fd;
    int cut;           /* shut down by the server: never linked again */
    uint64_t since_ns; /* opened, or last answered: the deadline runs from here */
} connection;

struct dynhc_server {
    dynhc_sched *sched;
    struct sockaddr_storage addr; /* the host; the port is filled in at start */
    int port;       /* -1 off, 0 any free port */
    int bound_port; /* -1 when stopped */
    char *health_path;
    char *live_path;
    struct MHD_Daemon *daemon;
    /* Answers that need no allocation per request: the 500 must work when
     * memory has run out. */
    struct MHD_Response *not_found;
    struct MHD_Response *not_allowed;
    struct MHD_Response *no_memory;
    uint64_t deadline_ns;
    size_t connection_limit; /* 0 when stopped */
    size_t crowded_at;       /* more open connections than this: the oldest go */

    /* The open connections, oldest deadline first, and the watchdog that
     * enforces the deadlines; under lock. */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* on CLOCK_MONOTONIC */
    pthread_t watchdog;
    int stopping;
    connection *oldest, *newest;
    size_t open_count;
    /* One node per connection the limit allows, taken at start: a
     * connection never needs an allocation, so a fresh probe is answered
     * (if only with the canned 500) however little memory is left. */
    connection *pool;
    connection *free_nodes;
};

int dynhc_server_supported(void)
{
    return 1;
}

/* ---- settings ------------------------------------------------------------- */

/* Replaces *slot with a copy of s[0..len). */
static int replace_path(char **slot, const char *s, size_t len)
{
    char *copy = dynhcp_strndup(s, len);
    if (copy == NULL) {
        return DYNHC_ERR_NOMEM;
    }
    dynhcp_free(*slot);
    *slot = copy;
    return DYNHC_OK;
}

int dynhc_server_set_host(dynhc_server *srv, const char *host)
{
    if (srv == NULL || host == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    if (srv->daemon != NULL) {
        return DYNHC_ERR_BUSY;
    }
    struct sockaddr_storage addr;
    if (dynhcp_parse_host(host, strlen(host), &addr) != NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    srv->addr = addr;
    return DYNHC_OK;
}

int dynhc_server_set_port(dynhc_server *srv, int port)
{
    if (srv == NULL || port < -1 || port > 65535) {
        return DYNHC_ERR_INVALID_ARG;
    }
    if (srv->daemon != NULL) {
        return DYNHC_ERR_BUSY;
    }
    srv->port = port;
    return DYNHC_OK;
}

int dynhc_server_set_health_path(dynhc_server *srv, const char *path)
{
    if (srv == NULL || path == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    if (srv->daemon != NULL) {
        return DYNHC_ERR_BUSY;
    }
    size_t len = strlen(path);
    if (dynhcp_parse_status_path(path, len) != NULL || dynhcp_equals(path, len, srv->live_path)) {
        return DYNHC_ERR_INVALID_ARG;
    }
    return replace_path(&srv->health_path, path, len);
}

int dynhc_server_set_live_path(dynhc_server *srv, const char *path)
{
    if (srv == NULL || path == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    if (srv->daemon != NULL) {
        return DYNHC_ERR_BUSY;
    }
    size_t len = strlen(path);
    if (dynhcp_parse_status_path(path, len) != NULL || dynhcp_equals(path, len, srv->health_path)) {
        return DYNHC_ERR_INVALID_ARG;
    }
    return replace_path(&srv->live_path, path, len);
}

int dynhcp_server_set_request_deadline_ms(dynhc_server *srv, uint64_t ms)
{
    if (srv == NULL || ms == 0 || ms > UINT64_MAX / NS_PER_MS) {
        return DYNHC_ERR_INVALID_ARG;
    }
    if (srv->daemon != NULL) {
        return DYNHC_ERR_BUSY;
    }
    srv->deadline_ns = ms * NS_PER_MS;
    return DYNHC_OK;
}

/* ---- environment ---------------------------------------------------------- */

/* A variable's trimmed value, or NULL when unset or empty. */
static const char *env_value(dynhc_getenv_fn fn, void *user_data, const char *name, size_t *len)
{
    const char *raw = fn(name, user_data);
    const char *text = raw != NULL ? dynhcp_trim(raw, len) : NULL;
    return text != NULL && *len > 0 ? text : NULL;
}

static void warn_invalid(const dynhc_server *srv, const char *name, const char *text, size_t len,
                         const char *why)
{
    char quoted[96];
    dynhcp_sched_log(srv->sched, DYNHC_LOG_WARNING, "%s: warning: invalid value %s: %s; ignored",
                     name, dynhcp_quote(quoted, sizeof(quoted), text, len), why);
}

/* A path variable's value, checked on its own; NULL (after a warning) when
 * it is no path, or when it is unset. */
static const char *env_path(const dynhc_server *srv, dynhc_getenv_fn fn, void *user_data,
                            const char *name, size_t *len)
{
    const char *text = env_value(fn, user_data, name, len);
    const char *why = text != NULL ? dynhcp_parse_status_path(text, *len) : NULL;
    if (why != NULL) {
        warn_invalid(srv, name, text, *len, why);
        return NULL;
    }
    return text;
}

int dynhc_server_load_env(dynhc_server *srv, dynhc_getenv_fn fn, void *user_data)
{
    if (srv == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    if (srv->daemon != NULL) {
        return DYNHC_ERR_BUSY;
    }
    if (fn == NULL) {
        fn = dynhcp_process_getenv;
    }
    static const char host_name[] = "DYN_SYSTEM_HOST";
    static const char port_name[] = "DYN_SYSTEM_PORT";
    static const char health_name[] = "DYN_SYSTEM_HEALTH_PATH";
    static const char live_name[] = "DYN_SYSTEM_LIVE_PATH";
    size_t len;
    const char *text = env_value(fn, user_data, host_name, &len);
    if (text != NULL) {
        struct sockaddr_storage addr;
        const char *why = dynhcp_parse_host(text, len, &addr);
        if (why != NULL) {
            warn_invalid(srv, host_name, text, len, why);
        } else {
            srv->addr = addr;
        }
    }
    text = env_value(fn, user_data, port_name, &len);
    if (text != NULL) {
        const char *why = dynhcp_parse_port(text, len, &srv->port);
        if (why != NULL) {
            warn_invalid(srv, port_name, text, len, why);
        }
    }

    size_t health_len = 0, live_len = 0;
    const char *health = env_path(srv, fn, user_data, health_name, &health_len);
    const char *live = env_path(srv, fn, user_data, live_name, &live_len);
    int live_gives_way;
    const char *clash = dynhcp_status_paths_clash(
        health, health_len, live, live_len, srv->health_path, srv->live_path, &live_gives_way);
    if (clash != NULL && live_gives_way) {
        warn_invalid(srv, live_name, live, live_len, clash);
        live = NULL;
    } else if (clash != NULL) {
        warn_invalid(srv, health_name, health, health_len, clash);
        health = NULL;
    }
    int status = DYNHC_OK;
    if (health != NULL) {
        status = replace_path(&srv->health_path, health, health_len);
    }
    if (live != NULL && status == DYNHC_OK) {
        status = replace_path(&srv->live_path, live, live_len);
    }
    return status;
}

/* ---- answering -------------------------------------------------------------- */

/* ?verbose alone, or with a true boolean, asks for the verbose status. */
static int wants_verbose(struct MHD_Connection *conn)
{
    const char *value = NULL;
    size_t len = 0;
    if (MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND, "verbose", strlen("verbose"),
                                      &value, &len) != MHD_YES) {
        return 0;
    }
    int on = 0;
    return value == NULL || len == 0 || (dynhcp_parse_bool(value, len, &on) == NULL && on);
}

/* Queues body (malloc'd, taken over; NULL when a report ran out of memory)
 * with its content type. */
static enum MHD_Result queue_body(const dynhc_server *srv, struct MHD_Connection *conn,
                                  unsigned code, char *body, const char *content_type)
{
    struct MHD_Response *response =
        body != NULL
            ? MHD_create_response_from_buffer_with_free_callback(strlen(body), body, dynhcp_free)
            : NULL;
    if (response == NULL) {
        dynhcp_free(body);
        return MHD_queue_response(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, srv->no_memory);
    }
    enum MHD_Result result;
    if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) == MHD_YES) {
        result = MHD_queue_response(conn, code, response);
    } else {
        result = MHD_queue_response(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, srv->no_memory);
    }
    MHD_destroy_response(response);
    return result;
}

/* The live path: the process answers, so it is live. The uptime is the
 * scheduler's, as in the status JSON; nothing about checks is read. */
static char *live_body(dynhc_sched *s)
{
    uint64_t uptime = dynhcp_sched_uptime_ns(s);
    size_t size = 96; /* room for the longest uptime */
    char *text = dynhcp_malloc(size);
    if (text != NULL) {
        snprintf(text, size,
                 "{\"status\":\"live\",\"uptime\":{\"secs\":%" PRIu64 ",\"nanos\":%" PRIu64 "}}",
                 (uint64_t)(uptime / DYNHCP_NS_PER_SEC), (uint64_t)(uptime % DYNHCP_NS_PER_SEC));
    }
    return text;
}

static enum MHD_Result respond(const dynhc_server *srv, struct MHD_Connection *conn,
                               const char *url, const char *method)
{
    int health = strcmp(url, srv->health_path) == 0;
    int live = strcmp(url, srv->live_path) == 0;
    int metrics = strcmp(url, DYNHCP_METRICS_PATH) == 0;
    if (!health && !live && !metrics) {
        return MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, srv->not_found);
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, srv->not_allowed);
    }
    if (metrics) {
        return queue_body(srv, conn, MHD_HTTP_OK, dynhc_sched_metrics(srv->sched),
                          "text/plain; version=0.0.4; charset=utf-8");
    }
    if (live) {
        return queue_body(srv, conn, MHD_HTTP_OK, live_body(srv->sched), "application/json");
    }
    char *body = dynhc_sched_status_json(srv->sched, wants_verbose(conn));
    /* The code is read from the body, not asked again: readiness may turn
     * between two calls, and a 200 must never carry "notready". */
    static const char ready[] = "{\"status\":\"ready\"";
    unsigned code = body != NULL && strncmp(body, ready, strlen(ready)) == 0
                        ? MHD_HTTP_OK
                        : MHD_HTTP_SERVICE_UNAVAILABLE;
    return queue_body(srv, conn, code, body, "application/json");
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **request_state)
{
    (void)version;
    (void)upload_data;
    /* The first call only announces the request. Answering only after the
     * body has been read (and dropped) keeps the connection usable for the
     * next request whatever the client sent. */
    if (*request_state == NULL) {
        *request_state = cls;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    return respond(cls, conn, url, method);
}

/* libmicrohttpd's own messages go to the scheduler's log at debug level. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 0)))
#endif
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    /* A failed bind is reported through errno after this returns. */
    int saved = errno;
    const dynhc_server *srv = cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        line[--len] = '\0';
    }
    /* Mostly clients that broke the protocol: under a flood, one line each
     * at info would bury the log (and fill an unread stderr pipe). */
    dynhcp_sched_log(srv->sched, DYNHC_LOG_DEBUG, "status server: %s", line);
    errno = saved;
}

/* ---- hostile clients --------------------------------------------------------- */

/* Links c as the newest connection: its deadline runs from now. The list
 * stays sorted by deadline because now never goes back under the lock. */
static void link_newest(dynhc_server *srv, connection *c, uint64_t now)
{
    c->since_ns = now;
    c->older = srv->newest;
    c->newer = NULL;
    if (srv->newest != NULL) {
        srv->newest->newer = c;
    } else {
        srv->oldest = c;
    }
    srv->newest = c;
    srv->open_count++;
}

static void unlink_connection(dynhc_server *srv, connection *c)
{
    *(c->older != NULL ? &c->older->newer : &srv->oldest) = c->newer;
    *(c->newer != NULL ? &c->newer->older : &srv->newest) = c->older;
    srv->open_count--;
}

/*
 * Shuts c's socket down: libmicrohttpd's thread reads the end of the stream
 * and closes the connection itself (it offers no way to close one from
 * another thread). Under the lock, which keeps the descriptor c's: the
 * closed notification, which libmicrohttpd gives before it closes the
 * socket, waits for the lock and unlinks c.
 */
static void cut(dynhc_server *srv, connection *c)
{
    shutdown(c->fd, SHUT_RDWR);
    unlink_connection(srv, c);
    c->cut = 1;
}

/* A connection opens or closes (libmicrohttpd's threads). A new one joins
 * the list; when the server is nearly full, the connections that have
 * waited longest make room, the way nginx drains its idle keep-alive
 * connections when it runs out: a fresh probe is never the oldest. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    dynhc_server *srv = cls;
    connection *c = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (c != NULL) {
            pthread_mutex_lock(&srv->lock);
            if (!c->cut) {
                unlink_connection(srv, c);
            }
            c->older = srv->free_nodes;
            srv->free_nodes = c;
            pthread_mutex_unlock(&srv->lock);
        }
        return;
    }
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info == NULL) {
        return;
    }
    pthread_mutex_lock(&srv->lock);
    c = srv->free_nodes;
    if (c == NULL) {
        /* More than the limit (libmicrohttpd keeps to it): out of the
         * list it would escape its deadline, so it is refused. */
        pthread_mutex_unlock(&srv->lock);
        shutdown(info->connect_fd, SHUT_RDWR);
        return;
    }
    srv->free_nodes = c->older;
    memset(c, 0, sizeof(*c));
    c->fd = info->connect_fd;
    *socket_context = c;
    int watchdog_idle = srv->oldest == NULL;
    link_newest(srv, c, dynhc_now_ns());
    while (srv->open_count > srv->crowded_at) {
        cut(srv, srv->oldest);
    }
    if (watchdog_idle) {
        pthread_cond_signal(&srv->wake);
    }
    pthread_mutex_unlock(&srv->lock);
}

/* A request has been answered (or given up): the connection's next
 * deadline runs from now. */
static void on_request_done(void *cls, struct MHD_Connection *conn, void **request_state,
                            enum MHD_RequestTerminationCode why)
{
    (void)request_state;
    (void)why;
    dynhc_server *srv = cls;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    connection *c = info != NULL ? info->socket_context : NULL;
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&srv->lock);
    if (!c->cut) {
        unlink_connection(srv, c);
        link_newest(srv, c, dynhc_now_ns());
    }
    pthread_mutex_unlock(&srv->lock);
}

/* The watchdog: cuts each connection when its deadline passes, whatever it
 * is doing then (sending its request head one byte at a time, a body, or
 * reading its answer slowly), and sleeps until the next deadline. */
static void *watch_deadlines(void *arg)
{
    dynhc_server *srv = arg;
    pthread_mutex_lock(&srv->lock);
    while (!srv->stopping) {
        uint64_t now = dynhc_now_ns();
        while (srv->oldest != NULL && now - srv->oldest->since_ns >= srv->deadline_ns) {
            cut(srv, srv->oldest);
        }
        if (srv->oldest == NULL) {
            pthread_cond_wait(&srv->wake, &srv->lock);
        } else {
            uint64_t due = srv->oldest->since_ns + srv->deadline_ns;
            struct timespec until = {(time_t)(due / DYNHCP_NS_PER_SEC),
                                     (long)(due % DYNHCP_NS_PER_SEC)};
            pthread_cond_timedwait(&srv->wake, &srv->lock, &until);
        }
    }
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

static void stop_watchdog(dynhc_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    srv->stopping = 1;
    pthread_cond_signal(&srv->wake);
    pthread_mutex_unlock(&srv->lock);
    pthread_join(srv->watchdog, NULL);
}

/* The connection limit: a share of the soft file limit, read now. The
 * library never changes the limit; that belongs to the host. */
static size_t connection_limit(void)
{
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur == RLIM_INFINITY ||
        files.rlim_cur / FILE_LIMIT_DIVISOR > MAX_CONNECTIONS) {
        return MAX_CONNECTIONS;
    }
    size_t limit = (size_t)(files.rlim_cur / FILE_LIMIT_DIVISOR);
    return limit > MIN_CONNECTIONS ? limit : MIN_CONNECTIONS;
}

size_t dynhcp_server_connection_limit(const dynhc_server *srv)
{
    return srv->connection_limit;
}

size_t dynhcp_server_open_connections(dynhc_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    size_t count = srv->open_count;
    pthread_mutex_unlock(&srv->lock);
    return count;
}

/* ---- life cycle ------------------------------------------------------------- */

static struct MHD_Response *json_response(const char *text)
{
    /* The prototype takes void *, but a persistent buffer is never written. */
    struct MHD_Response *response = MHD_create_response_from_buffer(
        strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
    if (response != NULL &&
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") !=
            MHD_YES) {
        MHD_destroy_response(response);
        return NULL;
    }
    return response;
}

/* The lock, and the watchdog's condition variable, which waits on the
 * monotonic clock like the deadlines. */
static int init_sync(dynhc_server *srv)
{
    int rc = dynhcp_cond_init_monotonic(&srv->wake);
    if (rc == 0 && (rc = pthread_mutex_init(&srv->lock, NULL)) != 0) {
        pthread_cond_destroy(&srv->wake);
    }
    return rc;
}

dynhc_server *dynhc_server_new(dynhc_sched *s)
{
    if (s == NULL) {
        return NULL;
    }
    dynhc_server *srv = dynhcp_calloc(1, sizeof(*srv));
    if (srv == NULL) {
        return NULL;
    }
    if (init_sync(srv) != 0) {
        dynhcp_free(srv);
        return NULL;
    }
    srv->sched = s;
    srv->deadline_ns = DYNHCP_SERVER_REQUEST_DEADLINE_MS * NS_PER_MS;
    srv->port = -1;
    srv->bound_port = -1;
    static const char any[] = "0.0.0.0";
    dynhcp_parse_host(any, strlen(any), &srv->addr);
    srv->health_path = dynhcp_strdup(DYNHCP_DEFAULT_HEALTH_PATH);
    srv->live_path = dynhcp_strdup(DYNHCP_DEFAULT_LIVE_PATH);
    srv->not_found = json_response("{\"error\":\"not found\"}");
    srv->not_allowed = json_response("{\"error\":\"method not allowed\"}");
    srv->no_memory = json_response("{\"error\":\"out of memory\"}");
    if (srv->health_path == NULL || srv->live_path == NULL || srv->not_found == NULL ||
        srv->not_allowed == NULL || srv->no_memory == NULL ||
        MHD_add_response_header(srv->not_allowed, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES) {
        dynhc_server_free(srv);
        return NULL;
    }
    return srv;
}

void dynhc_server_free(dynhc_server *srv)
{
    if (srv == NULL) {
        return;
    }
    dynhc_server_stop(srv);
    dynhcp_free(srv->health_path);
    dynhcp_free(srv->live_path);
    if (srv->not_found != NULL) {
        MHD_destroy_response(srv->not_found);
    }
    if (srv->not_allowed != NULL) {
        MHD_destroy_response(srv->not_allowed);
    }
    if (srv->no_memory != NULL) {
        MHD_destroy_response(srv->no_memory);
    }
    pthread_cond_destroy(&srv->wake);
    pthread_mutex_destroy(&srv->lock);
    dynhcp_free(srv);
}

/* "127.0.0.1:8080" or "[::1]:8080", for the log. */
static void describe_address(const dynhc_server *srv, int port, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (srv->addr.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&srv->addr)->sin6_addr, host,
                  sizeof(host));
        snprintf(buf, size, "[%s]:%d", host, port);
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&srv->addr)->sin_addr, host,
                  sizeof(host));
        snprintf(buf, size, "%s:%d", host, port);
    }
}

/* Gives back the connection nodes once no thread can use them. */
static void release_pool(dynhc_server *srv)
{
    dynhcp_free(srv->pool);
    srv->pool = NULL;
    srv->free_nodes = NULL;
    srv->connection_limit = 0;
}

int dynhc_server_start(dynhc_server *srv, int *sys_errno)
{
    if (srv == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    if (srv->daemon != NULL) {
        return DYNHC_ERR_BUSY;
    }
    if (srv->port < 0) {
        return DYNHC_DISABLED;
    }
    /* MHD_USE_ITC gives each thread a channel that wakes it when the server
     * stops: without it, a thread whose connections are quiet sleeps on in
     * epoll until its next timeout, and stopping takes as long. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    if (srv->addr.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
        ((struct sockaddr_in6 *)&srv->addr)->sin6_port = htons((uint16_t)srv->port);
    } else {
        ((struct sockaddr_in *)&srv->addr)->sin_port = htons((uint16_t)srv->port);
    }
    size_t limit = connection_limit();
    srv->pool = dynhcp_calloc(limit, sizeof(*srv->pool));
    if (srv->pool == NULL) {
        return DYNHC_ERR_NOMEM;
    }
    srv->free_nodes = NULL;
    for (size_t i = limit; i > 0; i--) {
        srv->pool[i - 1].older = srv->free_nodes;
        srv->free_nodes = &srv->pool[i - 1];
    }
    srv->connection_limit = limit;
    /* Room kept free: connections cut are counted by libmicrohttpd until
     * its thread has closed them. */
    srv->crowded_at = srv->connection_limit - srv->connection_limit / 8;
    srv->stopping = 0;

    /* The threads block every signal (they inherit the mask they are
     * created with): process signals belong to the host's own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&srv->watchdog, NULL, watch_deadlines, srv);
    if (rc != 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        release_pool(srv);
        char reason[128] = "unknown error";
        strerror_r(rc, reason, sizeof(reason));
        dynhcp_sched_log(srv->sched, DYNHC_LOG_WARNING,
                         "status server: cannot start its watchdog thread: %s", reason);
        return dynhcp_system_error(rc, sys_errno);
    }
    /* The logger first: libmicrohttpd reports the options after it through it. */
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)srv->port, NULL, NULL, answer, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        srv, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&srv->addr,
        MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)srv->connection_limit, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_NOTIFY_COMPLETED, on_request_done, srv, MHD_OPTION_END);
    rc = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    char where[INET6_ADDRSTRLEN + 16];
    if (srv->daemon == NULL) {
        stop_watchdog(srv);
        release_pool(srv);
        char reason[128] = "unknown error";
        strerror_r(rc, reason, sizeof(reason));
        describe_address(srv, srv->port, where, sizeof(where));
        dynhcp_sched_log(srv->sched, DYNHC_LOG_WARNING, "status server: cannot listen on %s: %s",
                         where, reason);
        return dynhcp_system_error(rc, sys_errno);
    }
    srv->bound_port = srv->port;
    if (srv->port == 0) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
        srv->bound_port = info != NULL && info->port != 0 ? info->port : -1;
    }
    describe_address(srv, srv->bound_port, where, sizeof(where));
    dynhcp_sched_log(
        srv->sched, DYNHC_LOG_INFO,
        "status server listening on %s (health %s, live %s, metrics " DYNHCP_METRICS_PATH ")",
        where, srv->health_path, srv->live_path);
    return DYNHC_OK;
}

int dynhc_server_port(const dynhc_server *srv)
{
    return srv != NULL ? srv->bound_port : -1;
}

int dynhc_server_address(const dynhc_server *srv, char *buf, size_t size)
{
    if (srv == NULL || srv->bound_port < 0 || buf == NULL || size == 0) {
        return DYNHC_ERR_INVALID_ARG;
    }
    describe_address(srv, srv->bound_port, buf, size);
    return DYNHC_OK;
}

int dynhc_server_stop(dynhc_server *srv)
{
    if (srv == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    if (srv->daemon != NULL) {
        /* Closes the listening socket and every connection, and joins the
         * threads: no request runs after this. The threads' wakeup channel
         * (MHD_USE_ITC) makes it quick whatever the connections do. */
        MHD_stop_daemon(srv->daemon);
        stop_watchdog(srv);
        srv->daemon = NULL;
        srv->bound_port = -1;
        release_pool(srv);
    }
    return DYNHC_OK;
}

#else /* built without libmicrohttpd */

int dynhc_server_supported(void)
{
    return 0;
}

dynhc_server *dynhc_server_new(dynhc_sched *s)
{
    (void)s;
    return NULL;
}

void dynhc_server_free(dynhc_server *srv)
{
    (void)srv;
}

int dynhc_server_set_host(dynhc_server *srv, const char *host)
{
    (void)srv;
    (void)host;
    return DYNHC_ERR_UNSUPPORTED;
}

int dynhc_server_set_port(dynhc_server *srv, int port)
{
    (void)srv;
    (void)port;
    return DYNHC_ERR_UNSUPPORTED;
}

int dynhc_server_set_health_path(dynhc_server *srv, const char *path)
{
    (void)srv;
    (void)path;
    return DYNHC_ERR_UNSUPPORTED;
}

int dynhc_server_set_live_path(dynhc_server *srv, const char *path)
{
    (void)srv;
    (void)path;
    return DYNHC_ERR_UNSUPPORTED;
}

int dynhc_server_load_env(dynhc_server *srv, dynhc_getenv_fn fn, void *user_data)
{
    (void)srv;
    (void)fn;
    (void)user_data;
    return DYNHC_ERR_UNSUPPORTED;
}

int dynhc_server_start(dynhc_server *srv, int *sys_errno)
{
    (void)srv;
    (void)sys_errno;
    return DYNHC_ERR_UNSUPPORTED;
}

int dynhc_server_port(const dynhc_server *srv)
{
    (void)srv;
    return -1;
}

int dynhc_server_address(const dynhc_server *srv, char *buf, size_t size)
{
    (void)srv;
    (void)buf;
    (void)size;
    return DYNHC_ERR_UNSUPPORTED;
}

int dynhc_server_stop(dynhc_server *srv)
{
    (void)srv;
    return DYNHC_ERR_UNSUPPORTED;
}

#endif
