/* test_sched_alloc_fail.c: allocation failure in the scheduler and its
 * reports (SPEC 3, "Allocation failure"), on the counting allocator of
 * alloc_fail.h, the way test_alloc_fail.c tortures the resolver.
 *
 * Each scenario is a script of scheduler calls on a fake clock. It runs once
 * clean, writing a transcript of everything a caller can see: what each call
 * returned, every check sent (id, time, deadline), every transition, every
 * log line, every destroy, every report in full. Then it runs again for N =
 * 1, 2, ... with allocation N failing (only N, or N and every later one)
 * until a run completes without a failure. In such a run, the first call
 * that answers DYNHC_ERR_NOMEM (or NULL) must have had an allocation fail
 * inside it; failures are then switched off and that call is retried, and
 * the rest of the script runs on the SAME scheduler. The transcript must be
 * the clean run's, byte for byte: the failed call left no trace (no log
 * line, no transition, no destroy, no half-registered endpoint, no report
 * cut short), and nothing after it behaves differently. A failure that no
 * call reports fails the test too: nothing absorbs a failure silently.
 * alloc_fail_loop() checks that every run leaves as many live blocks as it
 * found, and each run ends with invariants read from the reports: no
 * endpoint lost, and per endpoint checks sent == success + failure +
 * timeout + in flight, tokens == sent x budget.
 *
 * Besides the scenarios: a tick never allocates (its batch is reserved at
 * registration), and the thread runner keeps ticking, without spinning,
 * when no allocation succeeds at all. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <dynhc/dynhc.h>

#include "alloc_fail.h"
#include "support.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define START (1000 * SEC) /* the fake clock's reading when a scenario starts */
#define MAX_EPS 512
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const alloc_fail_mode modes[] = {ALLOC_FAIL_ONCE, ALLOC_FAIL_FROM};

/* Resolved once, before any run: every endpoint sends it. */
static dynhc_result *payload;
static long long budget;
/* Interval 5 s, timeout 1 s, enabled: for dynhc_sched_apply_result(). */
static dynhc_result *settings;

/* ---- the world a script acts on -------------------------------------------- */

typedef struct world world;

/* One registration, as the test sees it. */
typedef struct ep_rec {
    world *w;
    char name[96];
    dynhc_endpoint *ep; /* NULL once removed */
    uint64_t in_flight; /* the id of the last check sent, 0 once completed here */
    atomic_uint sent;   /* checks its send callback was given */
    int sync;           /* -1: left in flight; else completed inside the send callback */
    int send_fails;     /* the send callback returns non-zero */
    atomic_int destroyed;
} ep_rec;

struct world {
    unsigned long n; /* the allocation to fail; 0: the clean run */
    alloc_fail_mode mode;
    int armed;
    unsigned long injected; /* failures injected, once disarmed */
    unsigned failed_calls;  /* calls that answered out of memory */
    _Atomic uint64_t now;   /* the fake clock */
    atomic_ulong clock_reads;
    dynhc_sched *s;
    ep_rec *eps;
    size_t ep_count;
    int sync;               /* the sync of endpoints added next */
    int quiet;              /* sends, logs and transitions are not written (the runner's) */
    atomic_uint sends;
    FILE *out;              /* the transcript */
    char *text;
    size_t size;
};

