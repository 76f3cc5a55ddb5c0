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
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <dynhc/dynhc.h>

#include "sched_internal.h"
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
    dynhc_result *res = builtin_payload();
    dynhc_sched *s = new_sched();
    seen v = {0};
    assert_int_equal(dynhc_sched_set_log(s, wait_in_log, &h), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_transition_callback(s, note_transition, &v), DYNHC_OK);
    dynhc_endpoint *ep = NULL;
    assert_int_equal(sched_add(s, "generate", res, keep_id, &h.id, count_destroy, &ep), DYNHC_OK);
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
    dynhc_result *res = builtin_payload();
    dynhc_sched *s = new_sched();
    seen v = {0};
    remover r = {.s = s, .rc = -1};
    assert_int_equal(dynhc_sched_set_log(s, remove_in_log, &r), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_transition_callback(s, note_transition, &v), DYNHC_OK);
    uint64_t id = 0;
    dynhc_endpoint *ep = NULL;
    assert_int_equal(sched_add(s, "generate", res, keep_id, &id, count_destroy, &ep), DYNHC_OK);
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

/* ---- callbacks and reports without the lock -------------------------------------- */

/* The scheduler whose lock the checking clock and allocator look at. These
 * tests run on one thread: a lock that trylock finds taken is held by the
 * caller, around the call. */
static dynhc_sched *watched;
static int clock_calls, clock_calls_under_lock;
static int allocations, allocations_under_lock;

static int watched_lock_held(void)
{
    if (watched == NULL) {
        return 0;
    }
    if (pthread_mutex_trylock(&watched->lock) != 0) {
        return 1;
    }
    pthread_mutex_unlock(&watched->lock);
    return 0;
}

static uint64_t checking_clock(void *user_data)
{
    (void)user_data;
    clock_calls++;
    clock_calls_under_lock += watched_lock_held();
    return fake_now;
}

static int complete_at_once(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                            void *user_data)
{
    (void)ep;
    (void)user_data;
    assert_int_equal(dynhc_sched_complete(s, check->id, DYNHC_CHECK_FAILURE, "no"), DYNHC_OK);
    return 0;
}

static void the_clock_is_never_called_with_the_lock_held(void **state)
{
    (void)state;
    dynhc_result *res = builtin_payload();
    dynhc_sched *s = dynhc_sched_new();
    assert_non_null(s);
    watched = s;
    clock_calls = clock_calls_under_lock = 0;
    assert_int_equal(dynhc_sched_set_clock(s, checking_clock, NULL), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_spread_ns(s, 0), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log(s, NULL, NULL), DYNHC_OK);
    uint64_t id = 0;
    dynhc_endpoint *quick = NULL, *slow = NULL;
    assert_int_equal(sched_add(s, "quick", res, complete_at_once, NULL, NULL, &quick), DYNHC_OK);
    assert_int_equal(sched_add(s, "slow", res, keep_id, &id, NULL, &slow), DYNHC_OK);
    assert_int_equal(dynhc_sched_tick(s, fake_now), 2);
    assert_int_equal(dynhc_sched_complete(s, id, DYNHC_CHECK_SUCCESS, NULL), DYNHC_OK);
    dynhc_endpoint_record_activity(quick, 1);
    dynhc_endpoint_record_activity(slow, 0);
    dynhc_free(dynhc_sched_status_json(s, 1));
    dynhc_free(dynhc_sched_metrics(s));
    assert_int_equal(dynhc_sched_set_enabled(s, 0), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_enabled(s, 1), DYNHC_OK);
    assert_int_equal(dynhc_sched_remove_endpoint(s, slow), DYNHC_OK);
    (void)dynhc_sched_next_deadline(s);
    assert_int_equal(dynhc_sched_set_process_ready(s, 1), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_clock(s, checking_clock, NULL), DYNHC_OK);
    watched = NULL;
    dynhc_sched_free(s);
    dynhc_result_free(res);
    assert_true(clock_calls >= 8);
    assert_int_equal(clock_calls_under_lock, 0);
}

static void *checking_malloc(size_t n)
{
    allocations++;
    allocations_under_lock += watched_lock_held();
    return malloc(n);
}

static void *checking_realloc(void *p, size_t n)
{
    allocations++;
    allocations_under_lock += watched_lock_held();
    return realloc(p, n);
}

static void *checking_calloc(size_t count, size_t n)
{
    allocations++;
    allocations_under_lock += watched_lock_held();
    return calloc(count, n);
}

/* A report is copied under the lock and written after it: the text, which
 * grows as it is written, is never allocated with the lock held (at 1e5
 * endpoints writing takes milliseconds that every tick and completion
 * would wait for). */
