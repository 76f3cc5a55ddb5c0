/* test_sched_server.c: the status server (SPEC 4) over real HTTP. libcurl
 * is the client, on 127.0.0.1 against a server on port 0; the scheduler
 * runs on a fake clock, so readiness turns exactly when a test says. The
 * name starts with test_sched so that the ThreadSanitizer stage runs it. */
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
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include <dynhc/dynhc.h>

#include "support.h"

#define SEC 1000000000ull
/* Far from zero, like a real monotonic clock. */
#define T0 (1000 * SEC)

/* ---- a scheduler on a fake clock, and a server for it ----------------------- */

typedef struct world {
    _Atomic uint64_t now; /* read by the server's threads */
    dynhc_sched *s;
    dynhc_result *payload;
    dynhc_endpoint *ep;
    dynhc_server *srv;
    dynhc_check_result next_result; /* what the next check gets */
    /* Warnings and errors from the scheduler's log; the server's threads
     * may log too. */
    pthread_mutex_t log_lock;
    char warnings[8][512];
    size_t warning_count;
} world;

static uint64_t fake_clock(void *user_data)
{
    return atomic_load(&((world *)user_data)->now);
}

static void capture_log(dynhc_log_level level, const char *message, void *user_data)
{
    world *w = user_data;
    if (level < DYNHC_LOG_WARNING) {
        return;
    }
    pthread_mutex_lock(&w->log_lock);
    if (w->warning_count < 8) {
        snprintf(w->warnings[w->warning_count++], sizeof(w->warnings[0]), "%s", message);
    }
    pthread_mutex_unlock(&w->log_lock);
}

/* Completes every check at once with the result the test chose. */
static int complete_now(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                        void *user_data)
{
    (void)ep;
    const world *w = user_data;
    return dynhc_sched_complete(s, check->id, w->next_result, NULL) == DYNHC_OK ? 0 : -1;
}

static void world_init_with(world *w, dynhc_send_fn send, void *send_data)
{
    memset(w, 0, sizeof(*w));
    atomic_init(&w->now, T0);
    assert_int_equal(pthread_mutex_init(&w->log_lock, NULL), 0);

    /* An empty environment, so that the host's DYN_* variables stay out. */
    static fake_env no_env;
    dynhc_resolver *r = dynhc_resolver_new();
    assert_non_null(r);
    assert_int_equal(dynhc_resolver_set_getenv(r, fake_env_get, &no_env), DYNHC_OK);
    assert_int_equal(dynhc_resolver_set_payload(r, "{\"prompt\":\"ping\",\"max_tokens\":1}"),
                     DYNHC_OK);
    assert_int_equal(dynhc_resolver_resolve(r, &w->payload), DYNHC_OK);
    dynhc_resolver_free(r);

    w->s = dynhc_sched_new();
    assert_non_null(w->s);
    assert_int_equal(dynhc_sched_set_clock(w->s, fake_clock, w), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log(w->s, capture_log, w), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_mode(w->s, DYNHC_MODE_PERIODIC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_interval_ns(w->s, 10 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_spread_ns(w->s, 0), DYNHC_OK);
    assert_int_equal(sched_add(w->s, "generate", w->payload, send, send_data, NULL, &w->ep),
                     DYNHC_OK);
    w->srv = dynhc_server_new(w->s);
    assert_non_null(w->srv);
    assert_int_equal(dynhc_server_set_host(w->srv, "127.0.0.1"), DYNHC_OK);
    assert_int_equal(dynhc_server_set_port(w->srv, 0), DYNHC_OK);
}

static void world_init(world *w)
{
    world_init_with(w, complete_now, w);
}

static void world_start(world *w)
{
    char address[64], expected[64];
    assert_int_equal(dynhc_server_address(w->srv, address, sizeof(address)),
                     DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_server_start(w->srv, NULL), DYNHC_OK);
    assert_true(dynhc_server_port(w->srv) > 0);
    /* The address names the port bound, not the 0 asked for. */
    assert_int_equal(dynhc_server_address(w->srv, address, sizeof(address)), DYNHC_OK);
    snprintf(expected, sizeof(expected), ":%d", dynhc_server_port(w->srv));
    assert_non_null(strstr(address, expected));
}

static void world_end(world *w)
{
    dynhc_server_free(w->srv);
    dynhc_sched_free(w->s);
    dynhc_result_free(w->payload);
    pthread_mutex_destroy(&w->log_lock);
}

/* Moves the fake clock to now and runs what is due. */
static void tick_at(world *w, uint64_t now)
{
    atomic_store(&w->now, now);
    assert_true(dynhc_sched_tick(w->s, now) >= 0);
}

/* ---- an HTTP client ------------------------------------------------------------ */

typedef struct reply {
    CURLcode error;
    long code;
    char *body; /* NUL-terminated; NULL when empty */
    size_t body_len;
    char headers[4096];
    size_t headers_len;
    char content_type[128];
    long new_connections;
} reply;

static size_t collect_body(char *data, size_t size, size_t n, void *user_data)
{
    reply *r = user_data;
    size_t len = size * n;
    char *grown = realloc(r->body, r->body_len + len + 1);
    if (grown == NULL) {
        return 0;
    }
    memcpy(grown + r->body_len, data, len);
    r->body = grown;
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return len;
}

static size_t collect_header(char *data, size_t size, size_t n, void *user_data)
{
    reply *r = user_data;
    size_t len = size * n;
    size_t room = sizeof(r->headers) - 1 - r->headers_len;
    size_t kept = len < room ? len : room;
    memcpy(r->headers + r->headers_len, data, kept);
    r->headers_len += kept;
    r->headers[r->headers_len] = '\0';
    return len;
}

/*
 * One request on handle c, which keeps its connection for the next one.
 * method NULL is GET; body (may be NULL) is sent as is. Never asserts, so
 * that client threads may use it; free the reply with reply_free().
 */
static void http(CURL *c, const char *base, const char *method, const char *path,
                 const char *body, size_t body_len, reply *r)
{
    memset(r, 0, sizeof(*r));
    size_t size = strlen(base) + strlen(path) + 1;
    char *url = malloc(size);
    if (url == NULL) {
        r->error = CURLE_OUT_OF_MEMORY;
        return;
    }
    snprintf(url, size, "%s%s", base, path);
    curl_easy_reset(c); /* options only: the connection stays */
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (method != NULL && strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (method != NULL) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    r->error = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->new_connections);
    char *type = NULL;
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type != NULL) {
        snprintf(r->content_type, sizeof(r->content_type), "%s", type);
    }
    free(url);
}

static void reply_free(reply *r)
{
    free(r->body);
    r->body = NULL;
}

static void base_url(const world *w, char *buf, size_t size)
{
    snprintf(buf, size, "http://127.0.0.1:%d", dynhc_server_port(w->srv));
}

/* A request on a fresh handle that must succeed at the HTTP level. */
static void request(const world *w, const char *method, const char *path, reply *r)
{
    char base[64];
    base_url(w, base, sizeof(base));
    CURL *c = curl_easy_init();
    assert_non_null(c);
    http(c, base, method, path, NULL, 0, r);
    curl_easy_cleanup(c);
    if (r->error != CURLE_OK) {
        fail_msg("%s %s: %s", method != NULL ? method : "GET", path,
                 curl_easy_strerror(r->error));
    }
}

static long code_of(const world *w, const char *method, const char *path)
{
    reply r;
    request(w, method, path, &r);
    reply_free(&r);
    return r.code;
}

/* The value of a response header (case as sent), or "" when absent. */
static const char *header(const reply *r, const char *name, char *buf, size_t size)
{
    buf[0] = '\0';
    size_t len = strlen(name);
    for (const char *line = r->headers; *line != '\0';) {
        const char *end = strstr(line, "\r\n");
        if (end == NULL) {
            break;
        }
        if ((size_t)(end - line) > len + 1 && strncmp(line, name, len) == 0 && line[len] == ':') {
            const char *value = line + len + 1;
            value += *value == ' ';
            snprintf(buf, size, "%.*s", (int)(end - value), value);
            break;
        }
        line = end + 2;
    }
    return buf;
}

/* ---- the status JSON ------------------------------------------------------------- */

/* Fails unless text is the status JSON in Dynamo's shape with this status
 * for the overall status and the endpoint "generate". */
static cJSON *assert_status_json(const char *text, const char *status)
{
    assert_non_null(text);
    cJSON *json = cJSON_Parse(text);
    assert_non_null(json);
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, "status");
    assert_true(cJSON_IsString(item));
    assert_string_equal(item->valuestring, status);
    const cJSON *uptime = cJSON_GetObjectItemCaseSensitive(json, "uptime");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(uptime, "secs")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(uptime, "nanos")));
    const cJSON *endpoints = cJSON_GetObjectItemCaseSensitive(json, "endpoints");
    assert_true(cJSON_IsObject(endpoints));
    item = cJSON_GetObjectItemCaseSensitive(endpoints, "generate");
    assert_true(cJSON_IsString(item));
    assert_string_equal(item->valuestring, status);
    return json;
}