static void note(world *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void note(world *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(w->out, fmt, ap);
    va_end(ap);
}

static const char *where(const world *w)
{
    return w->n == 0 ? "the clean run" : alloc_fail_where();
}

/* From here on, allocation w->n fails (not in the clean run). */
static void w_arm(world *w)
{
    if (w->n > 0) {
        alloc_fail_start(w->n, w->mode);
        w->armed = 1;
    }
}

static unsigned long w_disarm(world *w)
{
    if (w->armed) {
        w->injected = alloc_fail_stop();
        w->armed = 0;
    }
    return w->injected;
}

/* A call answered out of memory: right only when an allocation failed
 * inside it. Failures stop here, and the caller retries the call. */
static void failed(world *w, const char *call, unsigned long injected_before)
{
    if (!w->armed || alloc_fail_injected() == injected_before) {
        fail_msg("%s: %s answered out of memory, but no allocation failed in it", where(w),
                 call);
    }
    w_disarm(w);
    w->failed_calls++;
}

/* st = expr, retried (once failures are off) while it answers out of memory. */
#define CALL(w, st, name, expr)                                                              \
    do {                                                                                     \
        for (;;) {                                                                           \
            unsigned long injected_before_ = alloc_fail_injected();                          \
            (st) = (expr);                                                                   \
            if ((st) != DYNHC_ERR_NOMEM) {                                                   \
                break;                                                                       \
            }                                                                                \
            failed((w), (name), injected_before_);                                           \
        }                                                                                    \
    } while (0)

/* ---- callbacks ---------------------------------------------------------------- */

static uint64_t fake_clock(void *user_data)
{
    world *w = user_data;
    atomic_fetch_add(&w->clock_reads, 1);
    return atomic_load(&w->now);
}

static void record_log(dynhc_log_level level, const char *message, void *user_data)
{
    world *w = user_data;
    if (!w->quiet) {
        note(w, "log %d %s\n", (int)level, message);
    }
}

static void record_transition(dynhc_sched *s, dynhc_endpoint *ep, const char *name, int ready,
                              void *user_data)
{
    (void)s;
    (void)ep;
    world *w = user_data;
    if (!w->quiet) {
        note(w, "transition %s %s\n", name != NULL ? name : "(overall)",
             ready ? "ready" : "notready");
    }
}

static void record_destroy(void *user_data)
{
    ep_rec *r = user_data;
    atomic_fetch_add(&r->destroyed, 1);
    if (!r->w->quiet) {
        note(r->w, "destroy %s\n", r->name);
    }
}

static int w_complete_id(world *w, ep_rec *r, uint64_t id, int result, const char *error);

static int record_send(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                       void *user_data)
{
    (void)s;
    (void)ep;
    ep_rec *r = user_data;
    world *w = r->w;
    atomic_fetch_add(&r->sent, 1);
    r->in_flight = check->id;
    if (!w->quiet) {
        note(w, "send %s id=%llx at=%llu until=%llu\n", check->endpoint,
             (unsigned long long)check->id, (unsigned long long)(check->sent_ns - START),
             (unsigned long long)(check->deadline_ns - START));
    }
    if (r->sync >= 0 && !r->send_fails) {
        w_complete_id(w, r, check->id, r->sync,
                      r->sync != DYNHC_CHECK_SUCCESS ? "refused by the send callback" : NULL);
    }
    /* Counted once the check is done with: a thread waiting for the count
     * then sees it completed. */
    atomic_fetch_add(&w->sends, 1);
    return r->send_fails ? -1 : 0;
}

/* ---- calls, as a script makes them -------------------------------------------- */

static void w_open(world *w)
{
    for (;;) {
        unsigned long injected_before = alloc_fail_injected();
        w->s = dynhc_sched_new();
        if (w->s != NULL) {
            break;
        }
        failed(w, "dynhc_sched_new", injected_before);
    }
    atomic_store(&w->now, START);
    assert_int_equal(dynhc_sched_set_clock(w->s, fake_clock, w), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log(w->s, record_log, w), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_transition_callback(w->s, record_transition, w), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_seed(w->s, 7), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_spread_ns(w->s, 0), DYNHC_OK);
    note(w, "open\n");
}

/* Registers name with labels given as name, value, ..., NULL (may be NULL);
 * the record, or NULL when refused. */
static ep_rec *w_add(world *w, const char *name, const char *const *labels)
{
    dynhc_label pairs[8];
    size_t pair_count = 0;
    for (size_t i = 0; labels != NULL && labels[i] != NULL; i += 2, pair_count++) {
        assert_true(pair_count < 8);
        pairs[pair_count] = (dynhc_label){labels[i], labels[i + 1]};
    }
    dynhc_endpoint_options o = DYNHC_ENDPOINT_OPTIONS_INIT;
    o.name = name;
    o.payload = payload;
    o.labels = pairs;
    o.label_count = pair_count;
    o.send = record_send;
    o.destroy = record_destroy;
    assert_true(w->ep_count < MAX_EPS);
    ep_rec *r = &w->eps[w->ep_count];
    memset(r, 0, sizeof(*r));
    r->w = w;
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->sync = w->sync;
    o.user_data = r;
    dynhc_endpoint *ep = NULL;
    int st;
    for (;;) {
        unsigned long injected_before = alloc_fail_injected();
        st = dynhc_sched_add(w->s, &o, &ep);
        if (st != DYNHC_ERR_NOMEM) {
            break;
        }
        assert_null(ep);
        /* A failed registration never calls back. */
        assert_int_equal(atomic_load(&r->destroyed), 0);
        failed(w, "dynhc_sched_add", injected_before);
    }
    note(w, "add %s -> %d\n", name, st);
    if (st != DYNHC_OK) {
        assert_null(ep);
        return NULL;
    }
    r->ep = ep;
    w->ep_count++;
    return r;
}

static void w_remove(world *w, ep_rec *r)
{
    int st = dynhc_sched_remove_endpoint(w->s, r->ep);
    note(w, "remove %s -> %d\n", r->name, st);
    assert_int_equal(st, DYNHC_OK);
    r->ep = NULL;
}

static void w_tick(world *w, uint64_t at)
{
    atomic_store(&w->now, at);
    int sent = dynhc_sched_tick(w->s, at);
    uint64_t next = dynhc_sched_next_deadline(w->s);
    note(w, "tick %llu -> %d, next %lld\n", (unsigned long long)(at - START), sent,
         next == DYNHC_NO_DEADLINE ? -1LL : (long long)(next - START));
}

static int w_complete_id(world *w, ep_rec *r, uint64_t id, int result, const char *error)
{
    int st;
    CALL(w, st, "dynhc_sched_complete",
         dynhc_sched_complete(w->s, id, (dynhc_check_result)result, error));
    if (!w->quiet) {
        note(w, "complete %s id=%llx result=%d error=%s -> %d\n", r != NULL ? r->name : "-",
             (unsigned long long)id, result, error != NULL ? error : "(null)", st);
    }
    if (st == DYNHC_OK && r != NULL && r->in_flight == id) {
        r->in_flight = 0;
    }
    return st;
}

/* Completes r's last check sent (completed or not). */
static int w_complete(world *w, ep_rec *r, int result, const char *error)
{
    return w_complete_id(w, r, r->in_flight, result, error);
}

enum { STATUS, STATUS_VERBOSE, METRICS };

/* Writes a report with the values of Unix timestamps masked: they add the
 * wall clock, read when the scheduler is created, to the fake clock, so two
 * runs of one script differ there and nowhere else. */
static void put_without_wall_clock(FILE *out, const char *text)
{
    for (const char *line = text; *line != '\0';) {
        size_t len = strcspn(line, "\n");
        size_t name_len = strcspn(line, "{ \n");
        const char *value = line + len;
        while (value > line && value[-1] != ' ') {
            value--;
        }
        value = value > line ? value - 1 : NULL;
        int wall = line[0] != '#' && value != NULL &&
                   ((name_len >= 18 && memcmp(line + name_len - 18, "_timestamp_seconds", 18) == 0) ||
                    (name_len == 26 && memcmp(line, "process_start_time_seconds", 26) == 0));
        if (wall) {
            fprintf(out, "%.*s <wall clock>\n", (int)(value - line), line);
        } else {
            fprintf(out, "%.*s\n", (int)len, line);
        }
        line += len + (line[len] == '\n');
    }
}

static void w_report(world *w, int kind)
{
    static const char *const names[] = {"dynhc_sched_status_json",
                                        "dynhc_sched_status_json verbose", "dynhc_sched_metrics"};
    char *text;
    for (;;) {
        unsigned long injected_before = alloc_fail_injected();
        text = kind == METRICS ? dynhc_sched_metrics(w->s)
                               : dynhc_sched_status_json(w->s, kind == STATUS_VERBOSE);
        if (text != NULL) {
            break;
        }
        failed(w, names[kind], injected_before);
    }
    fputs(names[kind], w->out);
    fputs(":\n", w->out);
    put_without_wall_clock(w->out, text);
    fputc('\n', w->out);
    dynhc_free(text);
}

static void w_reports(world *w)
{
    w_report(w, STATUS);
    w_report(w, STATUS_VERBOSE);
    w_report(w, METRICS);
}

static void w_activity(world *w, ep_rec *r, int ok)
{
    dynhc_endpoint_record_activity(r->ep, ok);
    note(w, "activity %s %d -> %s\n", r->name, ok,
         dynhc_endpoint_is_ready(r->ep) ? "ready" : "notready");
}

static void w_set_use(world *w, const char *const *names, size_t n)
{
    int st;
    CALL(w, st, "dynhc_sched_set_use_endpoints", dynhc_sched_set_use_endpoints(w->s, names, n));
    note(w, "set_use_endpoints %zu -> %d, ready %d\n", n, st, dynhc_sched_is_ready(w->s));
}

static void w_load_env(world *w, fake_env *env)
{
    int st;
    CALL(w, st, "dynhc_sched_load_env", dynhc_sched_load_env(w->s, fake_env_get, env));
    note(w, "load_env -> %d, ready %d\n", st, dynhc_sched_is_ready(w->s));
}

static ep_rec *w_find(world *w, const char *name)
{
    for (size_t i = 0; i < w->ep_count; i++) {
        if (w->eps[i].ep != NULL && strcmp(w->eps[i].name, name) == 0) {
            return &w->eps[i];
        }
    }
    fail_msg("no endpoint %s", name);
    return NULL;
}

/* What every script ends with, on whatever the failure left: the same
 * scheduler registers, ticks, completes and reports as in the clean run. */
static void tail(world *w)
{
    static const char *const labels[] = {"model", "tail", NULL};
    int sync = w->sync;
    w->sync = -1;
    ep_rec *a = w_add(w, "tail-a", labels);
    ep_rec *b = w_add(w, "tail-b", NULL);
    w->sync = sync;
    uint64_t t = atomic_load(&w->now) + 11 * SEC;
    w_tick(w, t); /* past the spread of the first checks */
    w_complete(w, a, DYNHC_CHECK_SUCCESS, NULL);
    w_complete(w, b, DYNHC_CHECK_FAILURE, "the tail's failure");
    w_tick(w, t + 30 * SEC);
    w_report(w, STATUS_VERBOSE);
    w_report(w, METRICS);
}

/* ---- invariants, read from the reports ----------------------------------------- */

/* The samples of a metrics text, by family, endpoint and result, sorted
 * for bsearch: the checks below look up five per endpoint. */
typedef struct sample {
    char key[256]; /* FAMILY NUL-separated from ENDPOINT and RESULT */
    unsigned long long value;
} sample;

typedef struct samples {
    sample *items;
    size_t count;
} samples;

/* "FAMILY|ENDPOINT|RESULT", cut at 255 bytes. */
static void sample_key(char key[256], const char *family, size_t family_len, const char *name,
                       size_t name_len, const char *result, size_t result_len)
{
    const char *parts[3] = {family, name, result};
    size_t lens[3] = {family_len, name_len, result_len};
    size_t at = 0;
    for (int i = 0; i < 3; i++) {
        size_t n = lens[i] < 255 - at ? lens[i] : 255 - at;
        memcpy(key + at, parts[i], n);
        at += n;
        if (i < 2 && at < 255) {
            key[at++] = '|';
        }
    }
    key[at] = '\0';
}

static int compare_samples(const void *a, const void *b)
{
    return strcmp(((const sample *)a)->key, ((const sample *)b)->key);
}

/* needle in text[0..len), or NULL. */
static const char *find_in(const char *text, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(text + i, needle, n) == 0) {
            return text + i;
        }
    }
    return NULL;
}