static void reports_are_written_without_the_lock_held(void **state)
{
    (void)state;
    assert_int_equal(
        dynhc_set_allocator(checking_malloc, checking_realloc, checking_calloc, free), DYNHC_OK);
    dynhc_result *res = builtin_payload();
    dynhc_sched *s = new_sched();
    static const dynhc_label labels[] = {{"model", "gpt2"}};
    char name[32];
    uint64_t ids[64];
    for (int i = 0; i < 64; i++) {
        snprintf(name, sizeof(name), "endpoint-with-a-long-name-%d", i);
        dynhc_endpoint_options o = DYNHC_ENDPOINT_OPTIONS_INIT;
        o.name = name;
        o.payload = res;
        o.labels = labels;
        o.label_count = 1;
        o.send = keep_id;
        o.user_data = &ids[i];
        assert_int_equal(dynhc_sched_add(s, &o, NULL), DYNHC_OK);
    }
    assert_int_equal(dynhc_sched_tick(s, fake_now), 64);
    for (int i = 0; i < 64; i += 2) {
        assert_int_equal(dynhc_sched_complete(s, ids[i], DYNHC_CHECK_FAILURE, "HTTP 503"),
                         DYNHC_OK);
    }
    watched = s;
    for (int round = 0; round < 2; round++) {
        allocations = allocations_under_lock = 0;
        char *status = dynhc_sched_status_json(s, 0);
        char *verbose = dynhc_sched_status_json(s, 1);
        char *metrics = dynhc_sched_metrics(s);
        assert_non_null(status);
        assert_non_null(verbose);
        assert_non_null(metrics);
        assert_true(strlen(metrics) > 64 * 500);
        dynhc_free(status);
        dynhc_free(verbose);
        dynhc_free(metrics);
        assert_true(allocations > 0);
        assert_int_equal(allocations_under_lock, 0);
    }
    watched = NULL;
    dynhc_sched_free(s);
    dynhc_result_free(res);
    assert_int_equal(dynhc_set_allocator(NULL, NULL, NULL, NULL), DYNHC_OK);
}

/* ---- settings changed while other threads run ------------------------------------ */

/* The number of rounds of the threaded tests: DYNHC_TEST_STRESS_TICKS (as
 * the stress test of test_sched.c), lower under valgrind, higher to hunt. */
static int stress_rounds(int normal)
{
    const char *text = getenv("DYNHC_TEST_STRESS_TICKS");
    int ticks = text != NULL ? atoi(text) : 0;
    return ticks > 0 ? ticks : normal;
}

typedef struct settings_run {
    dynhc_sched *s;
    dynhc_endpoint *eps[4];
    atomic_int stop;
    atomic_uint transitions;
    atomic_uint lines;
} settings_run;

static void count_transition(dynhc_sched *s, dynhc_endpoint *ep, const char *name, int ready,
                             void *user_data)
{
    (void)s;
    (void)ep;
    (void)name;
    (void)ready;
    atomic_fetch_add(&((settings_run *)user_data)->transitions, 1);
}

static void count_transition_too(dynhc_sched *s, dynhc_endpoint *ep, const char *name, int ready,
                                 void *user_data)
{
    count_transition(s, ep, name, ready, user_data);
}

static void count_line(dynhc_log_level level, const char *message, void *user_data)
{
    (void)level;
    (void)message;
    atomic_fetch_add(&((settings_run *)user_data)->lines, 1);
}

static void count_line_too(dynhc_log_level level, const char *message, void *user_data)
{
    count_line(level, message, user_data);
}

static void *traffic_main(void *arg)
{
    settings_run *r = arg;
    for (unsigned n = 0; !atomic_load(&r->stop); n++) {
        dynhc_endpoint_record_activity(r->eps[n % 4], n % 3 != 0);
        if (n % 16 == 0) {
            sched_yield();
        }
    }
    return NULL;
}

static void *settings_main(void *arg)
{
    settings_run *r = arg;
    for (unsigned n = 0; !atomic_load(&r->stop); n++) {
        dynhc_sched_set_activity_marks_ready(r->s, (int)(n & 1));
        dynhc_sched_set_transition_callback(r->s, n & 2 ? count_transition : count_transition_too,
                                            r);
        dynhc_sched_set_log(r->s, n & 4 ? count_line : count_line_too, r);
        dynhc_sched_set_timeout_ns(r->s, (1 + n % 5) * MS);
        dynhc_sched_set_thresholds(r->s, 1 + n % 2, 1);
        dynhc_sched_set_interval_ns(r->s, (1 + n % 3) * MS);
        sched_yield();
    }
    return NULL;
}

/* Fails the checks of every other round so that readiness keeps turning. */
static int alternate(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                     void *user_data)
{
    (void)ep;
    (void)user_data;
    dynhc_sched_complete(s, check->id, check->sent_ns / MS % 2 ? DYNHC_CHECK_SUCCESS
                                                               : DYNHC_CHECK_FAILURE, NULL);
    return 0;
}

static _Atomic uint64_t shared_now;

static uint64_t shared_clock(void *user_data)
{
    (void)user_data;
    return atomic_load(&shared_now);
}

/* Settings are changed under the lock and read under it (or, for the
 * clock and the log sink, read consistently without it): ThreadSanitizer
 * finds no race between a thread changing them and threads that tick,
 * complete and record traffic. */
