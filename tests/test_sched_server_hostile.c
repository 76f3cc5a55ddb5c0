/* test_sched_server_hostile.c: the status server under hostile clients
 * (SPEC 4): stopping must be quick whatever the connections are doing.
 *
 * Clients and server share this process, so it raises its own soft file
 * limit and skips when the hard limit is too low. The name starts with
 * test_sched so that the ThreadSanitizer stage runs it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <dynhc/dynhc.h>

/* How long a probe may take before it counts as unanswered; a kubelet's
 * default timeoutSeconds is 1. */
#define PROBE_TIMEOUT_MS 2000
/* "Well under a second" (SPEC 4). */
#define STOP_BOUND_MS 500

/* ---- time and file limits ------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Raises the soft file limit to the hard one; 0 when needed descriptors
 * then fit, -1 (after saying why) when they do not. */
static int allow_descriptors(rlim_t needed)
{
    struct rlimit limit;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &limit), 0);
    limit.rlim_cur = limit.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &limit), 0);
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) {
        print_message("skipped: needs %lu file descriptors, the hard limit is %lu\n",
                      (unsigned long)needed, (unsigned long)limit.rlim_max);
        return -1;
    }
    return 0;
}

/* ---- a server ---------------------------------------------------------------------- */

typedef struct world {
    dynhc_sched *s;
    dynhc_server *srv;
    int port;
} world;

/* The test's server. It and everything below are reachable from the
 * teardown: a failed assertion jumps out of a test, and the next one must
 * not inherit its server, threads or thousands of sockets. */
static world the_world;

/* A server on 127.0.0.1 for a scheduler without endpoints (its health is
 * 503, which a probe counts as an answer as much as 200). */
static world *world_start(void)
{
    world *w = &the_world;
    w->s = dynhc_sched_new();
    assert_non_null(w->s);
    w->srv = dynhc_server_new(w->s);
    assert_non_null(w->srv);
    assert_int_equal(dynhc_server_set_host(w->srv, "127.0.0.1"), DYNHC_OK);
    assert_int_equal(dynhc_server_set_port(w->srv, 0), DYNHC_OK);
    assert_int_equal(dynhc_server_start(w->srv), DYNHC_OK);
    w->port = dynhc_server_port(w->srv);
    assert_true(w->port > 0);
    return w;
}

static void world_end(world *w)
{
    dynhc_server_free(w->srv);
    dynhc_sched_free(w->s);
    memset(w, 0, sizeof(*w));
}

/* ---- raw connections ------------------------------------------------------------- */

static void set_timeouts(int fd, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
}

/* The sockets a test has open, by number, for the teardown. */
#define MAX_SOCKETS 65536
static unsigned char is_test_socket[MAX_SOCKETS];

/* A connection to the server, or -1 when connect fails or takes longer
 * than a probe may. Reads and writes time out likewise. */
static int open_connection(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0 && fd < MAX_SOCKETS);
    is_test_socket[fd] = 1;
    set_timeouts(fd, PROBE_TIMEOUT_MS);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) != 0) {
        is_test_socket[fd] = 0;
        close(fd);
        return -1;
    }
    return fd;
}

/* Closes with a reset: thousands of test sockets must not sit in
 * TIME_WAIT and use up the ephemeral ports for the next run. */
static void close_hard(int fd)
{
    is_test_socket[fd] = 0;
    struct linger reset = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    close(fd);
}

static int send_all(int fd, const char *bytes, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, bytes, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return -1;
        }
        bytes += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_text(int fd, const char *text)
{
    return send_all(fd, text, strlen(text));
}

/* 1 when the server has closed fd (end of stream or reset), 0 while it
 * is open with nothing to read. Never waits. */