/* The samples that have an endpoint label, of the families checked. */
static samples parse_samples(const char *metrics)
{
    samples all = {NULL, 0};
    size_t capacity = 0;
    for (const char *line = metrics; *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        const char *brace = memchr(line, '{', len);
        static const char endpoint[] = "{dynhc_endpoint=\"";
        static const char result_is[] = ",result=\"";
        if (line[0] != '#' && brace != NULL &&
            strncmp(brace, endpoint, sizeof(endpoint) - 1) == 0 &&
            (strncmp(line, "dynhc_health_check", 18) == 0 ||
             strncmp(line, "dynhc_endpoint_ready{", 21) == 0)) {
            size_t rest = len - (size_t)(brace - line);
            const char *name = brace + sizeof(endpoint) - 1;
            const char *name_end = memchr(name, '"', rest);
            const char *value = find_in(brace, rest, "} ");
            const char *result = find_in(brace, rest, result_is);
            assert_non_null(name_end);
            assert_non_null(value);
            if (all.count == capacity) {
                capacity = capacity ? capacity * 2 : 256;
                all.items = realloc(all.items, capacity * sizeof(*all.items));
                assert_non_null(all.items);
            }
            sample *x = &all.items[all.count++];
            const char *result_text = result != NULL ? result + sizeof(result_is) - 1 : "";
            sample_key(x->key, line, (size_t)(brace - line), name, (size_t)(name_end - name),
                       result_text, result != NULL ? strcspn(result_text, "\"") : 0);
            x->value = strtoull(value + 2, NULL, 10);
        }
        line = end != NULL ? end + 1 : line + len;
    }
    qsort(all.items, all.count, sizeof(*all.items), compare_samples);
    return all;
}