static void settings_change_while_other_threads_use_the_scheduler(void **state)
{
    (void)state;
    settings_run r = {.s = new_sched()};
    atomic_store(&shared_now, 1000 * SEC);
    assert_int_equal(dynhc_sched_set_clock(r.s, shared_clock, NULL), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_mode(r.s, DYNHC_MODE_PERIODIC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_interval_ns(r.s, MS), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_transition_callback(r.s, count_transition, &r), DYNHC_OK);
    dynhc_result *res = builtin_payload();
    char name[8];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "ep%d", i);
        assert_int_equal(sched_add(r.s, name, res, alternate, NULL, NULL, &r.eps[i]), DYNHC_OK);
    }
    pthread_t traffic, settings;
    assert_int_equal(pthread_create(&traffic, NULL, traffic_main, &r), 0);
    assert_int_equal(pthread_create(&settings, NULL, settings_main, &r), 0);
    int rounds = stress_rounds(2000);
    for (int i = 0; i < rounds; i++) {
        uint64_t now = atomic_fetch_add(&shared_now, MS) + MS;
        assert_true(dynhc_sched_tick(r.s, now) >= 0);
        if (i % 8 == 0) {
            sched_yield(); /* two cores: let the other threads in */
        }
    }
    atomic_store(&r.stop, 1);
    assert_int_equal(pthread_join(traffic, NULL), 0);
    assert_int_equal(pthread_join(settings, NULL), 0);
    assert_true(atomic_load(&r.transitions) > 0);
    dynhc_sched_free(r.s);
    dynhc_result_free(res);
}

/* ---- stress: everything at once ------------------------------------------------- */

#define CHURN_SLOTS 16
#define QUEUE_SIZE 4096

/* Endpoints come and go in CHURN_SLOTS slots. Each slot's mutex is the
 * caller's side of the handle contract: traffic on a handle and its removal
 * never overlap. Everything else races freely: check ids completed in time,
 * late, twice or never issued, reports, announcements, the ticking thread. */
typedef struct churn {
    dynhc_sched *s;
    dynhc_result *payload;
    _Atomic uint64_t now; /* the fake clock of the manual variant */
    atomic_int stop;      /* 1: the run is over, 2: a thread saw something wrong */
    pthread_mutex_t slot_lock[CHURN_SLOTS];
    dynhc_endpoint *eps[CHURN_SLOTS];
    pthread_mutex_t queue_lock; /* the ids the send callback hands over */
    pthread_cond_t queue_changed;
    uint64_t queue[QUEUE_SIZE];
    size_t head, tail;
    atomic_uint sent, completed, refused, added, removed, destroyed, reports, transitions,
        churned;
} churn;

static uint64_t churn_clock(void *user_data)
{
    return atomic_load(&((churn *)user_data)->now);
}

static void churn_destroy(void *user_data)
{
    atomic_fetch_add(&((churn *)user_data)->destroyed, 1);
}

static void churn_wrong(churn *c)
{
    atomic_store(&c->stop, 2);
}

/* Hands the check to the completer; now and then completes it at once or
 * fails to send it. */
static int churn_send(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                      void *user_data)
{
    churn *c = user_data;
    unsigned n = atomic_fetch_add(&c->sent, 1);
    /* The check's strings are readable during the send, removal or not. */
    if (strncmp(check->endpoint, "ep", 2) != 0 || dynhc_endpoint_name(ep) != check->endpoint) {
        churn_wrong(c);
    }
    if (n % 11 == 0) {
        return -1;
    }
    if (n % 7 == 0) {
        int rc = dynhc_sched_complete(s, check->id, DYNHC_CHECK_SUCCESS, NULL);
        atomic_fetch_add(rc == DYNHC_OK ? &c->completed : &c->refused, 1);
        return 0;
    }
    pthread_mutex_lock(&c->queue_lock);
    if (c->tail - c->head < QUEUE_SIZE) {
        c->queue[c->tail++ % QUEUE_SIZE] = check->id;
        pthread_cond_signal(&c->queue_changed);
    }
    pthread_mutex_unlock(&c->queue_lock);
    return 0;
}

static void churn_transition(dynhc_sched *s, dynhc_endpoint *ep, const char *name, int ready,
                             void *user_data)
{
    (void)s;
    (void)ready;
    churn *c = user_data;
    atomic_fetch_add(&c->transitions, 1);
    /* Reads the endpoint, which another thread may be removing. */
    if (ep != NULL && (strncmp(name, "ep", 2) != 0 || dynhc_endpoint_name(ep) != name)) {
        churn_wrong(c);
    }
}

/* A log sink that takes its time, as one writing to a file would: the
 * window between the release of the lock and the announcement grows. */
static void churn_log(dynhc_log_level level, const char *message, void *user_data)
{
    (void)level;
    (void)user_data;
    if (strstr(message, " is now ") != NULL) {
        sched_yield();
    }
}