static int closed_by_server(int fd)
{
    char byte;
    ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Reads until the server closes, buf fills or reads time out. */
static void read_answer(int fd, char *buf, size_t size)
{
    size_t got = 0;
    while (got < size) {
        ssize_t n = recv(fd, buf + got, size - got, 0);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
}

/* Reads answers into buf until count answer heads have come, the server
 * closes, or reads time out: after answering, the server may keep the
 * connection open for more. With count 0, takes only what has come. */
static void read_heads(int fd, char *buf, size_t size, int count)
{
    size_t got = 0;
    buf[0] = '\0';
    while (got < size - 1) {
        int heads = 0;
        for (const char *p = strstr(buf, "HTTP/1.1 "); p != NULL; p = strstr(p + 1, "HTTP/1.1 ")) {
            heads += strstr(p, "\r\n\r\n") != NULL;
        }
        if (count > 0 && heads >= count) {
            break;
        }
        ssize_t n = recv(fd, buf + got, size - 1 - got, count > 0 ? 0 : MSG_DONTWAIT);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
        buf[got] = '\0';
    }
}

/* ---- probes ----------------------------------------------------------------------- */

/* A kubelet-style probe: a fresh connection, GET of the health path,
 * answer read up to the end of its status line. Milliseconds from connect
 * to the status line, or -1 when no status line came within the timeout. */
static double probe(int port)
{
    double start = now_ms();
    int fd = open_connection(port);
    if (fd < 0) {
        return -1;
    }
    char buf[256];
    size_t got = 0;
    int ok = send_text(fd, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "User-Agent: kube-probe/1.30\r\nConnection: close\r\n\r\n") == 0;
    while (ok && got < sizeof(buf) - 1 && memchr(buf, '\n', got) == NULL) {
        ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        ok = n > 0;
        got += ok ? (size_t)n : 0;
    }
    double elapsed = now_ms() - start;
    close_hard(fd);
    buf[got] = '\0';
    ok = ok && (strncmp(buf, "HTTP/1.1 200 ", 13) == 0 || strncmp(buf, "HTTP/1.1 503 ", 13) == 0);
    return ok ? elapsed : -1;
}

/* ---- slow clients ------------------------------------------------------------------ */

/* A thread that sends a line on each of its connections every 100 ms, the
 * way a slowloris client keeps a request head from ever ending. */
#define TRICKLE_PERIOD_MS 100

typedef struct trickler {
    int *fds;
    size_t count;
    const char *line;
    atomic_int stop;
    atomic_long failures; /* sends refused: the server closed the connection */
    pthread_t thread;
    int running;
} trickler;

/* Running tricklers, for the teardown. */
static trickler tricklers[2];

static void *trickle_main(void *arg)
{
    trickler *t = arg;
    while (!atomic_load(&t->stop)) {
        for (size_t i = 0; i < t->count; i++) {
            if (send(t->fds[i], t->line, strlen(t->line), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
                errno != EAGAIN) {
                atomic_fetch_add(&t->failures, 1);
            }
        }
        sleep_ms(TRICKLE_PERIOD_MS);
    }
    return NULL;
}

/* Opens count connections, each with the start of a request (head), and
 * starts sending line on them. */
static trickler *trickler_start(int port, size_t count, const char *head, const char *line)
{
    trickler *t = &tricklers[0];
    while (t->running) {
        t++;
        assert_true(t < tricklers + sizeof(tricklers) / sizeof(tricklers[0]));
    }
    memset(t, 0, sizeof(*t));
    t->fds = calloc(count, sizeof(t->fds[0]));
    assert_non_null(t->fds);
    t->count = count;
    t->line = line;
    atomic_init(&t->stop, 0);
    atomic_init(&t->failures, 0);
    for (size_t i = 0; i < count; i++) {
        t->fds[i] = open_connection(port);
        assert_true(t->fds[i] >= 0);
        assert_int_equal(send_text(t->fds[i], head), 0);
    }
    assert_int_equal(pthread_create(&t->thread, NULL, trickle_main, t), 0);
    t->running = 1;
    return t;
}

/* Stops the thread and closes the connections. */
static void trickler_stop(trickler *t)
{
    atomic_store(&t->stop, 1);
    assert_int_equal(pthread_join(t->thread, NULL), 0);
    t->running = 0;
    for (size_t i = 0; i < t->count; i++) {
        close_hard(t->fds[i]);
    }
    free(t->fds);
}

/* count idle connections: opened, nothing sent. */
static int *open_idle(int port, size_t count)
{
    int *fds = calloc(count, sizeof(fds[0]));
    assert_non_null(fds);
    for (size_t i = 0; i < count; i++) {
        fds[i] = open_connection(port);
        if (fds[i] < 0) {
            fail_msg("idle connection %zu: connect: %s", i, strerror(errno));
        }
    }
    return fds;
}

static void close_all(int *fds, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        close_hard(fds[i]);
    }
    free(fds);
}

/* ---- the tests --------------------------------------------------------------------- */

/* A client that asks for the metrics again and again without reading:
 * the server's answers back up in the socket buffers. */
static int open_slow_reader(int port)
{
    int fd = open_connection(port);
    assert_true(fd >= 0);
    static const char request[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < 20000; i++) {
        if (send(fd, request, strlen(request), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            break; /* the server stopped reading: its answers are stuck */
        }
    }
    return fd;
}

/* Stops the server, says how long it took and fails when that was not
 * well under a second. */
static void assert_stop_quick(world *w, const char *setting)
{
    double start = now_ms();
    assert_int_equal(dynhc_server_stop(w->srv), DYNHC_OK);
    double took = now_ms() - start;
    print_message("stopped in %.1f ms with %s\n", took, setting);
    if (took > STOP_BOUND_MS) {
        fail_msg("stopping took %.0f ms with %s", took, setting);
    }
}

static void stop_is_quick_in_every_connection_state(void **state)
{
    (void)state;
    if (allow_descriptors(4096) != 0) {
        skip();
    }
    /* Quiet: idle connections past the connection limit (256), nothing
     * else, so that no traffic wakes the server's threads. */
    world *w = world_start();
    size_t flood = 320;
    int *idle = open_idle(w->port, flood);
    /* A fresh probe is taken after everything before it (or, with no room,
     * times out): either way the server is as full as it gets. */
    (void)probe(w->port);
    assert_stop_quick(w, "idle connections past the limit");
    assert_true(closed_by_server(idle[flood - 1]));
    close_all(idle, flood);
    world_end(w);

    /* Busy: mid-head, mid-body, answers stuck in full buffers, keep-alive
     * between requests, and idle ones, within the limit. */
    w = world_start();
    trickler *heads =
        trickler_start(w->port, 16, "GET /health HTTP/1.1\r\nHost: x\r\n", "X-Slow: 1\r\n");
    trickler *bodies = trickler_start(
        w->port, 16, "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",
        "body bytes\r\n");
    int reader = open_slow_reader(w->port);
    int keep = open_connection(w->port);
    assert_true(keep >= 0);
    char buf[2048];
    assert_int_equal(send_text(keep, "HEAD /live HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    read_heads(keep, buf, sizeof(buf), 1);
    assert_true(strncmp(buf, "HTTP/1.1 200", 12) == 0);
    idle = open_idle(w->port, 128);
    assert_true(probe(w->port) >= 0);
    assert_stop_quick(w, "slow heads and bodies, a stuck reader, keep-alive and idle");
    read_answer(keep, buf, sizeof(buf));
    assert_true(closed_by_server(keep));
    close_hard(keep);
    close_hard(reader);
    trickler_stop(heads);
    trickler_stop(bodies);
    close_all(idle, 128);
    world_end(w);
}

/* Whatever a test left behind when it failed half way. */
static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(tricklers) / sizeof(tricklers[0]); i++) {
        if (tricklers[i].running) {
            trickler_stop(&tricklers[i]);
        }
    }
    for (int fd = 0; fd < MAX_SOCKETS; fd++) {
        if (is_test_socket[fd]) {
            close_hard(fd);
        }
    }
    if (the_world.srv != NULL) {
        world_end(&the_world);
    }
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(stop_is_quick_in_every_connection_state, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