/* The value of FAMILY{endpoint="NAME",...[,result="RESULT"]}. */
static unsigned long long metric_in(const samples *all, const char *family, const char *name,
                                    const char *result)
{
    sample want;
    sample_key(want.key, family, strlen(family), name, strlen(name),
               result != NULL ? result : "", result != NULL ? strlen(result) : 0);
    const sample *found = bsearch(&want, all->items, all->count, sizeof(*all->items),
                                  compare_samples);
    if (found == NULL) {
        fail_msg("the metrics have no %s for endpoint %s%s%s", family, name,
                 result != NULL ? " result " : "", result != NULL ? result : "");
    }
    return found->value;
}

static unsigned long long metric(const char *metrics, const char *family, const char *name,
                                 const char *result)
{
    samples all = parse_samples(metrics);
    unsigned long long value = metric_in(&all, family, name, result);
    free(all.items);
    return value;
}

static unsigned long long unlabelled(const char *metrics, const char *name)
{
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "\n%s ", name);
    const char *at = strstr(metrics, prefix);
    if (at == NULL) {
        fail_msg("the metrics have no %s", name);
    }
    return strtoull(at + strlen(prefix), NULL, 10);
}

static size_t count_lines(const char *text, const char *prefix)
{
    size_t n = 0;
    size_t len = strlen(prefix);
    for (const char *line = text; line != NULL && *line != '\0';) {
        n += strncmp(line, prefix, len) == 0;
        line = strchr(line, '\n');
        line = line != NULL ? line + 1 : NULL;
    }
    return n;
}

static void check_invariants(world *w)
{
    static const char *const results[] = {"success", "failure", "timeout"};
    char *metrics = dynhc_sched_metrics(w->s);
    char *status = dynhc_sched_status_json(w->s, 1);
    assert_non_null(metrics);
    assert_non_null(status);
    samples all = parse_samples(metrics);
    cJSON *root = cJSON_Parse(status);
    assert_non_null(root);
    const cJSON *endpoints = cJSON_GetObjectItemCaseSensitive(root, "endpoints");
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(root, "checks");
    size_t registered = 0;
    unsigned long long in_flight_total = 0;
    for (size_t i = 0; i < w->ep_count; i++) {
        const ep_rec *r = &w->eps[i];
        if (r->ep == NULL) {
            continue;
        }
        registered++;
        const cJSON *check = cJSON_GetObjectItemCaseSensitive(checks, r->name);
        if (check == NULL || cJSON_GetObjectItemCaseSensitive(endpoints, r->name) == NULL) {
            fail_msg("%s: endpoint %s is missing from the status JSON", where(w), r->name);
        }
        unsigned long long in_flight =
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(check, "in_flight")) ? 1 : 0;
        unsigned long long done = 0;
        for (size_t k = 0; k < COUNT(results); k++) {
            done += metric_in(&all, "dynhc_health_checks_total", r->name, results[k]);
        }
        unsigned long long sent = atomic_load(&r->sent);
        if (done + in_flight != sent) {
            fail_msg("%s: endpoint %s was sent %llu checks, the metrics count %llu done and %llu "
                     "in flight",
                     where(w), r->name, sent, done, in_flight);
        }
        unsigned long long tokens =
            metric_in(&all, "dynhc_health_check_token_budget_total", r->name, NULL);
        if (tokens != sent * (unsigned long long)budget) {
            fail_msg("%s: endpoint %s: %llu tokens for %llu checks of %lld", where(w), r->name,
                     tokens, sent, budget);
        }
        (void)metric_in(&all, "dynhc_endpoint_ready", r->name, NULL);
        in_flight_total += in_flight;
    }
    assert_int_equal(cJSON_GetArraySize(endpoints), registered);
    assert_int_equal(cJSON_GetArraySize(checks), registered);
    assert_int_equal(count_lines(metrics, "dynhc_endpoint_ready{"), registered);
    assert_int_equal(unlabelled(metrics, "dynhc_health_checks_in_flight"), in_flight_total);
    cJSON_Delete(root);
    free(all.items);
    dynhc_free(metrics);
    dynhc_free(status);
}

/* ---- running a script ------------------------------------------------------------ */

typedef struct scenario {
    const char *name;
    void (*script)(world *w);
} scenario;

/* Runs the script with allocation n failing (0: none); returns its
 * transcript (free()). */
static char *run_script(const scenario *sc, unsigned long n, alloc_fail_mode mode,
                        unsigned long *injected, unsigned *failed_calls)
{
    world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    w->eps = calloc(MAX_EPS, sizeof(*w->eps));
    assert_non_null(w->eps);
    w->n = n;
    w->mode = mode;
    w->sync = -1;
    w->out = open_memstream(&w->text, &w->size);
    assert_non_null(w->out);

    sc->script(w);

    *injected = w_disarm(w);
    *failed_calls = w->failed_calls;
    w->quiet = 0;
    check_invariants(w);
    dynhc_sched_free(w->s);
    note(w, "free\n");
    for (size_t i = 0; i < w->ep_count; i++) {
        if (atomic_load(&w->eps[i].destroyed) != 1) {
            fail_msg("%s: endpoint %s destroyed %d times", where(w), w->eps[i].name,
                     atomic_load(&w->eps[i].destroyed));
        }
    }
    fclose(w->out);
    char *text = w->text;
    free(w->eps);
    free(w);
    return text;
}

static void assert_same_transcript(const char *clean, const char *run, const char *context)
{
    if (strcmp(clean, run) == 0) {
        return;
    }
    size_t i = 0;
    while (clean[i] == run[i]) {
        i++;
    }
    /* From two lines before, or 300 bytes before on a long line. */
    size_t from = i;
    for (int lines = 0; from > 0 && i - from < 300 && lines < 3; from--) {
        lines += clean[from - 1] == '\n';
    }
    fail_msg("%s: the transcript differs from the clean run's at byte %zu\n"
             "--- clean run:\n%.600s\n--- this run:\n%.600s",
             context, i, clean + from, run + from);
}