/* ---- argument checks ------------------------------------------------------------- */

static void setters_reject_bad_values_and_null(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    assert_int_equal(dynhc_server_supported(), 1);
    assert_null(dynhc_server_new(NULL));
    dynhc_server_free(NULL);
    assert_int_equal(dynhc_server_port(NULL), -1);
    assert_int_equal(dynhc_server_start(NULL, NULL), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_server_stop(NULL), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_server_load_env(NULL, NULL, NULL), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_server_set_host(NULL, "127.0.0.1"), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_server_set_port(NULL, 0), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_server_set_health_path(NULL, "/h"), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_server_set_live_path(NULL, "/l"), DYNHC_ERR_INVALID_ARG);

    static const char *const bad_hosts[] = {"",          "example.com", " 127.0.0.1", "127.0.0.1 ",
                                            "127.0.0.1:80", "[::1]",    "256.0.0.1",  "::1::2"};
    for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
        assert_int_equal(dynhc_server_set_host(w.srv, bad_hosts[i]), DYNHC_ERR_INVALID_ARG);
    }
    assert_int_equal(dynhc_server_set_host(w.srv, NULL), DYNHC_ERR_INVALID_ARG);
    static const char *const good_hosts[] = {"0.0.0.0", "::", "::1", "LocalHost", "10.1.2.3"};
    for (size_t i = 0; i < sizeof(good_hosts) / sizeof(good_hosts[0]); i++) {
        assert_int_equal(dynhc_server_set_host(w.srv, good_hosts[i]), DYNHC_OK);
    }

    assert_int_equal(dynhc_server_set_port(w.srv, -2), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_server_set_port(w.srv, 65536), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_server_set_port(w.srv, 65535), DYNHC_OK);
    assert_int_equal(dynhc_server_set_port(w.srv, -1), DYNHC_OK);

    static const char *const bad_paths[] = {"", "health", "/a b", "/a?b", "/a#b", "/a\tb",
                                            "/metrics", "/live"};
    for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
        assert_int_equal(dynhc_server_set_health_path(w.srv, bad_paths[i]),
                         DYNHC_ERR_INVALID_ARG);
    }
    assert_int_equal(dynhc_server_set_health_path(w.srv, NULL), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_server_set_live_path(w.srv, "/health"), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_server_set_live_path(w.srv, "/metrics"), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_server_set_live_path(w.srv, "live"), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_server_set_live_path(w.srv, NULL), DYNHC_ERR_INVALID_ARG);
    /* Unicode and percent signs are ordinary path bytes. */
    assert_int_equal(dynhc_server_set_health_path(w.srv, "/sant\xc3\xa9%20"), DYNHC_OK);
    assert_int_equal(w.warning_count, 0);
    world_end(&w);
}

