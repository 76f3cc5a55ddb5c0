/* test_sched_server_alloc_fail.c: the status server's answers when memory
 * runs out (SPEC 3 and 4). With allocation N failing (once, or from N on)
 * while a client asks for each path, the answer is either the normal one or
 * the canned 500 {"error":"out of memory"}: never a cut body, never a
 * crash; once memory is back the same server answers normally, and nothing
 * leaks. The server's threads allocate through dynhc's allocator, which
 * tests/alloc_fail.c counts; libmicrohttpd's and libcurl's own allocations
 * are not counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dynhc/dynhc.h>

#include "alloc_fail.h"
#include "support.h"

typedef struct body {
    char text[1 << 16];
    size_t len;
} body;

static size_t collect(char *data, size_t size, size_t n, void *user_data)
{
    body *b = user_data;
    size_t bytes = size * n;
    if (bytes > sizeof(b->text) - 1 - b->len) {
        return 0;
    }
    memcpy(b->text + b->len, data, bytes);
    b->len += bytes;
    b->text[b->len] = '\0';
    return bytes;
}

typedef struct served {
    dynhc_sched *sched;
    dynhc_server *server;
    dynhc_result *payload;
    char url[64];
    const char *path;
    unsigned answers_500; /* over the whole loop: the failure was seen */
} served;

static int never_sent(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                      void *user_data)
{
    (void)s;
    (void)ep;
    (void)check;
    (void)user_data;
    return 0;
}

static long get(const served *sv, body *b)
{
    char url[128];
    snprintf(url, sizeof(url), "%s%s", sv->url, sv->path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    b->len = 0;
    b->text[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

/* A whole answer of the path: what a report gives, complete. */
static void assert_normal(const served *sv, long code, const body *b)
{
    if (strcmp(sv->path, "/metrics") == 0) {
        assert_int_equal(code, 200);
        assert_non_null(strstr(b->text, "dynhc_endpoint_ready{dynhc_endpoint=\"generate\"} 1\n"));
        assert_non_null(strstr(b->text, "\ndynhc_build_info{"));
        assert_int_equal(b->text[b->len - 1], '\n');
    } else if (strcmp(sv->path, "/live") == 0) {
        assert_int_equal(code, 200);
        assert_non_null(strstr(b->text, "{\"status\":\"live\",\"uptime\":{"));
        assert_int_equal(b->text[b->len - 1], '}');
    } else {
        assert_int_equal(code, 200);
        assert_non_null(strstr(b->text, "{\"status\":\"ready\""));
        assert_non_null(strstr(b->text, "\"endpoints\":{\"generate\":\"ready\"}"));
        assert_int_equal(b->text[b->len - 1], '}');
    }
}

/* libmicrohttpd frees an answer's body once it is sent, which may be just
 * after the client has read it: waits (2 s at most) until the live blocks
 * are back to at most before, so that the loop counts what is really left. */
static void settle(long before)
{
    for (int i = 0; i < 2000 && alloc_fail_live_dynhc() > before; i++) {
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
}

/* Waits until the live blocks have not changed for 50 ms (2 s at most):
 * the warm-up's answer body is freed, only the kept buffers remain. */
static void settle_stable(void)
{
    long last = alloc_fail_live_dynhc();
    for (int i = 0, still = 0; i < 2000 && still < 50; i++) {
        nanosleep(&(struct timespec){0, 1000000}, NULL);
        long now = alloc_fail_live_dynhc();
        still = now == last ? still + 1 : 0;
        last = now;
    }
}

static unsigned long one_request(void *user, unsigned long n, alloc_fail_mode mode)
{
    served *sv = user;
    body *b = malloc(sizeof(*b));
    assert_non_null(b);
    long live_before = alloc_fail_live_dynhc();
    alloc_fail_start(n, mode);
    long code = get(sv, b);
    unsigned long injected = alloc_fail_stop();
    if (code == 500) {
        assert_string_equal(b->text, "{\"error\":\"out of memory\"}");
        assert_true(injected > 0);
        sv->answers_500++;
    } else {
        assert_normal(sv, code, b);
    }
    /* Memory is back: the same server answers as before. */
    assert_normal(sv, get(sv, b), b);
    free(b);
    settle(live_before);
    return injected;
}

static int setup(void **state)
{
    served *sv = calloc(1, sizeof(*sv));
    assert_non_null(sv);
    sv->payload = builtin_payload();
    sv->sched = dynhc_sched_new();
    assert_non_null(sv->sched);
    assert_int_equal(dynhc_sched_set_log(sv->sched, NULL, NULL), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_enabled(sv->sched, 0), DYNHC_OK);
    dynhc_endpoint *ep = NULL;
    assert_int_equal(sched_add(sv->sched, "generate", sv->payload, never_sent, NULL, NULL, &ep),
                     DYNHC_OK);
    dynhc_endpoint_record_activity(ep, 1); /* ready */
    sv->server = dynhc_server_new(sv->sched);
    assert_non_null(sv->server);
    assert_int_equal(dynhc_server_set_host(sv->server, "127.0.0.1"), DYNHC_OK);
    assert_int_equal(dynhc_server_set_port(sv->server, 0), DYNHC_OK);
    assert_int_equal(dynhc_server_start(sv->server, NULL), DYNHC_OK);
    snprintf(sv->url, sizeof(sv->url), "http://127.0.0.1:%d", dynhc_server_port(sv->server));
    *state = sv;
    return 0;
}

static int teardown(void **state)
{
    served *sv = *state;
    dynhc_server_free(sv->server);
    dynhc_sched_free(sv->sched);
    dynhc_result_free(sv->payload);
    free(sv);
    return 0;
}

static void each_path_answers_whole_or_500_and_recovers(void **state)
{
    served *sv = *state;
    static const char *const paths[] = {"/health", "/health?verbose", "/live", "/metrics"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        sv->path = paths[i];
        sv->answers_500 = 0;
        /* The scheduler keeps its report buffers from one report to the
         * next: made once here, they are not counted as a run's leak. */
        body *b = malloc(sizeof(*b));
        assert_non_null(b);
        assert_normal(sv, get(sv, b), b);
        free(b);
        settle_stable();
        alloc_fail_loop(paths[i], ALLOC_FAIL_ONCE, one_request, sv);
        alloc_fail_loop(paths[i], ALLOC_FAIL_FROM, one_request, sv);
        /* Every path allocates its answer: a failure must have been seen. */
        if (sv->answers_500 == 0) {
            fail_msg("%s never answered 500 with its allocations failing", paths[i]);
        }
    }
}

int main(void)
{
    alloc_fail_install();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(each_path_answers_whole_or_500_and_recovers, setup,
                                        teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