typedef struct scenario_run {
    const scenario *sc;
    char *clean;
} scenario_run;

static unsigned long scenario_body(void *user, unsigned long n, alloc_fail_mode mode)
{
    scenario_run *run = user;
    unsigned long injected;
    unsigned failed_calls;
    char *text = run_script(run->sc, n, mode, &injected, &failed_calls);
    assert_same_transcript(run->clean, text, alloc_fail_where());
    free(text);
    if (injected > 0 && failed_calls == 0) {
        fail_msg("%s: %lu allocations failed, yet every call succeeded", alloc_fail_where(),
                 injected);
    }
    return injected;
}

static void torture(const scenario *sc)
{
    unsigned long injected;
    unsigned failed_calls;
    scenario_run run = {sc, run_script(sc, 0, ALLOC_FAIL_ONCE, &injected, &failed_calls)};
    assert_int_equal(injected, 0);
    assert_int_equal(failed_calls, 0);
    for (size_t m = 0; m < COUNT(modes); m++) {
        unsigned long allocations = alloc_fail_loop(sc->name, modes[m], scenario_body, &run);
        assert_true(allocations > 0);
    }
    free(run.clean);
}

/* ---- scenarios --------------------------------------------------------------------- */

static void script_new(world *w)
{
    w_arm(w);
    w_open(w);
    tail(w);
}