/* ---- life cycle ------------------------------------------------------------------ */

static void server_is_off_until_a_port_is_set(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    dynhc_server *off = dynhc_server_new(w.s);
    assert_non_null(off);
    assert_int_equal(dynhc_server_start(off, NULL), DYNHC_DISABLED);
    assert_int_equal(dynhc_server_port(off), -1);
    assert_int_equal(dynhc_server_stop(off), DYNHC_OK);
    dynhc_server_free(off);
    assert_int_equal(dynhc_server_set_port(w.srv, -1), DYNHC_OK);
    int sys_errno = -1; /* left alone but for DYNHC_ERR_SYSTEM */
    assert_int_equal(dynhc_server_start(w.srv, &sys_errno), DYNHC_DISABLED);
    assert_int_equal(sys_errno, -1);
    assert_int_equal(dynhc_server_port(w.srv), -1);
    world_end(&w);
}

static void start_twice_is_busy_and_settings_wait_for_stop(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    world_start(&w);
    int port = dynhc_server_port(w.srv);
    assert_int_equal(dynhc_server_start(w.srv, NULL), DYNHC_ERR_BUSY);
    assert_int_equal(dynhc_server_set_port(w.srv, 0), DYNHC_ERR_BUSY);
    assert_int_equal(dynhc_server_set_host(w.srv, "::1"), DYNHC_ERR_BUSY);
    assert_int_equal(dynhc_server_set_health_path(w.srv, "/h"), DYNHC_ERR_BUSY);
    assert_int_equal(dynhc_server_set_live_path(w.srv, "/l"), DYNHC_ERR_BUSY);
    assert_int_equal(dynhc_server_load_env(w.srv, NULL, NULL), DYNHC_ERR_BUSY);
    assert_int_equal(dynhc_server_port(w.srv), port);
    assert_int_equal(code_of(&w, NULL, "/live"), 200);

    assert_int_equal(dynhc_server_stop(w.srv), DYNHC_OK);
    assert_int_equal(dynhc_server_port(w.srv), -1);
    assert_int_equal(dynhc_server_stop(w.srv), DYNHC_OK);
    /* Stopped means closed: nothing answers on the old port. */
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    reply r;
    http(c, base, NULL, "/live", NULL, 0, &r);
    assert_int_equal(r.error, CURLE_COULDNT_CONNECT);
    reply_free(&r);
    curl_easy_cleanup(c);

    /* And it starts again, with new settings. */
    assert_int_equal(dynhc_server_set_live_path(w.srv, "/alive"), DYNHC_OK);
    world_start(&w);
    assert_int_equal(code_of(&w, NULL, "/alive"), 200);
    assert_int_equal(code_of(&w, NULL, "/live"), 404);
    world_end(&w);
}

static void free_while_running_closes_open_connections(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    world_start(&w);
    char base[64];
    base_url(&w, base, sizeof(base));
    CURL *c = curl_easy_init();
    assert_non_null(c);
    reply r;
    http(c, base, NULL, "/metrics", NULL, 0, &r);
    assert_int_equal(r.code, 200);
    reply_free(&r);
    /* The keep-alive connection is still open when the server goes. */
    dynhc_server_free(w.srv);
    w.srv = NULL;
    curl_easy_cleanup(c);
    world_end(&w);
}

static void binding_a_port_in_use_is_a_system_error(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    world_start(&w);
    int port = dynhc_server_port(w.srv);
    dynhc_server *second = dynhc_server_new(w.s);
    assert_non_null(second);
    assert_int_equal(dynhc_server_set_host(second, "127.0.0.1"), DYNHC_OK);
    assert_int_equal(dynhc_server_set_port(second, port), DYNHC_OK);
    int sys_errno = 0;
    assert_int_equal(dynhc_server_start(second, &sys_errno), DYNHC_ERR_SYSTEM);
    assert_int_equal(sys_errno, EADDRINUSE);
    assert_int_equal(dynhc_server_port(second), -1);
    char expected[128];
    snprintf(expected, sizeof(expected),
             "status server: cannot listen on 127.0.0.1:%d: Address already in use", port);
    assert_int_equal(w.warning_count, 1);
    assert_string_equal(w.warnings[0], expected);
    assert_int_equal(dynhc_server_stop(second), DYNHC_OK);
    dynhc_server_free(second);
    /* The first one is unharmed. */
    assert_int_equal(code_of(&w, NULL, "/live"), 200);
    world_end(&w);
}

static void localhost_listens_on_the_ipv4_loopback(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    assert_int_equal(dynhc_server_set_host(w.srv, "localhost"), DYNHC_OK);
    world_start(&w);
    assert_int_equal(code_of(&w, NULL, "/live"), 200);
    world_end(&w);
}

static void an_ipv6_host_listens_on_ipv6(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    assert_int_equal(dynhc_server_set_host(w.srv, "::1"), DYNHC_OK);
    if (dynhc_server_start(w.srv, NULL) != DYNHC_OK) {
        world_end(&w);
        skip(); /* no IPv6 loopback here */
    }
    char base[64];
    snprintf(base, sizeof(base), "http://[::1]:%d", dynhc_server_port(w.srv));
    CURL *c = curl_easy_init();
    assert_non_null(c);
    reply r;
    http(c, base, NULL, "/live", NULL, 0, &r);
    assert_int_equal(r.error, CURLE_OK);
    assert_int_equal(r.code, 200);
    reply_free(&r);
    curl_easy_cleanup(c);
    world_end(&w);
}