static void *churn_main(void *arg)
{
    churn *c = arg;
    char name[16];
    for (unsigned n = 0; !atomic_load(&c->stop); n++) {
        unsigned i = (n * 7) % CHURN_SLOTS;
        pthread_mutex_lock(&c->slot_lock[i]);
        if (c->eps[i] != NULL) {
            if (dynhc_sched_remove_endpoint(c->s, c->eps[i]) != DYNHC_OK) {
                churn_wrong(c);
            }
            atomic_fetch_add(&c->removed, 1);
            c->eps[i] = NULL;
        } else {
            snprintf(name, sizeof(name), "ep%u", i);
            if (sched_add(c->s, name, c->payload, churn_send, c, churn_destroy, &c->eps[i]) !=
                DYNHC_OK) {
                churn_wrong(c);
            }
            atomic_fetch_add(&c->added, 1);
        }
        pthread_mutex_unlock(&c->slot_lock[i]);
        atomic_fetch_add(&c->churned, 1);
        sched_yield();
    }
    return NULL;
}

static void *churn_traffic_main(void *arg)
{
    churn *c = arg;
    for (unsigned n = 0; !atomic_load(&c->stop); n++) {
        unsigned i = n % CHURN_SLOTS;
        pthread_mutex_lock(&c->slot_lock[i]);
        if (c->eps[i] != NULL) {
            dynhc_endpoint_record_activity(c->eps[i], n % 3 != 0);
            (void)dynhc_endpoint_is_ready(c->eps[i]);
        }
        pthread_mutex_unlock(&c->slot_lock[i]);
        if (n % 4 == 0) {
            sched_yield();
        }
    }
    return NULL;
}

static void churn_complete(churn *c, uint64_t id, dynhc_check_result result)
{
    int rc = dynhc_sched_complete(c->s, id, result, result ? "HTTP 503" : NULL);
    if (rc != DYNHC_OK && rc != DYNHC_ERR_NOT_FOUND) {
        churn_wrong(c);
    }
    atomic_fetch_add(rc == DYNHC_OK ? &c->completed : &c->refused, 1);
}

/* Completes what it is handed: most at once, every fourth after a while
 * (often after its timeout), some twice, some ids that were never issued. */
static void *churn_completer_main(void *arg)
{
    churn *c = arg;
    uint64_t later[32];
    size_t held = 0;
    for (unsigned n = 0;; n++) {
        pthread_mutex_lock(&c->queue_lock);
        while (c->head == c->tail && !atomic_load(&c->stop)) {
            pthread_cond_wait(&c->queue_changed, &c->queue_lock);
        }
        if (c->head == c->tail) {
            pthread_mutex_unlock(&c->queue_lock);
            break;
        }
        uint64_t id = c->queue[c->head++ % QUEUE_SIZE];
        pthread_mutex_unlock(&c->queue_lock);
        if (n % 4 == 0) {
            later[held++] = id;
        } else {
            churn_complete(c, id, n % 3 ? DYNHC_CHECK_SUCCESS : DYNHC_CHECK_FAILURE);
        }
        if (n % 13 == 0) {
            churn_complete(c, id, DYNHC_CHECK_SUCCESS);
        }
        if (n % 17 == 0) {
            churn_complete(c, id + (1ull << 40), DYNHC_CHECK_SUCCESS);
        }
        if (held == sizeof(later) / sizeof(later[0])) {
            for (size_t i = 0; i < held; i++) {
                churn_complete(c, later[i], DYNHC_CHECK_SUCCESS);
            }
            held = 0;
        }
    }
    for (size_t i = 0; i < held; i++) {
        churn_complete(c, later[i], DYNHC_CHECK_FAILURE);
    }
    return NULL;
}