static void script_settings(world *w)
{
    w_open(w);
    w_arm(w);
    static const char *const use[] = {"ep-1", "ep-2", "ep-1"};
    w_set_use(w, use, COUNT(use));
    for (int i = 1; i <= 4; i++) {
        char name[16];
        snprintf(name, sizeof(name), "ep-%d", i);
        w_add(w, name, NULL);
    }
    fake_env env = {{0}, {0}, 0};
    fake_env_set(&env, "DYN_SYSTEM_STARTING_HEALTH_STATUS", "ready");
    fake_env_set(&env, "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", " [\"ep-1\", \"ep-3\"] ");
    w_load_env(w, &env);
    fake_env_set(&env, "DYN_SYSTEM_STARTING_HEALTH_STATUS", "NotReady");
    fake_env_set(&env, "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "[\"ep-1\", 7]");
    w_load_env(w, &env);
    fake_env_set(&env, "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "{\"not\": [\"a\", \"list\"");
    w_load_env(w, &env);
    /* A bad starting status beside a list that is taken: its warning is
     * logged once, however often the call is made. */
    fake_env_set(&env, "DYN_SYSTEM_STARTING_HEALTH_STATUS", "maybe");
    fake_env_set(&env, "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "[\"ep-2\", \"ep-4\", \"ep-2\"]");
    w_load_env(w, &env);
    fake_env_set(&env, "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "  ");
    w_load_env(w, &env);
    w_set_use(w, NULL, 0);
    note(w, "apply_result -> %d\n", dynhc_sched_apply_result(w->s, settings));
    static const char *const use_ep4[] = {"ep-4"};
    w_set_use(w, use_ep4, 1);
    w_tick(w, START);
    w_complete(w, w_find(w, "ep-4"), DYNHC_CHECK_SUCCESS, NULL);
    w_complete(w, w_find(w, "ep-1"), DYNHC_CHECK_FAILURE, "settings failure");
    w_reports(w);
    tail(w);
}

/* Endpoints with and without labels, many of them: the names table, the
 * slots, the timer queue, the tick's batch and the report buffers all grow. */
static void script_add(world *w)
{
    static const char *const labels[] = {"model", "gpt2", "region", "eu-west", NULL};
    static const char *const clashing[] = {"model", "m\"x\\y", "result", "dropped",
                                           "model", "again",   "le",     "dropped", NULL};
    static const char *const invalid[] = {"9model", "x", NULL};
    static const char *const dropped_only[] = {"result", "x", NULL};
    w_open(w);
    w_arm(w);
    for (int i = 0; i < 70; i++) { /* past 64: every table grows */
        char name[32];
        snprintf(name, sizeof(name), "endpoint-%03d", i);
        w_add(w, name, i % 3 == 0 ? NULL : i % 3 == 1 ? labels : clashing);
    }
    w_add(w, "endpoint-007", NULL);      /* a duplicate */
    w_add(w, "invalid", invalid);        /* a label name that cannot be written */
    w_add(w, "dropped-only", dropped_only);
    w_tick(w, START);                    /* all 71 due at once */
    w_reports(w);
    tail(w);
}

static void script_remove(world *w)
{
    w_open(w);
    for (int i = 0; i < 70; i++) {
        char name[32];
        snprintf(name, sizeof(name), "ep-%03d", i);
        w_add(w, name, i % 2 ? NULL : (const char *const[]){"zone", "a", NULL});
    }
    w_tick(w, START);
    w_arm(w);
    for (size_t i = 0; i < 70; i += 2) {
        w_remove(w, &w->eps[i]); /* with its check in flight */
    }
    for (size_t i = 1; i < 70; i += 4) {
        w_complete(w, &w->eps[i], DYNHC_CHECK_SUCCESS, NULL);
    }
    w_complete(w, &w->eps[0], DYNHC_CHECK_SUCCESS, NULL); /* removed: not found */
    for (int i = 0; i < 45; i++) {
        char name[32];
        snprintf(name, sizeof(name), "again-%03d", i); /* the freed slots, then new ones */
        w_add(w, name, (const char *const[]){"zone", "b", NULL});
    }
    w_remove(w, w_find(w, "ep-069"));
    w_remove(w, w_find(w, "again-000"));
    w_tick(w, START + 4 * SEC);
    w_reports(w);
    tail(w);
}

/* Many due at once, then many timing out at once, each turning its endpoint
 * not ready: the batch holds a check or a transition per endpoint, and the
 * overall status's. */
static void script_tick(world *w)
{
    w_open(w);
    assert_int_equal(dynhc_sched_set_starting_status(w->s, 1), DYNHC_OK);
    w_arm(w);
    for (int i = 0; i < 70; i++) {
        char name[32];
        snprintf(name, sizeof(name), "tick-%03d", i);
        w_add(w, name, NULL);
    }
    w_tick(w, START);
    w_tick(w, START + 3 * SEC); /* all time out */
    w_tick(w, START + 13 * SEC);
    w->eps[5].send_fails = 1; /* the tick completes it as a failure */
    w_tick(w, START + 16 * SEC);
    w_reports(w);
    tail(w);
}

static void script_complete(world *w)
{
    w_open(w);
    for (int i = 0; i < 12; i++) {
        char name[16];
        snprintf(name, sizeof(name), "c-%02d", i);
        w_add(w, name, NULL);
    }
    w_tick(w, START);
    w_arm(w);
    ep_rec *e = w->eps;
    uint64_t first_of_2 = e[2].in_flight;
    atomic_store(&w->now, START + 250 * MS);
    w_complete(w, &e[0], DYNHC_CHECK_SUCCESS, NULL);
    w_complete(w, &e[1], DYNHC_CHECK_SUCCESS, "a success's text is not kept");
    w_complete(w, &e[2], DYNHC_CHECK_FAILURE,
               "connection refused: http://127.0.0.1:8000/v1/completions did not answer; "
               "the text is copied, so the caller's buffer can go at once");
    w_complete(w, &e[3], DYNHC_CHECK_FAILURE, NULL);
    w_complete(w, &e[4], DYNHC_CHECK_FAILURE, "");
    w_complete(w, &e[5], DYNHC_CHECK_TIMEOUT, NULL);
    w_complete(w, &e[6], DYNHC_CHECK_TIMEOUT, "upstream deadline exceeded");
    w_complete_id(w, &e[0], 0x1234ull, DYNHC_CHECK_SUCCESS, NULL); /* late: done already */
    w_complete_id(w, &e[2], first_of_2, DYNHC_CHECK_FAILURE, "completed twice");
    w_complete_id(w, NULL, 0xdead00000001ull, DYNHC_CHECK_FAILURE, "unknown id");
    w_complete_id(w, NULL, 0, DYNHC_CHECK_FAILURE, NULL);
    note(w, "complete with a bad result -> %d\n",
         dynhc_sched_complete(w->s, 1, (dynhc_check_result)7, "x"));
    w_tick(w, START + 3 * SEC); /* c-07 .. c-11 time out */
    uint64_t timed_out = e[7].in_flight;
    w_complete_id(w, &e[7], timed_out, DYNHC_CHECK_FAILURE, "too late to count");
    uint64_t removed = e[8].in_flight;
    w_remove(w, &e[8]);
    w_complete_id(w, NULL, removed, DYNHC_CHECK_FAILURE, "its endpoint is gone");
    w_report(w, STATUS_VERBOSE);
    w_report(w, METRICS);
    /* Completed inside the send callback, and a send callback that fails. */
    e[9].sync = DYNHC_CHECK_FAILURE;
    e[10].sync = DYNHC_CHECK_SUCCESS;
    e[11].send_fails = 1;
    w_tick(w, START + 20 * SEC);
    w_reports(w);
    tail(w);
}

static void script_activity(world *w)
{
    w_open(w);
    assert_int_equal(dynhc_sched_set_mode(w->s, DYNHC_MODE_IDLE), DYNHC_OK);
    ep_rec *r[6];
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof(name), "a-%d", i);
        r[i] = w_add(w, name, NULL);
    }
    w_arm(w);
    w_activity(w, r[0], 1);
    w_activity(w, r[1], 0);
    atomic_store(&w->now, START + 2 * SEC);
    w_activity(w, r[2], 1);
    w_tick(w, START + 2 * SEC); /* the quiet ones are checked */
    w_complete(w, r[3], DYNHC_CHECK_FAILURE, "no traffic and no answer");
    w_tick(w, START + 10 * SEC); /* traffic pushes checks back */
    w_activity(w, r[3], 1);      /* a success marks it ready again */
    w_tick(w, START + 12 * SEC);
    w_reports(w);
    tail(w);
}

/* Reports of a fleet that grows between them: the snapshot buffers and
 * the text grow each time. */
static void script_reports(world *w)
{
    static const char *const labels[] = {"model", "a-rather-long-model-name/with-a-path",
                                          "region", "somewhere-far-away", NULL};
    w_open(w);
    for (int i = 0; i < 20; i++) {
        char name[96];
        snprintf(name, sizeof(name), "a-long-endpoint-name-for-the-text-buffer-%03d", i);
        w_add(w, name, i % 2 ? labels : NULL);
    }
    w_tick(w, START);
    for (size_t i = 0; i < 20; i += 2) {
        w_complete(w, &w->eps[i], DYNHC_CHECK_FAILURE,
                   "a long error text, \"quoted\", with a tab\tand \xff bad UTF-8");
    }
    w_arm(w);
    w_reports(w);
    for (int i = 0; i < 50; i++) {
        char name[96];
        snprintf(name, sizeof(name), "more-%03d-\xc3\xa9", i);
        w_add(w, name, labels);
    }
    w_reports(w);
    w_reports(w);
    tail(w);
}

static void wait_sends(world *w, unsigned n)
{
    for (int i = 0; i < 200000 && atomic_load(&w->sends) < n; i++) {
        nanosleep(&(struct timespec){0, 100000}, NULL);
    }
    if (atomic_load(&w->sends) < n) {
        fail_msg("%s: the thread runner sent %u of %u checks in 20 s", where(w),
                 atomic_load(&w->sends), n);
    }
}

/* The thread runner ticks while endpoints are added and reported on. What
 * it does is not written down (its timing is its own), only the reports
 * once it is idle: every endpoint checked once, at the frozen clock. */
static void script_thread(world *w)
{
    w->quiet = 1;
    w_open(w);
    assert_int_equal(dynhc_sched_set_starting_status(w->s, 1), DYNHC_OK);
    w->sync = DYNHC_CHECK_SUCCESS;
    w_arm(w);
    note(w, "start_thread -> %d\n", dynhc_sched_start_thread(w->s, NULL));
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof(name), "t-%02d", i);
        w_add(w, name, NULL);
    }
    wait_sends(w, 20);
    w_reports(w);
    note(w, "stop_thread -> %d\n", dynhc_sched_stop_thread(w->s));
    note(w, "start_thread -> %d\n", dynhc_sched_start_thread(w->s, NULL));
    for (int i = 20; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof(name), "t-%02d", i);
        w_add(w, name, (const char *const[]){"k", "v", NULL});
    }
    wait_sends(w, 40);
    note(w, "stop_thread -> %d\n", dynhc_sched_stop_thread(w->s));
    w_reports(w);
    /* Still quiet: endpoints due together go out in the order of the timers,
     * which the runner's timing shaped. */
    w->sync = -1;
    tail(w);
}

