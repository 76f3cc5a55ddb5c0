/* test_sched_server_hostile.c: the status server under hostile clients
 * (SPEC 4, docs/robustness.md). Thousands of idle connections, slow-header
 * (slowloris) clients, malformed requests and floods past the connection
 * limit are held open while fresh connections probe the health path, the
 * way a kubelet does: the probes must be answered within 100 ms, and
 * stopping must be quick whatever the connections are doing.
 *
 * Clients and server share this process, so it raises its own soft file
 * limit and skips when the hard limit is too low. Latency is judged on the
 * median of many probes, so that a loaded machine cannot fail it: an answer
 * takes well under a millisecond, in the sanitizer builds and valgrind too.
 * Under valgrind, which runs threads one at a time, the scripts shrink the
 * load: DYNHC_TEST_IDLE_CONNECTIONS (default 2000) and
 * DYNHC_TEST_SLOW_CONNECTIONS (300). The name starts with test_sched so
 * that the ThreadSanitizer stage runs it. */
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

#include "server_internal.h"

/* How long a probe may take before it counts as unanswered; a kubelet's
 * default timeoutSeconds is 1. */
#define PROBE_TIMEOUT_MS 2000
/* Probes per measurement: their median must be within PROBE_BOUND_MS. */
#define PROBES 21
#define PROBE_BOUND_MS 100.0
/* "Well under a second" (SPEC 4). */
#define STOP_BOUND_MS 500

/* ---- settings from the environment ------------------------------------------ */

static long env_count(const char *name, long fallback)
{
    const char *text = getenv(name);
    long n = text != NULL ? strtol(text, NULL, 10) : 0;
    return n > 0 ? n : fallback;
}

static size_t idle_connections(void)
{
    return (size_t)env_count("DYNHC_TEST_IDLE_CONNECTIONS", 2000);
}

static size_t slow_connections(void)
{
    return (size_t)env_count("DYNHC_TEST_SLOW_CONNECTIONS", 300);
}

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

/* Sets the soft file limit (the hard one stays). */
static void set_soft_descriptor_limit(rlim_t soft)
{
    struct rlimit limit;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &limit), 0);
    limit.rlim_cur = soft;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &limit), 0);
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
 * 503, which a probe counts as an answer as much as 200). deadline_ms 0
 * keeps the default request deadline. */