/* ---- the routes ------------------------------------------------------------------- */

static void health_follows_readiness_503_then_200_then_503(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    world_start(&w);

    reply r;
    request(&w, NULL, "/health", &r);
    assert_int_equal(r.code, 503);
    assert_string_equal(r.content_type, "application/json");
    cJSON_Delete(assert_status_json(r.body, "notready"));
    reply_free(&r);

    w.next_result = DYNHC_CHECK_SUCCESS;
    tick_at(&w, T0);
    assert_int_equal(dynhc_sched_is_ready(w.s), 1);
    request(&w, NULL, "/health", &r);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.content_type, "application/json");
    cJSON *json = assert_status_json(r.body, "ready");
    /* The plain form: exactly Dynamo's three keys. */
    assert_int_equal(cJSON_GetArraySize(json), 3);
    cJSON_Delete(json);
    reply_free(&r);

    w.next_result = DYNHC_CHECK_FAILURE;
    tick_at(&w, T0 + 10 * SEC);
    request(&w, NULL, "/health", &r);
    assert_int_equal(r.code, 503);
    json = assert_status_json(r.body, "notready");
    const cJSON *uptime = cJSON_GetObjectItemCaseSensitive(json, "uptime");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(uptime, "secs")->valueint, 10);
    cJSON_Delete(json);
    reply_free(&r);
    world_end(&w);
}

static void head_gives_the_same_code_and_headers_without_a_body(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    world_start(&w);
    static const char *const paths[] = {"/health", "/live", "/metrics", "/nope"};
    for (size_t i = 0; i < 4; i++) {
        reply get, head;
        request(&w, NULL, paths[i], &get);
        request(&w, "HEAD", paths[i], &head);
        assert_int_equal(head.code, get.code);
        assert_int_equal(head.body_len, 0);
        assert_string_equal(head.content_type, get.content_type);
        char length[32], get_length[32];
        assert_int_equal(atol(header(&head, "Content-Length", length, sizeof(length))),
                         (long)get.body_len);
        assert_string_equal(length, header(&get, "Content-Length", get_length,
                                           sizeof(get_length)));
        reply_free(&get);
        reply_free(&head);
    }
    world_end(&w);
}

static void verbose_is_asked_with_a_query_argument(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    world_start(&w);
    static const struct {
        const char *query;
        int verbose;
    } cases[] = {{"", 0},           {"?verbose=1", 1}, {"?verbose", 1},   {"?verbose=true", 1},
                 {"?verbose=YES", 1}, {"?verbose=0", 0}, {"?verbose=no", 0}, {"?verbose=x", 0},
                 {"?other=1", 0},   {"?a=b&verbose=on", 1}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/health%s", cases[i].query);
        reply r;
        request(&w, NULL, path, &r);
        assert_int_equal(r.code, 503);
        cJSON *json = assert_status_json(r.body, "notready");
        const cJSON *checks = cJSON_GetObjectItemCaseSensitive(json, "checks");
        if (cases[i].verbose) {
            assert_non_null(cJSON_GetObjectItemCaseSensitive(checks, "generate"));
        } else if (checks != NULL) {
            fail_msg("%s: a plain status with checks", path);
        }
        cJSON_Delete(json);
        reply_free(&r);
    }
    world_end(&w);
}

static void live_answers_200_with_the_uptime_whatever_the_checks(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    world_start(&w);
    w.next_result = DYNHC_CHECK_FAILURE;
    tick_at(&w, T0);
    atomic_store(&w.now, T0 + 12 * SEC + 5);
    assert_int_equal(dynhc_sched_is_ready(w.s), 0);
    reply r;
    request(&w, NULL, "/live", &r);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.content_type, "application/json");
    assert_string_equal(r.body, "{\"status\":\"live\",\"uptime\":{\"secs\":12,\"nanos\":5}}");
    reply_free(&r);
    request(&w, NULL, "/live?verbose=1", &r);
    assert_int_equal(r.code, 200);
    reply_free(&r);
    world_end(&w);
}

/* A light check of the text exposition: comments are HELP or TYPE, every
 * sample is a dynhc_ name (or the standard process_start_time_seconds),
 * labels maybe, a space and a number. */
static void assert_exposition_lines(const char *text)
{
    size_t samples = 0;
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        assert_non_null(end); /* every line ends with a newline */
        char buf[1024];
        assert_true((size_t)(end - line) < sizeof(buf));
        snprintf(buf, sizeof(buf), "%.*s", (int)(end - line), line);
        if (buf[0] == '#') {
            if ((strncmp(buf, "# HELP ", 7) != 0 && strncmp(buf, "# TYPE ", 7) != 0) ||
                (strncmp(buf + 7, "dynhc_", 6) != 0 &&
                 strncmp(buf + 7, "process_start_time_seconds ", 27) != 0)) {
                fail_msg("a bad comment line: %s", buf);
            }
        } else {
            const char *space = strrchr(buf, ' ');
            char *num_end = NULL;
            if ((strncmp(buf, "dynhc_", 6) != 0 &&
                 strncmp(buf, "process_start_time_seconds ", 27) != 0) ||
                space == NULL ||
                (strtod(space + 1, &num_end), *num_end != '\0' || num_end == space + 1)) {
                fail_msg("a bad sample line: %s", buf);
            }
            samples++;
        }
        line = end + 1;
    }
    assert_true(samples > 0);
}