/* Add 100, tick through the spread of their first checks, complete half,
 * time out the rest, report, remove all, report, and carry on. */
static void script_life_cycle(world *w)
{
    static const char *const labels[] = {"model", "gpt2", NULL};
    w_arm(w);
    w_open(w);
    int st;
    CALL(w, st, "set_spread_ns", dynhc_sched_set_spread_ns(w->s, 10 * SEC));
    CALL(w, st, "set_thresholds", dynhc_sched_set_thresholds(w->s, 2, 1));
    for (int i = 0; i < 100; i++) {
        char name[32];
        snprintf(name, sizeof(name), "life-%03d", i);
        w->sync = i % 5 == 0 ? DYNHC_CHECK_SUCCESS : i % 5 == 1 ? DYNHC_CHECK_FAILURE : -1;
        ep_rec *r = w_add(w, name, i % 4 == 0 ? labels : NULL);
        r->send_fails = i % 7 == 3;
    }
    w->sync = -1;
    for (uint64_t t = 0; t <= 10 * SEC; t += 500 * MS) {
        w_tick(w, START + t);
        for (size_t i = 0; i < 100; i += 2) {
            ep_rec *r = &w->eps[i];
            if (r->in_flight != 0 && r->sync < 0 && !r->send_fails) {
                w_complete(w, r, i % 4 ? DYNHC_CHECK_SUCCESS : DYNHC_CHECK_FAILURE,
                           i % 4 ? NULL : "half of them fail");
            }
        }
    }
    w_tick(w, START + 14 * SEC); /* the rest time out */
    w_reports(w);
    for (size_t i = 0; i < 100; i++) {
        w_remove(w, &w->eps[i]);
    }
    w_reports(w);
    tail(w);
}

static const scenario scenarios[] = {
    {"dynhc_sched_new", script_new},
    {"settings", script_settings},
    {"add", script_add},
    {"remove_endpoint", script_remove},
    {"tick", script_tick},
    {"complete", script_complete},
    {"record_activity", script_activity},
    {"reports", script_reports},
    {"thread runner", script_thread},
    {"life cycle", script_life_cycle},
};

static const scenario *scenario_named(const char *name)
{
    for (size_t i = 0; i < COUNT(scenarios); i++) {
        if (strcmp(scenarios[i].name, name) == 0) {
            return &scenarios[i];
        }
    }
    fail_msg("no scenario %s", name);
    return NULL;
}

static void sched_new_answers_null_or_a_working_scheduler(void **state)
{
    (void)state;
    torture(scenario_named("dynhc_sched_new"));
}

static void settings_answer_nomem_and_retry_to_the_same_state(void **state)
{
    (void)state;
    torture(scenario_named("settings"));
}

static void add_answers_nomem_and_keeps_every_table_whole(void **state)
{
    (void)state;
    torture(scenario_named("add"));
}

static void remove_and_reuse_of_slots_survive_every_failed_allocation(void **state)
{
    (void)state;
    torture(scenario_named("remove_endpoint"));
}

static void ticks_of_many_due_endpoints_survive_every_failed_allocation(void **state)
{
    (void)state;
    torture(scenario_named("tick"));
}

static void completions_answer_nomem_and_keep_the_check_in_flight(void **state)
{
    (void)state;
    torture(scenario_named("complete"));
}

static void activity_survives_every_failed_allocation(void **state)
{
    (void)state;
    torture(scenario_named("record_activity"));
}

static void reports_answer_null_never_a_truncated_text(void **state)
{
    (void)state;
    torture(scenario_named("reports"));
}

static void the_thread_runner_survives_every_failed_allocation(void **state)
{
    (void)state;
    torture(scenario_named("thread runner"));
}

static void a_whole_life_cycle_survives_every_failed_allocation(void **state)
{
    (void)state;
    torture(scenario_named("life cycle"));
}

/* ---- a tick needs no memory ----------------------------------------------------- */

static world *world_new(void)
{
    world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    w->eps = calloc(MAX_EPS, sizeof(*w->eps));
    assert_non_null(w->eps);
    w->sync = -1;
    w->out = open_memstream(&w->text, &w->size);
    assert_non_null(w->out);
    w_open(w);
    return w;
}

static void world_free(world *w)
{
    dynhc_sched_free(w->s);
    fclose(w->out);
    free(w->text);
    free(w->eps);
    free(w);
}

