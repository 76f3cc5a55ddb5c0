/* test_sched_concurrency.c: the scheduler's calls from several threads
 * (SPEC 3, "Threads and time"): removal against every other call,
 * callbacks without the lock. The races are forced into their worst order
 * with handshakes in callbacks, so each test is deterministic; memory that
 * the library frees is overwritten first (a poisoning allocator), so a use
 * after free fails here even without AddressSanitizer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dynhc/dynhc.h>

#include "support.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* ---- a poisoning allocator ---------------------------------------------------- */

static void poisoning_free(void *p)
{
    if (p != NULL) {
        memset(p, 0x5a, malloc_usable_size(p));
        free(p);
    }
}

static void poison_on(void)
{
    assert_int_equal(dynhc_set_allocator(malloc, realloc, calloc, poisoning_free), DYNHC_OK);
}

static void poison_off(void)
{
    assert_int_equal(dynhc_set_allocator(NULL, NULL, NULL, NULL), DYNHC_OK);
}

/* ---- a scheduler on a fake clock --------------------------------------------- */

static uint64_t fake_now = 1000 * SEC;

static uint64_t fake_clock(void *user_data)
{
    (void)user_data;
    return fake_now;
}

static dynhc_result *payload(void)
{
    fake_env env = {0};
    dynhc_resolver *r = dynhc_resolver_new();
    assert_non_null(r);
    assert_int_equal(dynhc_resolver_set_getenv(r, fake_env_get, &env), DYNHC_OK);
    dynhc_result *res = NULL;
    assert_int_equal(dynhc_resolver_resolve(r, &res), DYNHC_OK);
    dynhc_resolver_free(r);
    return res;
}

static dynhc_sched *new_sched(void)
{
    dynhc_sched *s = dynhc_sched_new();
    assert_non_null(s);
    assert_int_equal(dynhc_sched_set_clock(s, fake_clock, NULL), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_spread_ns(s, 0), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log(s, NULL, NULL), DYNHC_OK);
    return s;
}

/* A send callback that leaves the check in flight and keeps its id. */
static int keep_id(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                   void *user_data)
{
    (void)s;
    (void)ep;
    *(uint64_t *)user_data = check->id;
    return 0;
}

static int destroyed;

static void count_destroy(void *user_data)
{
    (void)user_data;
    destroyed++;
}

/* ---- removal against announcements --------------------------------------------- */

/* What the transition callback saw of the endpoint. */
typedef struct seen {
    const char *expected_name; /* the endpoint's name pointer before removal */
    int calls;
    int name_ok; /* the name passed was the endpoint's own, still readable */
} seen;

static void note_transition(dynhc_sched *s, dynhc_endpoint *ep, const char *name, int ready,
                            void *user_data)
{
    (void)s;
    (void)ready;
    seen *v = user_data;
    if (ep == NULL) {
        return;
    }
    v->calls++;
    /* Compared as a pointer first: a freed endpoint gives poison, which
     * must not be read as a string. */
    v->name_ok = name == v->expected_name && strcmp(name, "generate") == 0 &&
                 dynhc_endpoint_name(ep) == name;
}

/* Thread B completes a check; its log sink, called while the completion is
 * announced, lets thread A remove the endpoint and waits until it has. */
typedef struct handshake {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int stage; /* 0, 1: B is announcing, 2: A has removed the endpoint */
    dynhc_sched *s;
    uint64_t id;
    int complete_rc;
} handshake;

static void wait_in_log(dynhc_log_level level, const char *message, void *user_data)
{
    (void)level;
    handshake *h = user_data;
    if (strstr(message, "endpoint 'generate' is now ready") == NULL) {
        return;
    }
    pthread_mutex_lock(&h->lock);
    h->stage = 1;
    pthread_cond_broadcast(&h->changed);
    while (h->stage != 2) {
        pthread_cond_wait(&h->changed, &h->lock);
    }
    pthread_mutex_unlock(&h->lock);
}

static void *complete_main(void *arg)
{
    handshake *h = arg;
    h->complete_rc = dynhc_sched_complete(h->s, h->id, DYNHC_CHECK_SUCCESS, NULL);
    return NULL;
}