static world *world_start(uint64_t deadline_ms)
{
    world *w = &the_world;
    w->s = dynhc_sched_new();
    assert_non_null(w->s);
    w->srv = dynhc_server_new(w->s);
    assert_non_null(w->srv);
    assert_int_equal(dynhc_server_set_host(w->srv, "127.0.0.1"), DYNHC_OK);
    assert_int_equal(dynhc_server_set_port(w->srv, 0), DYNHC_OK);
    if (deadline_ms != 0) {
        assert_int_equal(dynhcp_server_set_request_deadline_ms(w->srv, deadline_ms), DYNHC_OK);
    }
    assert_int_equal(dynhc_server_start(w->srv, NULL), DYNHC_OK);
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

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Fails unless every probe was answered and their median is within the
 * bound; says what was measured. */
static void assert_probes_fast(double *ms, size_t count, const char *setting)
{
    size_t unanswered = 0;
    for (size_t i = 0; i < count; i++) {
        unanswered += ms[i] < 0;
    }
    qsort(ms, count, sizeof(ms[0]), compare_doubles);
    double median = ms[count / 2];
    print_message("%s: %zu fresh probes, median %.2f ms, max %.2f ms, %zu unanswered\n", setting,
                  count, median, ms[count - 1], unanswered);
    if (unanswered > 0) {
        fail_msg("%zu of %zu probes got no answer within %d ms", unanswered, count,
                 PROBE_TIMEOUT_MS);
    }
    if (median > PROBE_BOUND_MS) {
        fail_msg("the median probe took %.2f ms, more than %.0f ms", median, PROBE_BOUND_MS);
    }
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

/* ---- malformed requests ------------------------------------------------------------ */

/* What a malformed request may get. ERROR_OR_CLOSE: an error status
 * (4xx, or 505 for an unknown version), or the connection closed without
 * an answer; never a success. LENIENT: requests that break a rule but can
 * be read one way only, which libmicrohttpd answers: any single answer or
 * a close. OK_THEN_ERROR: a valid request pipelined before garbage gets
 * its answer, then the garbage gets an error or a close. CUT_SHORT: a
 * request that ends early; the server may close at once or wait for the
 * rest until the deadline, but never answers it with a success. */
enum expectation { ERROR_OR_CLOSE, LENIENT, OK_THEN_ERROR, CUT_SHORT };

#define MAX_HOSTILE 32

typedef struct hostile {
    const char *name;
    char *bytes; /* malloc'd */
    size_t len;
    enum expectation expect;
} hostile;

/* A case from a string literal, NUL bytes included. */
#define HOSTILE(name, literal, expect) hostile_bytes(name, literal, sizeof(literal) - 1, expect)

static hostile hostile_bytes(const char *name, const char *bytes, size_t len,
                             enum expectation expect)
{
    hostile h = {name, malloc(len), len, expect};
    assert_non_null(h.bytes);
    memcpy(h.bytes, bytes, len);
    return h;
}

/* prefix, then n copies of unit, then suffix. */
static hostile hostile_repeat(const char *name, const char *prefix, const char *unit, size_t n,
                              const char *suffix)
{
    size_t len = strlen(prefix) + n * strlen(unit) + strlen(suffix);
    char *bytes = malloc(len + 1);
    assert_non_null(bytes);
    char *p = bytes;
    p += sprintf(p, "%s", prefix);
    for (size_t i = 0; i < n; i++) {
        p += sprintf(p, "%s", unit);
    }
    sprintf(p, "%s", suffix);
    return (hostile){name, bytes, len, ERROR_OR_CLOSE};
}

/* The cases. Each is sent whole and the sending side closed, so that the
 * server can judge it at once; requests that never end are the slowloris
 * clients' business. */
static size_t hostile_cases(hostile *cases)
{
    size_t n = 0;
    cases[n++] = HOSTILE("garbage request line", "\x01\x02\x03 \xff\xfe garbage\r\n\r\n",
                         ERROR_OR_CLOSE);
    cases[n++] = HOSTILE("bad method", "G\x7f" "ET /health HTTP/1.1\r\nHost: x\r\n\r\n",
                         ERROR_OR_CLOSE);
    cases[n++] = HOSTILE("HTTP/0.9", "GET /health\r\n\r\n", ERROR_OR_CLOSE);
    cases[n++] = HOSTILE("unknown version", "GET /health HTTP/7.1\r\nHost: x\r\n\r\n",
                         ERROR_OR_CLOSE);
    cases[n++] = HOSTILE("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ERROR_OR_CLOSE);
    cases[n++] = HOSTILE("TLS hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
                         ERROR_OR_CLOSE);
    cases[n++] = HOSTILE("header without colon",
                         "GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
                         ERROR_OR_CLOSE);
    cases[n++] = HOSTILE("NUL in a header",
                         "GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", LENIENT);
    cases[n++] = HOSTILE("space before a colon",
                         "GET /health HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n", LENIENT);
    cases[n++] = HOSTILE("folded header",
                         "GET /health HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n", LENIENT);
    cases[n++] = HOSTILE("no Host", "GET /health HTTP/1.1\r\n\r\n", LENIENT);
    cases[n++] = HOSTILE("bare line feeds", "GET /health HTTP/1.1\nHost: x\n\n", LENIENT);
    cases[n++] = HOSTILE("length and chunked",
                         "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                         LENIENT);
    cases[n++] = HOSTILE("head cut short", "GET /health HTTP/1.1\r\nHo", CUT_SHORT);
    cases[n++] = HOSTILE("body cut short",
                         "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
                         CUT_SHORT);
    cases[n++] = HOSTILE("negative length",
                         "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                         ERROR_OR_CLOSE);
    cases[n++] = HOSTILE("length beyond 64 bits",
                         "POST /health HTTP/1.1\r\nHost: x\r\n"
                         "Content-Length: 99999999999999999999999\r\n\r\n",
                         ERROR_OR_CLOSE);
    cases[n++] = HOSTILE("bad chunk size",
                         "POST /health HTTP/1.1\r\nHost: x\r\n"
                         "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
                         ERROR_OR_CLOSE);
    cases[n++] = HOSTILE("pipelined garbage",
                         "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                         "\x01\x02 garbage \x03\r\n\r\n",
                         OK_THEN_ERROR);
    cases[n++] = hostile_repeat("oversized URL", "GET /", "a", 200 * 1024,
                                " HTTP/1.1\r\nHost: x\r\n\r\n");
    cases[n++] = hostile_repeat("huge header", "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ", "b",
                                200 * 1024, "\r\n\r\n");
    cases[n++] = hostile_repeat("many headers", "GET /health HTTP/1.1\r\nHost: x\r\n",
                                "X-Many: yes\r\n", 20000, "\r\n");
    cases[n++] = hostile_repeat("huge method", "", "M", 100 * 1024, " /health HTTP/1.1\r\n\r\n");
    assert_true(n <= MAX_HOSTILE);
    return n;
}

/* Sends the case on a fresh connection and closes the sending side, so
 * that the answer can be read later. -1 when it cannot connect. */
static int send_hostile(int port, const hostile *h)
{
    int fd = open_connection(port);
    if (fd >= 0) {
        /* The server may close before it has read everything. */
        (void)send_all(fd, h->bytes, h->len);
        shutdown(fd, SHUT_WR);
    }
    return fd;
}

static int is_error_status(const char *line)
{
    return strncmp(line, "HTTP/1.1 4", 10) == 0 || strncmp(line, "HTTP/1.1 505", 12) == 0;
}

static void assert_hostile_answer(const hostile *h, int fd)
{
    if (fd < 0) {
        fail_msg("%s: cannot connect", h->name);
    }
    char buf[4096];
    read_heads(fd, buf, sizeof(buf),
               h->expect == CUT_SHORT ? 0 : h->expect == OK_THEN_ERROR ? 2 : 1);
    close_hard(fd);
    const char *rest = buf;
    if (h->expect == OK_THEN_ERROR) {
        if (strncmp(rest, "HTTP/1.1 200", 12) != 0 && strncmp(rest, "HTTP/1.1 503", 12) != 0) {
            fail_msg("%s: the valid request got no answer: %.80s", h->name, buf);
        }
        const char *next = strstr(rest + 1, "HTTP/1.1 ");
        rest = next != NULL ? next : "";
    }
    if (h->expect == LENIENT ? rest[0] != '\0' && strncmp(rest, "HTTP/1.1 ", 9) != 0
                             : rest[0] != '\0' && !is_error_status(rest)) {
        fail_msg("%s: expected %s, got: %.80s", h->name,
                 h->expect == LENIENT ? "an answer or a close" : "an error or a close", rest);
    }
}

/* ---- the tests --------------------------------------------------------------------- */

static void fresh_probes_are_fast_among_idle_slow_and_malformed_clients(void **state)
{
    (void)state;
    size_t idle = idle_connections(), slow = slow_connections();
    /* Both ends of each connection live here, plus the malformed ones. */
    if (allow_descriptors((rlim_t)(2 * (idle + slow) + 256)) != 0) {
        skip();
    }
    /* A long deadline: this test is about load, and must not see its
     * held connections cut when valgrind makes it slow. */
    world *w = world_start(120000);
    int *idle_fds = open_idle(w->port, idle);
    trickler *slowloris =
        trickler_start(w->port, slow, "GET /health HTTP/1.1\r\nHost: x\r\n", "X-Slow: 1\r\n");

    hostile cases[MAX_HOSTILE];
    size_t case_count = hostile_cases(cases);
    int case_fds[MAX_HOSTILE];
    double ms[PROBES + MAX_HOSTILE];
    size_t probes = 0;
    /* A malformed request, then a probe, while everything else is held. */
    for (size_t i = 0; i < case_count; i++) {
        case_fds[i] = send_hostile(w->port, &cases[i]);
        ms[probes++] = probe(w->port);
    }
    while (probes < PROBES) {
        ms[probes++] = probe(w->port);
    }
    char setting[96];
    snprintf(setting, sizeof(setting), "%zu idle and %zu slowloris connections held", idle, slow);
    assert_probes_fast(ms, probes, setting);
    for (size_t i = 0; i < case_count; i++) {
        assert_hostile_answer(&cases[i], case_fds[i]);
        free(cases[i].bytes);
    }

    /* Held, not dropped: the probes were not fast because the server shed
     * the load. */
    size_t closed = 0;
    for (size_t i = 0; i < idle; i++) {
        closed += (size_t)closed_by_server(idle_fds[i]);
    }
    assert_int_equal(closed, 0);
    assert_int_equal(atomic_load(&slowloris->failures), 0);
    assert_true(dynhcp_server_open_connections(w->srv) >= idle + slow);

    trickler_stop(slowloris);
    close_all(idle_fds, idle);
    world_end(w);
}

static void fresh_probes_get_in_past_the_connection_limit(void **state)
{
    (void)state;
    if (allow_descriptors(4096) != 0) {
        skip();
    }
    /* The limit follows the file limit at start: half of 512. */
    set_soft_descriptor_limit(512);
    world *w = world_start(0);
    assert_int_equal(allow_descriptors(4096), 0);
    size_t limit = dynhcp_server_connection_limit(w->srv);
    assert_int_equal(limit, 256);

    /* Twice the limit, idle: the kernel queues what the server does not
     * take. */
    size_t flood = 2 * limit;
    int *fds = open_idle(w->port, flood);
    double ms[PROBES];
    for (size_t i = 0; i < PROBES; i++) {
        ms[i] = probe(w->port);
    }
    assert_probes_fast(ms, PROBES, "twice the connection limit held idle");
    assert_true(dynhcp_server_open_connections(w->srv) <= limit);
    /* The oldest made room; the newest are held. */
    assert_true(closed_by_server(fds[0]));
    assert_false(closed_by_server(fds[flood - 1]));
    close_all(fds, flood);
    world_end(w);
}

/* Whether fd is closed by the server, sending one more byte of head or
 * body first. */
static int trickle_byte_or_closed(int fd)
{
    return send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 || closed_by_server(fd);
}

static void requests_are_cut_at_the_deadline_however_they_trickle(void **state)
{
    (void)state;
    /* Eight times the keep-alive client's pause: a loaded machine may stall
     * it a while without its connection reaching the deadline. */
    enum { DEADLINE_MS = 800 };
    world *w = world_start(DEADLINE_MS);
    enum { IDLE, HEAD, BODY, SLOW_COUNT };
    static const char *const names[] = {"idle", "trickled head", "trickled body"};
    int fds[SLOW_COUNT];
    for (int i = 0; i < SLOW_COUNT; i++) {
        fds[i] = open_connection(w->port);
        assert_true(fds[i] >= 0);
    }
    assert_int_equal(send_text(fds[HEAD], "GET /health HTTP/1.1\r\nX-Slow: "), 0);
    assert_int_equal(send_text(fds[BODY], "POST /health HTTP/1.1\r\nHost: x\r\n"
                                          "Content-Length: 100000\r\n\r\n"),
                     0);
    /* A keep-alive client with a request every 100 ms for three deadlines:
     * each answer starts its deadline again, so it stays. */
    int keep = open_connection(w->port);
    assert_true(keep >= 0);

    double start = now_ms(), cut_at[SLOW_COUNT] = {0, 0, 0};
    int open_count = SLOW_COUNT;
    long keep_answers = 0;
    while (now_ms() - start < 6 * DEADLINE_MS &&
           (open_count > 0 || now_ms() - start < 3 * DEADLINE_MS)) {
        for (int i = 0; i < SLOW_COUNT; i++) {
            if (cut_at[i] == 0 && (i == IDLE ? closed_by_server(fds[i])
                                             : trickle_byte_or_closed(fds[i]))) {
                cut_at[i] = now_ms() - start;
                open_count--;
            }
        }
        char buf[1024];
        /* HEAD: an answer without a body, read whole by read_heads. */
        assert_int_equal(send_text(keep, "HEAD /live HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        read_heads(keep, buf, sizeof(buf), 1);
        if (strncmp(buf, "HTTP/1.1 200", 12) != 0) {
            fail_msg("the keep-alive client lost its connection after %ld answers, %.0f ms",
                     keep_answers, now_ms() - start);
        }
        keep_answers++;
        sleep_ms(100);
    }
    for (int i = 0; i < SLOW_COUNT; i++) {
        if (cut_at[i] == 0) {
            fail_msg("the %s connection is still open after %d ms", names[i], 6 * DEADLINE_MS);
        }
        print_message("%s connection cut after %.0f ms (deadline %d ms)\n", names[i], cut_at[i],
                      DEADLINE_MS);
        /* Not before the deadline (opened a little before start), and not
         * long after it. */
        assert_true(cut_at[i] >= DEADLINE_MS - 100);
        assert_true(cut_at[i] <= 4 * DEADLINE_MS);
        close_hard(fds[i]);
    }
    close_hard(keep);
    world_end(w);
}

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
    /* Quiet: idle connections at and past the limit, nothing else, so that
     * no traffic wakes the server's threads. */
    set_soft_descriptor_limit(512);
    world *w = world_start(0);
    assert_int_equal(allow_descriptors(4096), 0);
    size_t flood = dynhcp_server_connection_limit(w->srv) + 64;
    int *idle = open_idle(w->port, flood);
    /* A fresh probe is taken after everything before it (or, with no room,
     * times out): either way the server is as full as it gets. */
    (void)probe(w->port);
    assert_stop_quick(w, "idle connections past the limit");
    assert_true(closed_by_server(idle[flood - 1]));
    close_all(idle, flood);
    world_end(w);

    /* Busy: mid-head, mid-body, answers stuck in full buffers, keep-alive
     * between requests, and idle ones. */
    w = world_start(0);
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
    idle = open_idle(w->port, 256);
    assert_true(probe(w->port) >= 0);
    assert_stop_quick(w, "slow heads and bodies, a stuck reader, keep-alive and idle");
    read_answer(keep, buf, sizeof(buf));
    assert_true(closed_by_server(keep));
    close_hard(keep);
    close_hard(reader);
    trickler_stop(heads);
    trickler_stop(bodies);
    close_all(idle, 256);
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
        cmocka_unit_test_teardown(fresh_probes_are_fast_among_idle_slow_and_malformed_clients,
                                  teardown),
        cmocka_unit_test_teardown(fresh_probes_get_in_past_the_connection_limit, teardown),
        cmocka_unit_test_teardown(requests_are_cut_at_the_deadline_however_they_trickle,
                                  teardown),
        cmocka_unit_test_teardown(stop_is_quick_in_every_connection_state, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