static void metrics_are_prometheus_text(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    world_start(&w);
    w.next_result = DYNHC_CHECK_SUCCESS;
    tick_at(&w, T0);
    reply r;
    request(&w, NULL, "/metrics", &r);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_exposition_lines(r.body);
    assert_non_null(strstr(r.body, "\ndynhc_endpoint_ready{dynhc_endpoint=\"generate\"} 1\n"));
    assert_non_null(strstr(r.body, "\ndynhc_health_checks_total{dynhc_endpoint=\"generate\","
                                   "result=\"success\"} 1\n"));
    reply_free(&r);
    world_end(&w);
}

static void unknown_paths_are_404_with_a_json_error(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    world_start(&w);
    static const char *const paths[] = {"/",        "/nope",       "/health/", "/HEALTH",
                                        "/healthz", "//health",    "/metrics/x", "/live/",
                                        "/%68ealth-", "/health%2F"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        reply r;
        request(&w, NULL, paths[i], &r);
        if (r.code != 404) {
            fail_msg("%s: %ld", paths[i], r.code);
        }
        assert_string_equal(r.content_type, "application/json");
        assert_string_equal(r.body, "{\"error\":\"not found\"}");
        reply_free(&r);
    }
    /* Whatever the method. */
    assert_int_equal(code_of(&w, "POST", "/nope"), 404);
    assert_int_equal(code_of(&w, "DELETE", "/"), 404);
    /* The query string is not part of the path. */
    assert_int_equal(code_of(&w, NULL, "/live?x=1"), 200);
    assert_int_equal(code_of(&w, NULL, "/metrics?name[]=a"), 200);
    assert_int_equal(code_of(&w, NULL, "/nope?/health"), 404);
    world_end(&w);
}

static void other_methods_are_405_with_allow(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    world_start(&w);
    static const char *const paths[] = {"/health", "/live", "/metrics"};
    static const char *const methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW"};
    for (size_t p = 0; p < 3; p++) {
        for (size_t m = 0; m < 6; m++) {
            reply r;
            request(&w, methods[m], paths[p], &r);
            if (r.code != 405) {
                fail_msg("%s %s: %ld", methods[m], paths[p], r.code);
            }
            char allow[64];
            assert_string_equal(header(&r, "Allow", allow, sizeof(allow)), "GET, HEAD");
            assert_string_equal(r.content_type, "application/json");
            assert_string_equal(r.body, "{\"error\":\"method not allowed\"}");
            reply_free(&r);
        }
    }
    world_end(&w);
}

static void request_bodies_are_read_and_the_connection_kept(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    world_start(&w);
    char base[64];
    base_url(&w, base, sizeof(base));
    size_t size = 256 * 1024;
    char *body = malloc(size);
    assert_non_null(body);
    memset(body, 'x', size);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    static const char *const paths[] = {"/health", "/nope", "/live"};
    for (size_t i = 0; i < 3; i++) {
        reply r;
        http(c, base, "POST", paths[i], body, size, &r);
        assert_int_equal(r.error, CURLE_OK);
        assert_int_equal(r.code, i == 1 ? 404 : 405);
        reply_free(&r);
        /* The next request goes on the same connection. */
        http(c, base, NULL, "/live", NULL, 0, &r);
        assert_int_equal(r.error, CURLE_OK);
        assert_int_equal(r.code, 200);
        assert_int_equal(r.new_connections, 0);
        reply_free(&r);
    }
    /* A body on a GET is dropped too. */
    reply r;
    http(c, base, "GET", "/live", "{}", 2, &r);
    assert_int_equal(r.code, 200);
    reply_free(&r);
    curl_easy_cleanup(c);
    free(body);
    world_end(&w);
}

/* ---- odd requests ------------------------------------------------------------------ */

/* Sends raw bytes on a new connection, closes its sending side and, when
 * wait_answer is set, reads until the server closes too (or 10 s pass).
 * Returns what came back (caller frees). */
static char *raw_exchange(int port, const char *bytes, size_t len, int wait_answer)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval timeout = {10, 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)), 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (const struct sockaddr *)&addr, sizeof(addr)), 0);
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, bytes + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            break; /* the server may close early on garbage */
        }
        sent += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    size_t capacity = 65536, got = 0;
    char *out = malloc(capacity);
    assert_non_null(out);
    while (wait_answer) {
        ssize_t n = recv(fd, out + got, capacity - got - 1, 0);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
        assert_true(got < capacity - 1);
    }
    out[got] = '\0';
    close(fd);
    return out;
}

static void pipelined_requests_are_answered_in_order(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    world_start(&w);
    static const char requests[] =
        "GET /live HTTP/1.1\r\nHost: x\r\n\r\n"
        "HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"
        "PUT /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char *out = raw_exchange(dynhc_server_port(w.srv), requests, strlen(requests), 1);
    const char *a = strstr(out, "HTTP/1.1 200");
    const char *b = a != NULL ? strstr(a + 1, "HTTP/1.1 503") : NULL;
    const char *c = b != NULL ? strstr(b + 1, "HTTP/1.1 405") : NULL;
    const char *d = c != NULL ? strstr(c + 1, "HTTP/1.1 404") : NULL;
    if (d == NULL) {
        fail_msg("answers out of order or missing:\n%s", out);
    }
    free(out);
    world_end(&w);
}