static void an_endpoint_removed_on_another_thread_while_its_completion_is_announced_stays_valid(
    void **state)
{
    (void)state;
    poison_on();
    destroyed = 0;
    handshake h = {.stage = 0};
    pthread_mutex_init(&h.lock, NULL);
    pthread_cond_init(&h.changed, NULL);
    dynhc_result *res = payload();
    dynhc_sched *s = new_sched();
    seen v = {0};
    assert_int_equal(dynhc_sched_set_log(s, wait_in_log, &h), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_transition_callback(s, note_transition, &v), DYNHC_OK);
    dynhc_endpoint *ep = NULL;
    assert_int_equal(
        dynhc_sched_add_endpoint(s, "generate", res, NULL, keep_id, &h.id, count_destroy, &ep),
        DYNHC_OK);
    assert_int_equal(dynhc_sched_tick(s, fake_now), 1);
    v.expected_name = dynhc_endpoint_name(ep);

    h.s = s;
    pthread_t b;
    assert_int_equal(pthread_create(&b, NULL, complete_main, &h), 0);
    pthread_mutex_lock(&h.lock);
    while (h.stage != 1) {
        pthread_cond_wait(&h.changed, &h.lock);
    }
    pthread_mutex_unlock(&h.lock);
    /* B has applied the outcome and released the lock; it is announcing. */
    assert_int_equal(dynhc_sched_remove_endpoint(s, ep), DYNHC_OK);
    pthread_mutex_lock(&h.lock);
    h.stage = 2;
    pthread_cond_broadcast(&h.changed);
    pthread_mutex_unlock(&h.lock);
    assert_int_equal(pthread_join(b, NULL), 0);

    assert_int_equal(h.complete_rc, DYNHC_OK);
    assert_int_equal(v.calls, 1);
    assert_true(v.name_ok);
    assert_int_equal(destroyed, 1);
    dynhc_sched_free(s);
    dynhc_result_free(res);
    pthread_cond_destroy(&h.changed);
    pthread_mutex_destroy(&h.lock);
    poison_off();
}

/* A log sink that removes the endpoint (allowed from inside any callback)
 * while its traffic's transition is being announced. */
typedef struct remover {
    dynhc_sched *s;
    dynhc_endpoint *ep;
    int rc;
} remover;

static void remove_in_log(dynhc_log_level level, const char *message, void *user_data)
{
    (void)level;
    remover *r = user_data;
    if (r->ep != NULL && strstr(message, "endpoint 'generate' is now ready") != NULL) {
        r->rc = dynhc_sched_remove_endpoint(r->s, r->ep);
        r->ep = NULL;
    }
}

static void an_endpoint_removed_by_the_log_sink_while_its_traffic_is_announced_stays_valid(
    void **state)
{
    (void)state;
    poison_on();
    destroyed = 0;
    dynhc_result *res = payload();
    dynhc_sched *s = new_sched();
    seen v = {0};
    remover r = {.s = s, .rc = -1};
    assert_int_equal(dynhc_sched_set_log(s, remove_in_log, &r), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_transition_callback(s, note_transition, &v), DYNHC_OK);
    uint64_t id = 0;
    dynhc_endpoint *ep = NULL;
    assert_int_equal(
        dynhc_sched_add_endpoint(s, "generate", res, NULL, keep_id, &id, count_destroy, &ep),
        DYNHC_OK);
    v.expected_name = dynhc_endpoint_name(ep);
    r.ep = ep;

    dynhc_endpoint_record_activity(ep, 1);
    assert_int_equal(r.rc, DYNHC_OK);
    assert_int_equal(v.calls, 1);
    assert_true(v.name_ok);
    assert_int_equal(destroyed, 1);
    dynhc_sched_free(s);
    dynhc_result_free(res);
    poison_off();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            an_endpoint_removed_on_another_thread_while_its_completion_is_announced_stays_valid),
        cmocka_unit_test(
            an_endpoint_removed_by_the_log_sink_while_its_traffic_is_announced_stays_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