static void *churn_reporter_main(void *arg)
{
    churn *c = arg;
    for (unsigned n = 0; !atomic_load(&c->stop); n++) {
        char *text = n % 3 == 0 ? dynhc_sched_metrics(c->s) : dynhc_sched_status_json(c->s, n % 3 == 1);
        if (text == NULL ||
            (n % 3 == 0 ? strstr(text, "\ndynhc_health_checks_in_flight ") == NULL
                        : strncmp(text, "{\"status\":", 10) != 0)) {
            churn_wrong(c);
        }
        dynhc_free(text);
        atomic_fetch_add(&c->reports, 1);
        sched_yield();
    }
    return NULL;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs the threads above against a scheduler ticked by this thread on a
 * fake clock, or by the thread runner on the real one, until endpoints
 * have been added or removed DYNHC_TEST_STRESS_TICKS times (3000). */
static void run_churn(int runner)
{
    churn *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    for (int i = 0; i < CHURN_SLOTS; i++) {
        pthread_mutex_init(&c->slot_lock[i], NULL);
    }
    pthread_mutex_init(&c->queue_lock, NULL);
    pthread_cond_init(&c->queue_changed, NULL);
    c->payload = builtin_payload();
    c->s = dynhc_sched_new();
    assert_non_null(c->s);
    if (!runner) {
        atomic_store(&c->now, 1000 * SEC);
        assert_int_equal(dynhc_sched_set_clock(c->s, churn_clock, c), DYNHC_OK);
    }
    assert_int_equal(dynhc_sched_set_log(c->s, churn_log, c), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_transition_callback(c->s, churn_transition, c), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_mode(c->s, DYNHC_MODE_PERIODIC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_interval_ns(c->s, 2 * MS), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_spread_ns(c->s, 0), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_timeout_ns(c->s, 5 * MS), DYNHC_OK);

    pthread_t threads[4];
    void *(*mains[4])(void *) = {churn_main, churn_traffic_main, churn_completer_main,
                                 churn_reporter_main};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, mains[i], c), 0);
    }
    unsigned rounds = (unsigned)stress_rounds(3000);
    if (!runner) {
        /* A millisecond of the fake clock per tick, for as long as the
         * endpoints take to change rounds times and until a check has been
         * sent and completed (under valgrind, which runs one thread at a
         * time, the churn can end before this thread ticks at all).
         * Bounded: a stuck thread fails the counts below. */
        for (unsigned ticks = 0;
             ticks < 600000 && atomic_load(&c->stop) == 0 &&
             (atomic_load(&c->churned) < rounds || atomic_load(&c->sent) == 0 ||
              atomic_load(&c->completed) == 0);
             ticks++) {
            uint64_t now = atomic_fetch_add(&c->now, MS) + MS;
            if (dynhc_sched_tick(c->s, now) < 0) {
                churn_wrong(c);
            }
            sched_yield();
        }
    } else {
        assert_int_equal(dynhc_sched_start_thread(c->s, NULL), DYNHC_OK);
        /* Until the endpoints have changed rounds times and the runner has
         * sent and seen completed at least one check (on a loaded machine
         * it may get no CPU while the churn runs). Bounded: a stuck thread
         * fails the counts below, not the clock. */
        for (int waited = 0;
             waited < 60000 && atomic_load(&c->stop) == 0 &&
             (atomic_load(&c->churned) < rounds || atomic_load(&c->sent) == 0 ||
              atomic_load(&c->completed) == 0);
             waited++) {
            sleep_ms(1);
        }
        assert_int_equal(dynhc_sched_stop_thread(c->s), DYNHC_OK);
    }
    int expected = 0;
    atomic_compare_exchange_strong(&c->stop, &expected, 1);
    pthread_mutex_lock(&c->queue_lock);
    pthread_cond_broadcast(&c->queue_changed);
    pthread_mutex_unlock(&c->queue_lock);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    }
    print_message("%s: sent %u completed %u refused %u added %u removed %u reports %u "
                  "transitions %u\n",
                  runner ? "runner" : "manual ticks", atomic_load(&c->sent),
                  atomic_load(&c->completed), atomic_load(&c->refused), atomic_load(&c->added),
                  atomic_load(&c->removed), atomic_load(&c->reports),
                  atomic_load(&c->transitions));
    int wrong = atomic_load(&c->stop) == 2;
    unsigned added = atomic_load(&c->added);
    dynhc_sched_free(c->s);
    dynhc_result_free(c->payload);
    assert_false(wrong);
    assert_true(added > 0 && atomic_load(&c->removed) > 0);
    assert_true(atomic_load(&c->sent) > 0 && atomic_load(&c->completed) > 0);
    assert_true(atomic_load(&c->reports) > 0);
    /* Every endpoint was freed exactly once, removed or freed with the
     * scheduler: no reference was lost or kept. */
    assert_int_equal(atomic_load(&c->destroyed), added);
    pthread_cond_destroy(&c->queue_changed);
    pthread_mutex_destroy(&c->queue_lock);
    for (int i = 0; i < CHURN_SLOTS; i++) {
        pthread_mutex_destroy(&c->slot_lock[i]);
    }
    free(c);
}

static void everything_at_once_while_a_thread_ticks(void **state)
{
    (void)state;
    run_churn(0);
}

static void everything_at_once_while_the_thread_runner_ticks(void **state)
{
    (void)state;
    run_churn(1);
}

/* ---- stress: references held by request threads ---------------------------------- */

/* The contract of "Endpoint handles" in dynhc/sched.h, without any lock of
 * the caller's: request threads hold references (from dynhc_sched_find())
 * and record traffic on them, and keep some after they went stale, while
 * two other threads remove the endpoints and add them again under the same
 * names, and the thread runner sends checks. */
#define REF_NAMES 4
#define REF_REQUEST_THREADS 3
#define REF_REMOVERS 2

typedef struct refs_run {
    dynhc_sched *s;
    dynhc_result *payload;
    atomic_int stop; /* 1: the run is over, 2: a thread saw something wrong */
    atomic_uint added, duplicates, removed, not_found, destroyed, recorded, stale_calls,
        finds, churned;
} refs_run;

static const char *const ref_names[REF_NAMES] = {"generate", "chat", "embed", "tokens"};

static void refs_wrong(refs_run *r)
{
    atomic_store(&r->stop, 2);
}

static int refs_send(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                     void *user_data)
{
    (void)ep;
    (void)user_data;
    return dynhc_sched_complete(s, check->id, DYNHC_CHECK_SUCCESS, NULL) == DYNHC_OK ? 0 : -1;
}

static void refs_destroy(void *user_data)
{
    atomic_fetch_add(&((refs_run *)user_data)->destroyed, 1);
}