static void a_tick_never_allocates(void **state)
{
    (void)state;
    long live = alloc_fail_live();
    world *w = world_new();
    assert_int_equal(dynhc_sched_set_starting_status(w->s, 1), DYNHC_OK);
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof(name), "due-%03d", i);
        w_add(w, name, NULL);
    }
    w->eps[3].send_fails = 1;
    alloc_fail_start(1, ALLOC_FAIL_FROM); /* no allocation succeeds */
    int sent = dynhc_sched_tick(w->s, START);
    uint64_t next = dynhc_sched_next_deadline(w->s);
    /* 299 time out and turn not ready: 299 transitions and the overall one. */
    int timed_out_tick = dynhc_sched_tick(w->s, START + 3 * SEC);
    unsigned long attempts = alloc_fail_count();
    alloc_fail_stop();
    assert_int_equal(sent, 300);
    assert_int_equal(atomic_load(&w->sends), 300);
    assert_true(next == START + 3 * SEC); /* nothing left due at START */
    assert_int_equal(timed_out_tick, 0);
    assert_int_equal(attempts, 0);
    char *metrics = dynhc_sched_metrics(w->s);
    assert_non_null(metrics);
    assert_int_equal(unlabelled(metrics, "dynhc_health_checks_in_flight"), 0);
    assert_int_equal(metric(metrics, "dynhc_health_checks_total", "due-000", "timeout"), 1);
    assert_int_equal(metric(metrics, "dynhc_health_checks_total", "due-003", "failure"), 1);
    assert_int_equal(metric(metrics, "dynhc_endpoint_ready", "due-299", NULL), 0);
    dynhc_free(metrics);
    char *status = dynhc_sched_status_json(w->s, 1);
    assert_non_null(strstr(status, "\"due-000\":{\"last_check_secs_ago\":0,\"latency_ms\":3000,"
                                   "\"result\":\"timeout\",\"consecutive_failures\":1,"
                                   "\"last_error\":\"timeout\""));
    assert_non_null(strstr(status, "\"last_error\":\"the send callback failed\""));
    dynhc_free(status);
    world_free(w);
    assert_int_equal(alloc_fail_live(), live);
}

/* With no allocation succeeding at all, the thread runner still sends what
 * is due, and then sleeps: it never spins on a tick that cannot proceed. */
static void the_runner_ticks_without_memory_and_never_spins(void **state)
{
    (void)state;
    long live = alloc_fail_live();
    world *w = world_new();
    w->quiet = 1;
    w->sync = DYNHC_CHECK_SUCCESS;
    assert_int_equal(dynhc_sched_set_starting_status(w->s, 1), DYNHC_OK);
    for (int i = 0; i < 200; i++) {
        char name[32];
        snprintf(name, sizeof(name), "runner-%03d", i);
        w_add(w, name, NULL);
    }
    alloc_fail_start(1, ALLOC_FAIL_FROM);
    assert_int_equal(dynhc_sched_start_thread(w->s, NULL), DYNHC_OK);
    for (int i = 0; i < 5000 && atomic_load(&w->sends) < 200; i++) {
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    unsigned sends = atomic_load(&w->sends);
    unsigned long reads_before = atomic_load(&w->clock_reads);
    /* 100 ms, in which a spinning runner reads the clock thousands of times. */
    nanosleep(&(struct timespec){0, 100000000}, NULL);
    unsigned long reads = atomic_load(&w->clock_reads) - reads_before;
    assert_int_equal(dynhc_sched_stop_thread(w->s), DYNHC_OK);
    unsigned long attempts = alloc_fail_count();
    alloc_fail_stop();
    if (sends < 200) {
        fail_msg("the thread runner sent %u of 200 checks in 5 s without memory", sends);
    }
    if (reads > 20) {
        fail_msg("the thread runner read the clock %lu times in 100 ms with nothing due: it spins",
                 reads);
    }
    assert_int_equal(attempts, 0);
    world_free(w);
    assert_int_equal(alloc_fail_live(), live);
}

static int group_setup(void **state)
{
    (void)state;
    fake_env env = {{0}, {0}, 0};
    dynhc_resolver *r = dynhc_resolver_new();
    assert_non_null(r);
    assert_int_equal(dynhc_resolver_set_getenv(r, fake_env_get, &env), DYNHC_OK);
    assert_int_equal(dynhc_resolver_resolve(r, &payload), DYNHC_OK);
    budget = dynhc_result_token_budget(payload);
    assert_true(budget > 0);
    assert_int_equal(dynhc_resolver_set_interval_ns(r, 5 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_resolver_set_timeout_ns(r, 1 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_resolver_resolve(r, &settings), DYNHC_OK);
    dynhc_resolver_free(r);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    dynhc_result_free(payload);
    dynhc_result_free(settings);
    return 0;
}

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

int main(void)
{
#ifdef UNDER_TSAN
    /* ThreadSanitizer is here for the runner's races, not for every N, and
     * makes each run twenty times slower: every 7th N, as under valgrind,
     * unless the environment chooses. */
    setenv("DYNHC_TEST_ALLOC_FAIL_STEP", "7", 0);
#endif
    /* Before any dynhc or cJSON object exists. */
    alloc_fail_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_tick_never_allocates),
        cmocka_unit_test(the_runner_ticks_without_memory_and_never_spins),
        cmocka_unit_test(sched_new_answers_null_or_a_working_scheduler),
        cmocka_unit_test(settings_answer_nomem_and_retry_to_the_same_state),
        cmocka_unit_test(add_answers_nomem_and_keeps_every_table_whole),
        cmocka_unit_test(remove_and_reuse_of_slots_survive_every_failed_allocation),
        cmocka_unit_test(ticks_of_many_due_endpoints_survive_every_failed_allocation),
        cmocka_unit_test(completions_answer_nomem_and_keep_the_check_in_flight),
        cmocka_unit_test(activity_survives_every_failed_allocation),
        cmocka_unit_test(reports_answer_null_never_a_truncated_text),
        cmocka_unit_test(the_thread_runner_survives_every_failed_allocation),
        cmocka_unit_test(a_whole_life_cycle_survives_every_failed_allocation),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