static void odd_requests_never_break_the_server(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    world_start(&w);
    int port = dynhc_server_port(w.srv);
    /* Each with the start of the answer expected: broken requests get
     * libmicrohttpd's own 4xx or 5xx; "" is not waited for (libmicrohttpd
     * may keep a half-closed connection until its timeout). */
    static const struct {
        const char *bytes;
        const char *answer;
    } odd[] = {
        {"\x01\x02\x03 garbage\r\n\r\n", "HTTP/1.1 4"},
        {"GET\r\n\r\n", ""},
        {"GET /live HTTP/9.9\r\nHost: x\r\n\r\n", "HTTP/1.1 5"},
        {"GET /live HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n", "HTTP/1.1 4"},
        {"GET /live HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", "HTTP/1.1 4"},
        {"GET /live HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
         "HTTP/1.1 4"},
        {"POST /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
         "Transfer-Encoding: chunked\r\n\r\n"
         "3\r\nabc\r\n0\r\n\r\n",
         "HTTP/1.1 405"},
        {"GET /live HTTP/1.1\r\nHost: x\r\n", ""}, /* cut short */
        {"GET /live HTTP/1.0\r\n\r\n", "HTTP/1.1 200"},
    };
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        const char *bytes = odd[i].bytes;
        char *out = raw_exchange(port, bytes, strlen(bytes), odd[i].answer[0] != '\0');
        if (strncmp(out, odd[i].answer, strlen(odd[i].answer)) != 0) {
            fail_msg("case %zu: expected %s, got:\n%s", i, odd[i].answer, out);
        }
        free(out);
        assert_int_equal(code_of(&w, NULL, "/live"), 200);
    }
    /* A URL longer than the connection's memory. */
    size_t size = 100 * 1024;
    char *path = malloc(size + 1);
    assert_non_null(path);
    path[0] = '/';
    memset(path + 1, 'a', size - 1);
    path[size] = '\0';
    long code = code_of(&w, NULL, path);
    free(path);
    assert_true(code == 414 || code == 431);
    /* Many headers. */
    char *flood = malloc(200 * 1024);
    assert_non_null(flood);
    size_t len = (size_t)sprintf(flood, "GET /live HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 5000; i++) {
        len += (size_t)sprintf(flood + len, "X-%d: y\r\n", i);
    }
    len += (size_t)sprintf(flood + len, "\r\n");
    char *out = raw_exchange(port, flood, len, 1);
    assert_true(out[0] == '\0' || strncmp(out, "HTTP/1.1 4", 10) == 0);
    free(out);
    free(flood);
    assert_int_equal(code_of(&w, NULL, "/live"), 200);
    world_end(&w);
}

/* ---- environment -------------------------------------------------------------------- */

static void environment_sets_host_port_and_paths(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    dynhc_server *srv = dynhc_server_new(w.s);
    assert_non_null(srv);
    fake_env env = {0};
    fake_env_set(&env, "DYN_SYSTEM_HOST", " 127.0.0.1\n");
    fake_env_set(&env, "DYN_SYSTEM_PORT", "\t0 ");
    fake_env_set(&env, "DYN_SYSTEM_HEALTH_PATH", " /healthz ");
    fake_env_set(&env, "DYN_SYSTEM_LIVE_PATH", "/livez");
    assert_int_equal(dynhc_server_load_env(srv, fake_env_get, &env), DYNHC_OK);
    assert_int_equal(w.warning_count, 0);
    dynhc_server_free(w.srv);
    w.srv = srv;
    world_start(&w);
    assert_int_equal(code_of(&w, NULL, "/healthz"), 503);
    assert_int_equal(code_of(&w, NULL, "/livez"), 200);
    assert_int_equal(code_of(&w, NULL, "/health"), 404);
    assert_int_equal(code_of(&w, NULL, "/live"), 404);
    world_end(&w);
}

static void environment_can_swap_the_two_paths(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    fake_env env = {0};
    fake_env_set(&env, "DYN_SYSTEM_HEALTH_PATH", "/live");
    fake_env_set(&env, "DYN_SYSTEM_LIVE_PATH", "/health");
    fake_env_set(&env, "DYN_SYSTEM_PORT", "  ");
    assert_int_equal(dynhc_server_load_env(w.srv, fake_env_get, &env), DYNHC_OK);
    assert_int_equal(w.warning_count, 0);
    world_start(&w); /* an empty port is unset: still 0 */
    assert_int_equal(code_of(&w, NULL, "/live"), 503);
    assert_int_equal(code_of(&w, NULL, "/health"), 200);
    world_end(&w);
}

static void environment_reads_the_process_environment_without_fn(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    assert_int_equal(setenv("DYN_SYSTEM_LIVE_PATH", "/from-getenv", 1), 0);
    int status = dynhc_server_load_env(w.srv, NULL, NULL);
    unsetenv("DYN_SYSTEM_LIVE_PATH");
    assert_int_equal(status, DYNHC_OK);
    world_start(&w);
    assert_int_equal(code_of(&w, NULL, "/from-getenv"), 200);
    world_end(&w);
}

typedef struct bad_env_case {
    const char *name;
    const char *value;
    const char *name2; /* a second variable, or NULL */
    const char *value2;
    const char *warning;
} bad_env_case;