static void *refs_request_main(void *arg)
{
    refs_run *r = arg;
    dynhc_endpoint *held[REF_NAMES] = {NULL};
    for (unsigned n = 0; atomic_load(&r->stop) == 0; n++) {
        unsigned i = n % REF_NAMES;
        dynhc_endpoint *ep = held[i];
        if (ep != NULL && !dynhc_endpoint_is_registered(ep)) {
            /* Stale: every call is still safe, and does nothing. A
             * request thread notices and looks the name up again, but
             * not always at once. */
            dynhc_endpoint_record_activity(ep, 1);
            if (dynhc_endpoint_is_ready(ep) ||
                strcmp(dynhc_endpoint_name(ep), ref_names[i]) != 0) {
                refs_wrong(r);
            }
            atomic_fetch_add(&r->stale_calls, 1);
            if (n % 3 != 0) {
                continue;
            }
            dynhc_endpoint_release(ep);
            held[i] = ep = NULL;
        }
        if (ep == NULL) {
            held[i] = ep = dynhc_sched_find(r->s, ref_names[i]);
            atomic_fetch_add(&r->finds, 1);
            if (ep == NULL) {
                sched_yield(); /* between a removal and the next add */
                continue;
            }
        }
        /* A request served: traffic, then what a load balancer asks. */
        dynhc_endpoint_record_activity(ep, n % 5 != 0);
        (void)dynhc_endpoint_is_ready(ep);
        if (strcmp(dynhc_endpoint_name(ep), ref_names[i]) != 0) {
            refs_wrong(r);
        }
        /* A second reference, as a request handed to another stage would. */
        if (n % 7 == 0) {
            dynhc_endpoint *more = dynhc_endpoint_ref(ep);
            if (more != ep) {
                refs_wrong(r);
            }
            dynhc_endpoint_record_activity(more, 1);
            dynhc_endpoint_release(more);
        }
        atomic_fetch_add(&r->recorded, 1);
        if (n % 8 == 0) {
            sched_yield();
        }
    }
    for (unsigned i = 0; i < REF_NAMES; i++) {
        dynhc_endpoint_release(held[i]);
    }
    return NULL;
}

/* Removes the endpoint of a name (found by name: the other remover may have
 * removed it first) or adds it again (the other may have added it first). */
static void *refs_remover_main(void *arg)
{
    refs_run *r = arg;
    for (unsigned n = 0; atomic_load(&r->stop) == 0; n++) {
        /* A few rounds on each name: the two removers meet on it. */
        unsigned i = (n / 4) % REF_NAMES;
        dynhc_endpoint *ep = dynhc_sched_find(r->s, ref_names[i]);
        if (ep != NULL) {
            int rc = dynhc_sched_remove_endpoint(r->s, ep);
            if (rc == DYNHC_OK) {
                atomic_fetch_add(&r->removed, 1);
            } else if (rc == DYNHC_ERR_NOT_FOUND) {
                atomic_fetch_add(&r->not_found, 1);
            } else {
                refs_wrong(r);
            }
            if (dynhc_endpoint_is_registered(ep)) {
                refs_wrong(r);
            }
            dynhc_endpoint_release(ep);
        } else {
            int rc = sched_add(r->s, ref_names[i], r->payload, refs_send, r, refs_destroy, NULL);
            if (rc == DYNHC_OK) {
                atomic_fetch_add(&r->added, 1);
            } else if (rc == DYNHC_ERR_INVALID_ARG) {
                atomic_fetch_add(&r->duplicates, 1); /* the name is taken again */
            } else {
                refs_wrong(r);
            }
        }
        atomic_fetch_add(&r->churned, 1);
        sched_yield();
    }
    return NULL;
}