static void bad_environment_values_are_warned_about_and_ignored(void **state)
{
    (void)state;
    static const bad_env_case cases[] = {
        {"DYN_SYSTEM_HOST", "example.com", NULL, NULL,
         "DYN_SYSTEM_HOST: warning: invalid value \"example.com\": expected an IPv4 or IPv6 "
         "address, or localhost; ignored"},
        {"DYN_SYSTEM_HOST", " a b ", NULL, NULL,
         "DYN_SYSTEM_HOST: warning: invalid value \"a b\": expected an IPv4 or IPv6 address, "
         "or localhost; ignored"},
        {"DYN_SYSTEM_PORT", "70000", NULL, NULL,
         "DYN_SYSTEM_PORT: warning: invalid value \"70000\": expected a port from 0 to 65535, or "
         "-1 for off; ignored"},
        {"DYN_SYSTEM_PORT", "http", NULL, NULL,
         "DYN_SYSTEM_PORT: warning: invalid value \"http\": expected a port from 0 to 65535, or "
         "-1 for off; ignored"},
        {"DYN_SYSTEM_HEALTH_PATH", "health", NULL, NULL,
         "DYN_SYSTEM_HEALTH_PATH: warning: invalid value \"health\": expected a path starting "
         "with '/'; ignored"},
        {"DYN_SYSTEM_LIVE_PATH", "/a\tb", NULL, NULL,
         "DYN_SYSTEM_LIVE_PATH: warning: invalid value \"/a\\tb\": expected a path without "
         "spaces, control characters, '?' or '#'; ignored"},
        {"DYN_SYSTEM_LIVE_PATH", "/metrics", NULL, NULL,
         "DYN_SYSTEM_LIVE_PATH: warning: invalid value \"/metrics\": reserved for the metrics; "
         "ignored"},
        {"DYN_SYSTEM_LIVE_PATH", "/health", NULL, NULL,
         "DYN_SYSTEM_LIVE_PATH: warning: invalid value \"/health\": same as the health path; "
         "ignored"},
        {"DYN_SYSTEM_HEALTH_PATH", "/live", NULL, NULL,
         "DYN_SYSTEM_HEALTH_PATH: warning: invalid value \"/live\": same as the live path; "
         "ignored"},
        /* Both on one path: the live path gives way, the health path moves. */
        {"DYN_SYSTEM_HEALTH_PATH", "/x", "DYN_SYSTEM_LIVE_PATH", "/x",
         "DYN_SYSTEM_LIVE_PATH: warning: invalid value \"/x\": same as the health path; "
         "ignored"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        world w;
        world_init(&w);
        fake_env env = {0};
        fake_env_set(&env, cases[i].name, cases[i].value);
        if (cases[i].name2 != NULL) {
            fake_env_set(&env, cases[i].name2, cases[i].value2);
        }
        assert_int_equal(dynhc_server_load_env(w.srv, fake_env_get, &env), DYNHC_OK);
        assert_int_equal(w.warning_count, 1);
        assert_string_equal(w.warnings[0], cases[i].warning);
        /* Everything else as it was: 127.0.0.1, port 0, default paths (or
         * the health path that did move). */
        world_start(&w);
        const char *health = cases[i].name2 != NULL ? "/x" : "/health";
        assert_int_equal(code_of(&w, NULL, health), 503);
        assert_int_equal(code_of(&w, NULL, "/live"), 200);
        world_end(&w);
    }
}

static void a_port_of_minus_one_from_the_environment_turns_it_off(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    fake_env env = {0};
    fake_env_set(&env, "DYN_SYSTEM_PORT", "-1");
    assert_int_equal(dynhc_server_load_env(w.srv, fake_env_get, &env), DYNHC_OK);
    assert_int_equal(dynhc_server_start(w.srv, NULL), DYNHC_DISABLED);
    assert_int_equal(w.warning_count, 0);
    world_end(&w);
}

/* ---- load ---------------------------------------------------------------------------- */

/* Checks sent by the ticking thread wait here for the completer thread. */
typedef struct inbox {
    pthread_mutex_t lock;
    uint64_t ids[16];
    size_t count;
} inbox;

typedef struct load {
    world w;
    inbox box;
    atomic_int stop;
    atomic_int clients_done;
    size_t completed;
} load;

typedef struct client {
    load *l;
    int id;
    long requests;
    long errors;
    char first_error[256];
    long ready, not_ready;
    long connections;
} client;

static void client_error(client *c, const char *path, const reply *r)
{
    if (c->errors++ == 0) {
        snprintf(c->first_error, sizeof(c->first_error), "%s: curl %d, HTTP %ld, body %.80s",
                 path, (int)r->error, r->code, r->body != NULL ? r->body : "");
    }
}

static void *client_main(void *arg)
{
    client *c = arg;
    char base[64];
    base_url(&c->l->w, base, sizeof(base));
    CURL *curl = curl_easy_init();
    for (long i = 0; curl != NULL && i < c->requests; i++) {
        static const char *const paths[] = {"/health", "/live", "/metrics", "/missing",
                                            "/health"};
        size_t route = (size_t)(i + c->id) % 5;
        const char *method = route == 4 ? "HEAD" : NULL;
        reply r;
        http(curl, base, method, paths[route], NULL, 0, &r);
        c->connections += r.new_connections;
        int ok = r.error == CURLE_OK;
        switch (route) {
        case 0:
            /* The code and the body come from one reading of the status. */
            ok = ok && r.body != NULL &&
                 ((r.code == 200 && strncmp(r.body, "{\"status\":\"ready\"", 17) == 0) ||
                  (r.code == 503 && strncmp(r.body, "{\"status\":\"notready\"", 20) == 0));
            c->ready += r.code == 200;
            c->not_ready += r.code == 503;
            break;
        case 1:
            ok = ok && r.code == 200 && r.body != NULL &&
                 strncmp(r.body, "{\"status\":\"live\"", 16) == 0;
            break;
        case 2:
            ok = ok && r.code == 200 && r.body != NULL &&
                 strstr(r.body, "\ndynhc_uptime_seconds ") != NULL;
            break;
        case 3: ok = ok && r.code == 404; break;
        default: ok = ok && (r.code == 200 || r.code == 503) && r.body_len == 0; break;
        }
        if (!ok) {
            client_error(c, paths[route], &r);
        }
        reply_free(&r);
    }
    if (curl == NULL) {
        c->errors++;
    }
    curl_easy_cleanup(curl);
    atomic_fetch_add(&c->l->clients_done, 1);
    return NULL;
}

static int inbox_send(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                      void *user_data)
{
    (void)s;
    (void)ep;
    load *l = user_data;
    pthread_mutex_lock(&l->box.lock);
    int full = l->box.count == sizeof(l->box.ids) / sizeof(l->box.ids[0]);
    if (!full) {
        l->box.ids[l->box.count++] = check->id;
    }
    pthread_mutex_unlock(&l->box.lock);
    return full ? -1 : 0;
}

/* Completes checks, alternating success and failure, and records traffic
 * in between, until told to stop. */
static void *completer_main(void *arg)
{
    load *l = arg;
    size_t n = 0;
    while (!atomic_load(&l->stop)) {
        uint64_t ids[16];
        pthread_mutex_lock(&l->box.lock);
        size_t count = l->box.count;
        memcpy(ids, l->box.ids, count * sizeof(ids[0]));
        l->box.count = 0;
        pthread_mutex_unlock(&l->box.lock);
        for (size_t i = 0; i < count; i++, n++) {
            dynhc_sched_complete(l->w.s, ids[i],
                                 n % 2 == 0 ? DYNHC_CHECK_SUCCESS : DYNHC_CHECK_FAILURE, "odd");
        }
        dynhc_endpoint_record_activity(l->w.ep, n % 3 != 0);
        nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    l->completed = n;
    return NULL;
}

/* Requests per client thread: DYNHC_TEST_SERVER_REQUESTS, default 1000. */
static long requests_per_client(void)
{
    const char *text = getenv("DYNHC_TEST_SERVER_REQUESTS");
    long n = text != NULL ? strtol(text, NULL, 10) : 0;
    return n > 0 ? n : 1000;
}

static void serves_four_keep_alive_clients_while_checks_run(void **state)
{
    (void)state;
    load *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    assert_int_equal(pthread_mutex_init(&l->box.lock, NULL), 0);
    world_init_with(&l->w, inbox_send, l);
    assert_int_equal(dynhc_sched_set_interval_ns(l->w.s, SEC), DYNHC_OK);
    world_start(&l->w);

    pthread_t completer;
    assert_int_equal(pthread_create(&completer, NULL, completer_main, l), 0);
    enum { CLIENTS = 4 };
    client clients[CLIENTS];
    pthread_t threads[CLIENTS];
    long requests = requests_per_client();
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = (client){.l = l, .id = i, .requests = requests};
        assert_int_equal(pthread_create(&threads[i], NULL, client_main, &clients[i]), 0);
    }
    uint64_t now = T0;
    while (atomic_load(&l->clients_done) < CLIENTS) {
        now += SEC / 4;
        tick_at(&l->w, now);
        nanosleep(&(struct timespec){0, 500000}, NULL);
    }
    long errors = 0, ready = 0, not_ready = 0, connections = 0;
    for (int i = 0; i < CLIENTS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        if (clients[i].errors > 0) {
            print_error("client %d: %ld errors, first: %s\n", i, clients[i].errors,
                        clients[i].first_error);
        }
        errors += clients[i].errors;
        ready += clients[i].ready;
        not_ready += clients[i].not_ready;
        connections += clients[i].connections;
    }
    atomic_store(&l->stop, 1);
    assert_int_equal(pthread_join(completer, NULL), 0);
    assert_int_equal(errors, 0);
    /* Keep-alive held: one connection per client. */
    assert_int_equal(connections, CLIENTS);
    /* Readiness turned while the clients read it. */
    assert_true(l->completed > 0);
    assert_true(ready > 0 && not_ready > 0);
    assert_true(ready + not_ready == CLIENTS * ((requests + 4) / 5));
    world_end(&l->w);
    pthread_mutex_destroy(&l->box.lock);
    free(l);
}

int main(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "curl_global_init failed\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(setters_reject_bad_values_and_null),
        cmocka_unit_test(server_is_off_until_a_port_is_set),
        cmocka_unit_test(start_twice_is_busy_and_settings_wait_for_stop),
        cmocka_unit_test(free_while_running_closes_open_connections),
        cmocka_unit_test(binding_a_port_in_use_is_a_system_error),
        cmocka_unit_test(localhost_listens_on_the_ipv4_loopback),
        cmocka_unit_test(an_ipv6_host_listens_on_ipv6),
        cmocka_unit_test(health_follows_readiness_503_then_200_then_503),
        cmocka_unit_test(head_gives_the_same_code_and_headers_without_a_body),
        cmocka_unit_test(verbose_is_asked_with_a_query_argument),
        cmocka_unit_test(live_answers_200_with_the_uptime_whatever_the_checks),
        cmocka_unit_test(metrics_are_prometheus_text),
        cmocka_unit_test(unknown_paths_are_404_with_a_json_error),
        cmocka_unit_test(other_methods_are_405_with_allow),
        cmocka_unit_test(request_bodies_are_read_and_the_connection_kept),
        cmocka_unit_test(pipelined_requests_are_answered_in_order),
        cmocka_unit_test(odd_requests_never_break_the_server),
        cmocka_unit_test(environment_sets_host_port_and_paths),
        cmocka_unit_test(environment_can_swap_the_two_paths),
        cmocka_unit_test(environment_reads_the_process_environment_without_fn),
        cmocka_unit_test(bad_environment_values_are_warned_about_and_ignored),
        cmocka_unit_test(a_port_of_minus_one_from_the_environment_turns_it_off),
        cmocka_unit_test(serves_four_keep_alive_clients_while_checks_run),
    };
    int failures = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failures;
}