static void request_threads_hold_references_while_endpoints_are_removed_and_added(void **state)
{
    (void)state;
    poison_on();
    refs_run *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->payload = builtin_payload();
    r->s = dynhc_sched_new();
    assert_non_null(r->s);
    assert_int_equal(dynhc_sched_set_log(r->s, NULL, NULL), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_mode(r->s, DYNHC_MODE_PERIODIC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_interval_ns(r->s, MS), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_spread_ns(r->s, 0), DYNHC_OK);
    for (unsigned i = 0; i < REF_NAMES; i++) {
        assert_int_equal(
            sched_add(r->s, ref_names[i], r->payload, refs_send, r, refs_destroy, NULL), DYNHC_OK);
        atomic_fetch_add(&r->added, 1);
    }
    assert_int_equal(dynhc_sched_start_thread(r->s, NULL), DYNHC_OK);

    pthread_t threads[REF_REQUEST_THREADS + REF_REMOVERS];
    for (int i = 0; i < REF_REQUEST_THREADS + REF_REMOVERS; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL,
                                        i < REF_REQUEST_THREADS ? refs_request_main
                                                                : refs_remover_main,
                                        r),
                         0);
    }
    unsigned rounds = (unsigned)stress_rounds(3000);
    for (int waited = 0; waited < 60000 && atomic_load(&r->churned) < rounds &&
                         atomic_load(&r->stop) == 0;
         waited++) {
        sleep_ms(1);
    }
    int expected = 0;
    atomic_compare_exchange_strong(&r->stop, &expected, 1);
    for (int i = 0; i < REF_REQUEST_THREADS + REF_REMOVERS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    }
    assert_int_equal(dynhc_sched_stop_thread(r->s), DYNHC_OK);
    print_message("added %u (duplicates %u) removed %u (already %u) traffic %u stale calls %u "
                  "finds %u\n",
                  atomic_load(&r->added), atomic_load(&r->duplicates), atomic_load(&r->removed),
                  atomic_load(&r->not_found), atomic_load(&r->recorded),
                  atomic_load(&r->stale_calls), atomic_load(&r->finds));
    assert_true(atomic_load(&r->stop) == 1);
    assert_true(atomic_load(&r->removed) > 0 && atomic_load(&r->recorded) > 0);

    /* A reference outlives the scheduler: its endpoint is freed by the last
     * release, not by dynhc_sched_free(). */
    dynhc_endpoint *kept = NULL;
    for (unsigned i = 0; i < REF_NAMES && kept == NULL; i++) {
        kept = dynhc_sched_find(r->s, ref_names[i]);
    }
    if (kept == NULL) { /* every name was between removal and addition */
        assert_int_equal(sched_add(r->s, "generate", r->payload, refs_send, r, refs_destroy, NULL),
                         DYNHC_OK);
        atomic_fetch_add(&r->added, 1);
        kept = dynhc_sched_find(r->s, "generate");
    }
    assert_non_null(kept);
    unsigned added = atomic_load(&r->added);
    dynhc_sched_free(r->s);
    assert_int_equal(atomic_load(&r->destroyed), added - 1);
    assert_false(dynhc_endpoint_is_registered(kept));
    assert_false(dynhc_endpoint_is_ready(kept));
    dynhc_endpoint_record_activity(kept, 1); /* nothing of the freed scheduler is touched */
    assert_non_null(dynhc_endpoint_name(kept));
    dynhc_endpoint_release(kept);
    /* Every endpoint was freed exactly once. */
    assert_int_equal(atomic_load(&r->destroyed), added);
    dynhc_result_free(r->payload);
    free(r);
    poison_off();
}


/* ---- stress: forward progress from request threads -------------------------------- */

/* dynhc_endpoint_request_begin(), _record_progress() and _request_end() from
 * many request threads holding references, while this thread ticks a fake
 * clock with a stall threshold of a few of its milliseconds (endpoints
 * stall and recover all the time), another removes and adds the endpoints,
 * and another reports. Every request ends on the handle it began on, so
 * an endpoint registered at the end has none in flight: a count that lost
 * an update, or wrapped, shows there (and in the reports meanwhile). */
#define PROGRESS_THREADS 4

typedef struct progress_run {
    dynhc_sched *s;
    dynhc_result *payload;
    _Atomic uint64_t now;
    atomic_int stop; /* 1: the run is over, 2: a thread saw something wrong */
    atomic_uint requests, churned, reports, transitions, added, destroyed;
} progress_run;

static uint64_t progress_clock(void *user_data)
{
    return atomic_load(&((progress_run *)user_data)->now);
}

static void progress_wrong(progress_run *r)
{
    atomic_store(&r->stop, 2);
}

static void progress_destroy(void *user_data)
{
    atomic_fetch_add(&((progress_run *)user_data)->destroyed, 1);
}

static void progress_transition(dynhc_sched *s, dynhc_endpoint *ep, const char *name, int ready,
                                void *user_data)
{
    (void)s;
    (void)ready;
    progress_run *r = user_data;
    if (ep != NULL && strcmp(dynhc_endpoint_name(ep), name) != 0) {
        progress_wrong(r);
    }
    atomic_fetch_add(&r->transitions, 1);
}

static void *progress_request_main(void *arg)
{
    progress_run *r = arg;
    for (unsigned n = 0; atomic_load(&r->stop) == 0; n++) {
        dynhc_endpoint *ep = dynhc_sched_find(r->s, ref_names[n % REF_NAMES]);
        if (ep == NULL) {
            sched_yield(); /* between a removal and the next add */
            continue;
        }
        /* A request: begun, a few tokens (or none: a hang), ended. */
        dynhc_endpoint_request_begin(ep);
        for (unsigned token = 0; token < n % 4; token++) {
            dynhc_endpoint_record_progress(ep);
        }
        if (n % 16 == 0) {
            sched_yield(); /* a request that lasts while others come and go */
        }
        dynhc_endpoint_request_end(ep, n % 5 != 0);
        (void)dynhc_endpoint_is_ready(ep);
        dynhc_endpoint_release(ep);
        atomic_fetch_add(&r->requests, 1);
    }
    return NULL;
}

static void *progress_churn_main(void *arg)
{
    progress_run *r = arg;
    for (unsigned n = 0; atomic_load(&r->stop) == 0; n++) {
        const char *name = ref_names[n % REF_NAMES];
        dynhc_endpoint *ep = dynhc_sched_find(r->s, name);
        if (ep != NULL) {
            if (dynhc_sched_remove_endpoint(r->s, ep) != DYNHC_OK) {
                progress_wrong(r);
            }
            dynhc_endpoint_release(ep);
        } else if (sched_add(r->s, name, r->payload, refs_send, r, progress_destroy, NULL) ==
                   DYNHC_OK) {
            atomic_fetch_add(&r->added, 1);
        } else {
            progress_wrong(r);
        }
        atomic_fetch_add(&r->churned, 1);
        sleep_ms(1);
    }
    return NULL;
}

/* No count in a report may pass the number of request threads (a wrapped
 * one would be 2^64 - 1). */
static int counts_are_sane(const char *text)
{
    static const char family[] = "\ndynhc_endpoint_requests_in_flight{";
    for (const char *at = strstr(text, family); at != NULL; at = strstr(at + 1, family)) {
        const char *value = strstr(at, "} ");
        if (value == NULL || strtoull(value + 2, NULL, 10) > PROGRESS_THREADS) {
            return 0;
        }
    }
    return 1;
}

static void *progress_reporter_main(void *arg)
{
    progress_run *r = arg;
    for (unsigned n = 0; atomic_load(&r->stop) == 0; n++) {
        char *text = n % 2 == 0 ? dynhc_sched_metrics(r->s) : dynhc_sched_status_json(r->s, 1);
        if (text == NULL || (n % 2 == 0 && !counts_are_sane(text))) {
            progress_wrong(r);
        }
        dynhc_free(text);
        atomic_fetch_add(&r->reports, 1);
        sched_yield();
    }
    return NULL;
}

static void request_threads_report_progress_while_endpoints_stall_and_churn(void **state)
{
    (void)state;
    poison_on();
    progress_run *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->payload = builtin_payload();
    atomic_store(&r->now, 1000 * SEC);
    r->s = dynhc_sched_new();
    assert_non_null(r->s);
    assert_int_equal(dynhc_sched_set_clock(r->s, progress_clock, r), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log(r->s, NULL, NULL), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_transition_callback(r->s, progress_transition, r), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_interval_ns(r->s, 4 * MS), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_spread_ns(r->s, 0), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_stall_ns(r->s, 3 * MS), DYNHC_OK);

    enum { THREADS = PROGRESS_THREADS + 2 };
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        void *(*main_fn)(void *) = i < PROGRESS_THREADS       ? progress_request_main
                                   : i == PROGRESS_THREADS ? progress_churn_main
                                                           : progress_reporter_main;
        assert_int_equal(pthread_create(&threads[i], NULL, main_fn, r), 0);
    }
    unsigned rounds = (unsigned)stress_rounds(3000) / 10;
    while ((atomic_load(&r->churned) < rounds || atomic_load(&r->requests) < rounds) &&
           atomic_load(&r->stop) == 0) {
        uint64_t now = atomic_fetch_add(&r->now, MS) + MS;
        if (dynhc_sched_tick(r->s, now) < 0) {
            progress_wrong(r);
        }
        sched_yield();
    }
    int expected = 0;
    atomic_compare_exchange_strong(&r->stop, &expected, 1);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    }
    print_message("requests %u churned %u reports %u transitions %u\n",
                  atomic_load(&r->requests), atomic_load(&r->churned), atomic_load(&r->reports),
                  atomic_load(&r->transitions));
    assert_true(atomic_load(&r->stop) == 1);
    /* Every request ended on the handle it began on: none in flight. */
    char *text = dynhc_sched_metrics(r->s);
    assert_non_null(text);
    for (const char *at = strstr(text, "\ndynhc_endpoint_requests_in_flight{"); at != NULL;
         at = strstr(at + 1, "\ndynhc_endpoint_requests_in_flight{")) {
        assert_int_equal(strtoull(strstr(at, "} ") + 2, NULL, 10), 0);
    }
    dynhc_free(text);
    unsigned added = atomic_load(&r->added);
    dynhc_sched_free(r->s);
    assert_int_equal(atomic_load(&r->destroyed), added);
    dynhc_result_free(r->payload);
    free(r);
    poison_off();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            an_endpoint_removed_on_another_thread_while_its_completion_is_announced_stays_valid),
        cmocka_unit_test(
            an_endpoint_removed_by_the_log_sink_while_its_traffic_is_announced_stays_valid),
        cmocka_unit_test(the_clock_is_never_called_with_the_lock_held),
        cmocka_unit_test(reports_are_written_without_the_lock_held),
        cmocka_unit_test(settings_change_while_other_threads_use_the_scheduler),
        cmocka_unit_test(everything_at_once_while_a_thread_ticks),
        cmocka_unit_test(everything_at_once_while_the_thread_runner_ticks),
        cmocka_unit_test(request_threads_hold_references_while_endpoints_are_removed_and_added),
        cmocka_unit_test(request_threads_report_progress_while_endpoints_stall_and_churn),
    };
    /* DYNHC_TEST_FILTER=pattern runs only the matching tests. */
    const char *filter = getenv("DYNHC_TEST_FILTER");
    if (filter != NULL && filter[0] != '\0') {
        cmocka_set_test_filter(filter);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
