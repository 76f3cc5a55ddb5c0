/* fuzz_sched.c: the scheduler (SPEC 3) driven by bytes read as a sequence
 * of API calls on one scheduler with a fake clock, checked after every call
 * against a model of what the calls must have done.
 *
 * The model knows what the API promises, not how the scheduler is built: it
 * does not predict when a check goes out (spread and jitter are random), it
 * learns that from the send callback and then holds the scheduler to the
 * rules: at most one check in flight per endpoint, a check sent only when
 * checks are enabled and (idle mode) after the interval without traffic,
 * sent = success + failure + timeout + in flight, readiness that follows
 * the thresholds, activity and the starting status, one transition callback
 * per readiness change, completions and timeouts as the header says
 * (dynhc_sched_complete after the deadline is late), reports that parse
 * (status JSON through cJSON, the Prometheus text line by line) and say what
 * the model says, latencies that add up, next_deadline that never loses a
 * due endpoint and a tick at it that always makes progress.
 *
 * A broken rule prints the recent operations and aborts, which libFuzzer
 * (or tests/fuzz_replay.c) reports as a crash. The harness is single-
 * threaded: the cross-thread rules are the TSan tests' business. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <dynhc/dynhc.h>

#include "fuzz_check.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define DAY (86400ull * SEC)
#define MAX_EP 8
#define MAX_OPS 1000
#define NAME_COUNT 9
/* Checking the reports is most of the work per operation, and its branches
 * tell libFuzzer nothing about the scheduler: they go uninstrumented. */
#if defined(__clang__) && __clang_major__ >= 13
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define NO_COVERAGE
#endif

/* The label that names the endpoint in every per-endpoint series. */
#define ENDPOINT_LABEL "dynhc_endpoint"

/* ---- the pools the input picks from ------------------------------------------ */

static char long_name[201];

/* Distinct strings: quotes, backslash and control bytes, valid and invalid
 * UTF-8, an empty (invalid) name, printf directives, a long name. */
static const char *const names[NAME_COUNT] = {
    "generate", "chat", "embed", "a\"b\\c\nd\te\x01", "caf\xc3\xa9 \xe2\x82\xac",
    "bad\xff\xc0\xed\xa0\x80x", "", "%s%n%x{}=", long_name};

static const char *const l_model[] = {"model", "gpt2", NULL};
static const char *const l_weird[] = {"model", "q\"uo\\te\nnl\xff\x01", NULL};
static const char *const l_endpoint[] = {"endpoint", "x", NULL};
static const char *const l_reserved[] = {"__name__", "x", NULL};
static const char *const l_digit[] = {"9x", "y", NULL};
static const char *const l_odd[] = {"model", "a", "zone", NULL};
static const char *const l_clash[] = {"result", "r", "le", "1", "model", "m", "model", "m2", NULL};
static const char *const l_empty_name[] = {"", "v", NULL};
static const char *const l_target[] = {"job", "j", "zone", "", NULL};
static const char *const l_none[] = {NULL};
static const char *const l_dash[] = {"model-name", "x", NULL};

typedef struct label_set {
    const char *const *labels;
    int valid;
} label_set;

#define LABEL_SET_COUNT 11
static const label_set label_sets[LABEL_SET_COUNT] = {
    {NULL, 1},     {l_model, 1},      {l_weird, 1},  {l_endpoint, 0},
    {l_reserved, 0}, {l_digit, 0},    {l_odd, 0},    {l_clash, 0},
    {l_empty_name, 0}, {l_target, 0}, {l_none, 1}};
static const label_set dash_set = {l_dash, 0};

#define ERROR_COUNT 5
static char long_error[301];
static const char *const errors[ERROR_COUNT] = {NULL, "boom", "q\"\\\n\x01\xff", "", long_error};

/* Resolved once: generate defaults, embedding defaults (no token budget), a
 * runtime chat payload, and a disabled resolution (no payload). */
#define PAYLOAD_COUNT 4
static dynhc_result *payloads[PAYLOAD_COUNT];

static const char *const result_names[3] = {"success", "failure", "timeout"};

/* ---- the model ------------------------------------------------------------------ */

/* What each send does, bit by bit. */
enum {
    SEND_SYNC_MASK = 3,         /* complete at once: 1 success, 2 failure, 3 timeout */
    SEND_FAIL = 4,              /* return nonzero */
    SEND_REMOVE_SELF = 8,       /* remove its own endpoint */
    SEND_REENTER = 16,          /* tick (BUSY), reports, free (ignored), complete another */
    SEND_ADD = 32,              /* register another endpoint */
    SEND_REMOVE_OTHER = 64,     /* remove another endpoint */
    REMOVE_ON_TRANSITION = 128  /* the transition callback removes the endpoint */
};

typedef struct mep {
    int alive;
    dynhc_endpoint *ep;
    unsigned gen; /* which registration this is */
    int name_idx, labels_idx, payload_idx;
    unsigned send_mode;
    int ready;
    unsigned cs, cf; /* consecutive successes, failures */
    uint64_t sent, counts[3], late, transitions;
    uint64_t cb_transitions;
    int cb_last;
    uint64_t inflight_id, inflight_sent, inflight_deadline;
    int inflight_consistent; /* sent by a tick whose now was the clock */
    int checked, last_result;
    const char *last_error;
    int latency_known;
    uint64_t last_latency;
    uint64_t last_activity;
    uint64_t requests; /* begun and not ended (never below 0) */
    int remove_pending; /* removed by a callback, not yet in the model */
    int remove_on_log;  /* the log sink removes it when a line names it */
} mep;

typedef struct issued {
    uint64_t id;
    int idx;
    unsigned gen;
} issued;

typedef struct ud_t {
    uint32_t magic;
    int idx;
    unsigned gen;
} ud_t;

#define UD_MAGIC 0x5eedc0deu

static struct {
    dynhc_sched *s;
    const uint8_t *in;
    size_t left;
    unsigned op;

    uint64_t clk, created, min_time, max_time;
    /* The latest now given to a tick: the scheduler never reads a time
     * before it (its one time source), the uptime included. */
    uint64_t floor_now;

    /* Settings as the model knows them. */
    dynhc_mode mode;
    uint64_t interval, nr_interval, timeout, spread;
    int nr_set, spread_set;
    double jitter;
    unsigned fth, sth;
    int amr, enabled, starting, process_ready;
    unsigned use_mask;
    /* The largest ever set: bounds on what a schedule can hold. */
    uint64_t max_interval, max_timeout, max_spread;
    double max_jitter;

    mep eps[MAX_EP];
    unsigned next_gen;
    int overall;
    uint64_t overall_transitions, cb_overall;
    int cb_overall_last;

    uint64_t outcomes;
    /* Latencies add up past 2^64 ns (a tick far behind the clock), as the
     * scheduler's seconds-and-nanoseconds sum does. */
    unsigned __int128 lat_sum, prev_sum;
    int lat_exact;
    uint64_t unknown, fab;
    issued *hist;
    size_t hist_len, hist_cap;
    uint64_t added, removed, destroyed;
    int freeing;

    int in_tick;
    uint64_t tick_now;
    unsigned tick_sends, tick_removals, tick_adds;
    unsigned drain_ticks; /* per input, so that one input stays fast */
    int in_send;
    /* Inside a call whose effect the model applies once it returns: a
     * removal from a callback waits for that (remove_pending). */
    int defer_removal;

    const char *expect_log_name;
    int saw_payload_log, saw_error_log, saw_warning_log;

    char trace[32][120];
    unsigned trace_len;
} H;

/* The scheduler's time: the clock, never before the latest tick's now. */
static uint64_t scheduler_now(void)
{
    return H.clk > H.floor_now ? H.clk : H.floor_now;
}

/* Whether the next time of some endpoint may pass UINT64_MAX: every wait
 * the settings allow (intervals with jitter, the timeout, the spread). */
static uint64_t sat_add(uint64_t a, uint64_t b);

static int near_the_end_of_time(void)
{
    /* The longest wait any setting ever allowed: an endpoint's next time
     * was planned under the settings of its day. */
    uint64_t longest = sat_add(H.max_interval, (uint64_t)((double)H.max_interval * H.max_jitter) + 1);
    uint64_t span = sat_add(sat_add(longest, longest), sat_add(H.max_timeout, H.max_spread));
    return scheduler_now() >= UINT64_MAX - span;
}

/* ---- failing ---------------------------------------------------------------------- */

static void note(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(H.trace[H.trace_len % 32], sizeof(H.trace[0]), fmt, ap);
    va_end(ap);
    H.trace_len++;
}

static void broken(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

static void broken(const char *fmt, ...)
{
    fprintf(stderr, "fuzz_sched: invariant broken at op %u (clock %llu): ", H.op,
            (unsigned long long)H.clk);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nlast operations:\n");
    unsigned first = H.trace_len > 32 ? H.trace_len - 32 : 0;
    for (unsigned i = first; i < H.trace_len; i++) {
        fprintf(stderr, "  %s\n", H.trace[i % 32]);
    }
    abort();
}

/* ---- reading the input ------------------------------------------------------------ */

static uint8_t rd8(void)
{
    if (H.left == 0) {
        return 0;
    }
    H.left--;
    return *H.in++;
}

static uint16_t rd16(void)
{
    uint16_t lo = rd8();
    return (uint16_t)(lo | (uint16_t)(rd8() << 8));
}

static uint32_t rd32(void)
{
    uint32_t lo = rd16();
    return lo | (uint32_t)rd16() << 16;
}

static uint64_t rd64(void)
{
    uint64_t lo = rd32();
    return lo | (uint64_t)rd32() << 32;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    return a != 0 && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

/* A duration: the edges of the valid range (0 < ns <= 24 h) and beyond. */
static uint64_t pick_duration(void)
{
    static const uint64_t table[] = {0,         1,        999,      MS,      MS + 1,
                                     10 * MS,   100 * MS, SEC,      3 * SEC, 10 * SEC,
                                     60 * SEC,  3600 * SEC, DAY,    DAY + 1, UINT64_MAX};
    uint8_t b = rd8();
    if (b < 2 * sizeof(table) / sizeof(table[0])) {
        return table[b % (sizeof(table) / sizeof(table[0]))];
    }
    return (uint64_t)rd32() * (b & 1 ? MS : 1000);
}

static void see_time(uint64_t t)
{
    if (t < H.min_time) {
        H.min_time = t;
    }
    if (t > H.max_time) {
        H.max_time = t;
    }
}

/* ---- text helpers ------------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at p (Unicode table 3-7), 0 when
 * p does not start one. */
static NO_COVERAGE size_t utf8_len(const unsigned char *p, size_t left)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c == 0xE0) {
        n = 3;
        lo = 0xA0;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
        n = 3;
    } else if (c == 0xED) {
        n = 3;
        hi = 0x9F;
    } else if (c == 0xF0) {
        n = 4;
        lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3) {
        n = 4;
    } else if (c == 0xF4) {
        n = 4;
        hi = 0x8F;
    } else {
        return 0;
    }
    if (left < n || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF) {
            return 0;
        }
    }
    return n;
}

static NO_COVERAGE int is_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);
    while (left > 0) {
        size_t n = utf8_len(p, left);
        if (n == 0) {
            return 0;
        }
        p += n;
        left -= n;
    }
    return 1;
}

/* s as a report must show it: each byte that does not start a well-formed
 * UTF-8 sequence replaced by U+FFFD. */
static NO_COVERAGE void shown_text(const char *s, char *out, size_t size)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s), n = 0;
    while (left > 0 && n + 4 < size) {
        size_t step = utf8_len(p, left);
        if (step == 0) {
            memcpy(out + n, "\xEF\xBF\xBD", 3);
            n += 3;
            step = 1;
        } else {
            memcpy(out + n, p, step);
            n += step;
        }
        p += step;
        left -= step;
    }
    out[n] = '\0';
}

/* The names as the reports show them, made once. */
static char shown_names[NAME_COUNT][1024];

/* ---- the model's rules ---------------------------------------------------------------- */

static int model_overall(void)
{
    if (H.use_mask != 0) {
        for (int n = 0; n < NAME_COUNT; n++) {
            if (!(H.use_mask & 1u << n)) {
                continue;
            }
            int ready = 0;
            for (int i = 0; i < MAX_EP; i++) {
                ready |= H.eps[i].alive && H.eps[i].name_idx == n && H.eps[i].ready;
            }
            if (!ready) {
                return 0;
            }
        }
        return 1;
    }
    int any = 0, all = 1;
    for (int i = 0; i < MAX_EP; i++) {
        if (H.eps[i].alive) {
            any = 1;
            all &= H.eps[i].ready;
        }
    }
    return any ? all : H.process_ready;
}

static void model_update(void)
{
    int o = model_overall();
    if (o != H.overall) {
        H.overall = o;
        H.overall_transitions++;
    }
}

static void model_set_ready(mep *e, int ready)
{
    if (e->ready != ready) {
        e->ready = ready;
        e->transitions++;
    }
    model_update();
}

static uint64_t interval_of(const mep *e)
{
    return e->ready ? H.interval : H.nr_interval;
}

/* The outcome of e's check in flight. latency_known: the latency it must
 * record is latency; otherwise only bounds are known. */
static void model_outcome(mep *e, int result, const char *error, int latency_known,
                          uint64_t latency)
{
    e->inflight_id = 0;
    e->counts[result]++;
    e->checked = 1;
    e->last_result = result;
    e->latency_known = latency_known;
    e->last_latency = latency;
    H.outcomes++;
    if (latency_known && H.lat_exact) {
        H.lat_sum += latency;
    } else {
        H.lat_exact = 0;
    }
    if (result == DYNHC_CHECK_SUCCESS) {
        e->last_error = NULL;
        e->cf = 0;
        e->cs++;
        if (e->cs >= H.sth) {
            model_set_ready(e, 1);
        }
    } else {
        e->last_error = error != NULL ? error
                        : result == DYNHC_CHECK_TIMEOUT ? "timeout"
                                                        : "failure";
        e->cs = 0;
        e->cf++;
        if (e->cf >= H.fth) {
            model_set_ready(e, 0);
        }
    }
}

static void model_timeout(mep *e)
{
    /* A timeout takes exactly the timeout: from sending to the deadline. */
    model_outcome(e, DYNHC_CHECK_TIMEOUT, "timeout", 1, e->inflight_deadline - e->inflight_sent);
}

static const issued *find_issued(uint64_t id)
{
    for (size_t i = 0; i < H.hist_len; i++) {
        if (H.hist[i].id == id) {
            return &H.hist[i];
        }
    }
    return NULL;
}

static mep *owner_of(const issued *is)
{
    mep *e = is != NULL ? &H.eps[is->idx] : NULL;
    return e != NULL && e->alive && e->gen == is->gen ? e : NULL;
}

/* Reads the verbose status to learn whether e still has a check in flight
 * (where the API leaves two behaviours open). */
static int status_in_flight(const mep *e);

/* What a completion of the in-flight check of e at the current clock must
 * do: 1 accepted, 0 late, -1 either (the clock sits on the deadline, or the
 * check was sent at a tick whose now was not the clock). */
static int completion_expected(const mep *e)
{
    if (!e->inflight_consistent) {
        return -1;
    }
    if (scheduler_now() < e->inflight_deadline) {
        return 1;
    }
    return scheduler_now() == e->inflight_deadline ? -1 : 0;
}

/* Applies a dynhc_sched_complete() that returned rc (or, for the
 * scheduler's own completion of a failed send, rc_known 0: it must be
 * accepted). */
static void model_complete(uint64_t id, int result, const char *error, int rc, int rc_known)
{
    if (result < 0 || result > DYNHC_CHECK_TIMEOUT) {
        if (rc != DYNHC_ERR_INVALID_ARG) {
            broken("complete with result %d returned %d, not INVALID_ARG", result, rc);
        }
        return;
    }
    const issued *is = find_issued(id);
    mep *e = owner_of(is);
    if (e != NULL && e->inflight_id == id) {
        int expected = rc_known ? completion_expected(e) : 1;
        if (!rc_known) {
            rc = DYNHC_OK;
        }
        if (rc != DYNHC_OK && rc != DYNHC_ERR_NOT_FOUND) {
            broken("complete of the check in flight returned %d", rc);
        }
        if (expected == 1 && rc != DYNHC_OK) {
            broken("a completion before the deadline (clock %llu, deadline %llu) was refused: %d",
                   (unsigned long long)H.clk, (unsigned long long)e->inflight_deadline, rc);
        }
        if (expected == 0 && rc == DYNHC_OK && result != DYNHC_CHECK_TIMEOUT) {
            broken("a completion after the deadline (clock %llu, deadline %llu, sent %llu) was "
                   "accepted as %s, not counted late",
                   (unsigned long long)H.clk, (unsigned long long)e->inflight_deadline,
                   (unsigned long long)e->inflight_sent, result_names[result]);
        }
        if (rc == DYNHC_OK) {
            /* The completion's time is the scheduler's: the clock, never
             * before the latest tick. */
            uint64_t at = scheduler_now();
            int known = e->inflight_consistent && at >= e->inflight_sent;
            /* A timeout told after the deadline took exactly its timeout. */
            uint64_t end = result == DYNHC_CHECK_TIMEOUT && at > e->inflight_deadline
                               ? e->inflight_deadline
                               : at;
            model_outcome(e, result, error, known, known ? end - e->inflight_sent : 0);
        } else {
            e->late++;
            /* Late: the check stays in flight until a tick times it out, or
             * the completion timed it out at once. */
            if (!status_in_flight(e)) {
                model_timeout(e);
            }
        }
        return;
    }
    if (rc != DYNHC_ERR_NOT_FOUND && rc_known) {
        broken("complete of an id not in flight (%#llx, %s) returned %d, not NOT_FOUND",
               (unsigned long long)id, is == NULL ? "never issued" : e != NULL ? "done" : "removed",
               rc);
    }
    if (e != NULL) {
        e->late++;
    } else if (is != NULL) {
        H.unknown++;
    } else {
        H.fab++; /* a made-up id: counted late or unknown, the model cannot say which */
    }
}

/* ---- callbacks ---------------------------------------------------------------------- */

static uint64_t fake_clock(void *user_data)
{
    (void)user_data;
    return H.clk;
}

static void model_removed(mep *e);

/* Removal is allowed from any callback: the announcement still going on
 * must not touch the endpoint afterwards. */
static void remove_from_callback(mep *e, const char *where)
{
    note("  remove '%.12s' from %s", names[e->name_idx], where);
    e->remove_pending = 1; /* its user data may be destroyed before the call returns */
    if (dynhc_sched_remove_endpoint(H.s, e->ep) != DYNHC_OK) {
        broken("remove from %s failed", where);
    }
    if (!H.defer_removal) {
        model_removed(e);
    }
}

static void on_log(dynhc_log_level level, const char *message, void *user_data)
{
    (void)user_data;
    size_t len = strlen(message);
    if (len >= 4096 || (unsigned)level > DYNHC_LOG_ERROR) {
        broken("a bad log line (level %d, %zu bytes)", (int)level, len);
    }
    static const char prefix[] = "Health check payload for endpoint '";
    if (H.expect_log_name != NULL && strncmp(message, prefix, sizeof(prefix) - 1) == 0) {
        size_t n = strlen(H.expect_log_name);
        if (strncmp(message + sizeof(prefix) - 1, H.expect_log_name, n) == 0 &&
            strncmp(message + sizeof(prefix) - 1 + n, "' from ", 7) == 0 &&
            level == DYNHC_LOG_INFO) {
            H.saw_payload_log = 1;
        }
    }
    if (level == DYNHC_LOG_ERROR) {
        H.saw_error_log = 1;
    }
    if (level == DYNHC_LOG_WARNING) {
        H.saw_warning_log = 1;
    }
    /* A log sink that acts on what it reads (the endpoint handle must stay
     * valid for nobody once it is removed, whatever callback removes it). */
    static const char turned[] = "endpoint '";
    if (strncmp(message, turned, sizeof(turned) - 1) == 0) {
        for (int i = 0; i < MAX_EP; i++) {
            mep *e = &H.eps[i];
            size_t n = strlen(names[e->name_idx]);
            if (e->alive && e->remove_on_log && !e->remove_pending &&
                strncmp(message + sizeof(turned) - 1, names[e->name_idx], n) == 0 &&
                strncmp(message + sizeof(turned) - 1 + n, "' is now ", 9) == 0) {
                remove_from_callback(e, "the log sink");
            }
        }
    }
}

static mep *model_of_handle(const dynhc_endpoint *ep)
{
    for (int i = 0; i < MAX_EP; i++) {
        if (H.eps[i].alive && H.eps[i].ep == ep) {
            return &H.eps[i];
        }
    }
    return NULL;
}

static void on_transition(dynhc_sched *s, dynhc_endpoint *ep, const char *name, int ready,
                          void *user_data)
{
    (void)user_data;
    if (s != H.s) {
        broken("transition callback for another scheduler");
    }
    if (ep == NULL) {
        if (name != NULL) {
            broken("overall transition with a name");
        }
        H.cb_overall++;
        H.cb_overall_last = ready;
        return;
    }
    mep *e = model_of_handle(ep);
    if (e == NULL) {
        /* An endpoint removed (by a callback, the log sink or a send of the
         * same tick) before its change was announced: the change is still
         * told, as it happened, with a name that must still be readable. */
        int known = 0;
        for (int i = 0; name != NULL && i < NAME_COUNT; i++) {
            known |= strcmp(name, names[i]) == 0;
        }
        if (!known) {
            broken("transition callback for an unknown endpoint");
        }
        return;
    }
    if (name == NULL || strcmp(name, names[e->name_idx]) != 0) {
        broken("transition callback with the wrong name");
    }
    e->cb_transitions++;
    e->cb_last = ready;
    if ((e->send_mode & REMOVE_ON_TRANSITION) && !e->remove_pending) {
        remove_from_callback(e, "its transition callback");
    }
}

static void on_wakeup(dynhc_sched *s, void *user_data)
{
    (void)user_data;
    if (s != H.s) {
        broken("wakeup for another scheduler");
    }
}

static void on_destroy(void *user_data)
{
    ud_t *ud = user_data;
    if (ud == NULL || ud->magic != UD_MAGIC) {
        broken("destroy called with bad user data");
    }
    const mep *e = &H.eps[ud->idx];
    if (!H.freeing && e->alive && e->gen == ud->gen && !e->remove_pending) {
        broken("user data destroyed while its endpoint is registered");
    }
    ud->magic = 0;
    free(ud);
    H.destroyed++;
}

static void do_add(int from_send);
static void do_remove(mep *e);
static int api_complete(uint64_t id, int result, const char *error);

/* The first other endpoint with a check in flight. */
static mep *other_in_flight(const mep *self)
{
    for (int i = 0; i < MAX_EP; i++) {
        if (&H.eps[i] != self && H.eps[i].alive && H.eps[i].inflight_id != 0) {
            return &H.eps[i];
        }
    }
    return NULL;
}

static void check_reports_parse(void);

static int on_send(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check, void *user_data)
{
    ud_t *ud = user_data;
    if (s != H.s || ud == NULL || ud->magic != UD_MAGIC) {
        broken("send callback with a bad scheduler or user data");
    }
    if (!H.in_tick || H.in_send) {
        broken("send callback outside a tick, or nested");
    }
    mep *e = &H.eps[ud->idx];
    if (!e->alive || e->gen != ud->gen || e->ep != ep) {
        broken("check sent to an endpoint that is not registered");
    }
    if (!H.enabled) {
        broken("check sent to '%s' while checks are disabled", names[e->name_idx]);
    }
    if (e->inflight_id != 0) {
        broken("second check in flight for '%s' (ids %#llx and %#llx)", names[e->name_idx],
               (unsigned long long)e->inflight_id, (unsigned long long)check->id);
    }
    if (H.mode == DYNHC_MODE_IDLE) {
        uint64_t iv = interval_of(e);
        uint64_t quiet_until = e->last_activity > UINT64_MAX - iv ? UINT64_MAX
                                                                   : e->last_activity + iv;
        if (quiet_until > H.tick_now) {
            broken("idle mode sent a check to '%s' at %llu, before the interval without traffic "
                   "(activity %llu, interval %llu)",
                   names[e->name_idx], (unsigned long long)H.tick_now,
                   (unsigned long long)e->last_activity, (unsigned long long)iv);
        }
    }
    if (check->endpoint == NULL || strcmp(check->endpoint, names[e->name_idx]) != 0 ||
        check->payload_text == NULL ||
        strcmp(check->payload_text, dynhc_result_text(payloads[e->payload_idx])) != 0 ||
        check->result == NULL ||
        strcmp(dynhc_result_text(check->result), check->payload_text) != 0) {
        broken("the check does not carry the endpoint's name and payload");
    }
    if (check->id == 0 || find_issued(check->id) != NULL) {
        broken("check id %#llx is zero or was issued before", (unsigned long long)check->id);
    }
    uint64_t lo = H.tick_now < H.clk ? H.tick_now : H.clk;
    uint64_t hi = H.tick_now < H.clk ? H.clk : H.tick_now;
    if (check->sent_ns < lo || check->sent_ns > hi) {
        broken("sent_ns %llu is neither the tick's now %llu nor the clock",
               (unsigned long long)check->sent_ns, (unsigned long long)H.tick_now);
    }
    uint64_t want = sat_add(check->sent_ns, H.timeout);
    if (check->deadline_ns != want) {
        broken("deadline_ns %llu, not sent_ns %llu + timeout %llu (saturated: %llu)",
               (unsigned long long)check->deadline_ns, (unsigned long long)check->sent_ns,
               (unsigned long long)H.timeout, (unsigned long long)want);
    }
    if (H.hist_len == H.hist_cap) {
        size_t cap = H.hist_cap ? H.hist_cap * 2 : 256;
        issued *grown = realloc(H.hist, cap * sizeof(*grown));
        if (grown == NULL) {
            abort();
        }
        H.hist = grown;
        H.hist_cap = cap;
    }
    issued is = {check->id, ud->idx, ud->gen};
    H.hist[H.hist_len++] = is;
    e->sent++;
    e->inflight_id = check->id;
    e->inflight_sent = check->sent_ns;
    e->inflight_deadline = check->deadline_ns;
    e->inflight_consistent = H.tick_now == H.clk && check->sent_ns == H.tick_now;
    H.tick_sends++;
    note("  send '%.12s' id %#llx at %llu", names[e->name_idx], (unsigned long long)check->id,
         (unsigned long long)check->sent_ns);

    H.in_send = 1;
    unsigned mode = e->send_mode;
    uint64_t id = check->id;
    if (mode & SEND_REENTER) {
        if (dynhc_sched_tick(s, H.tick_now) != DYNHC_ERR_BUSY) {
            broken("tick from inside a send callback was not BUSY");
        }
        check_reports_parse();
        H.saw_error_log = 0;
        dynhc_sched_free(s); /* ignored from a callback, logged as an error */
        if (!H.saw_error_log) {
            broken("dynhc_sched_free from a callback was not logged as an error");
        }
        mep *other = other_in_flight(e);
        if (other != NULL) {
            uint64_t other_id = other->inflight_id;
            api_complete(other_id, DYNHC_CHECK_SUCCESS, NULL);
        }
    }
    if ((mode & SEND_SYNC_MASK) != 0) {
        int result = (int)(mode & SEND_SYNC_MASK) - 1;
        const char *error = result != DYNHC_CHECK_SUCCESS ? "sync" : NULL;
        api_complete(id, result, error);
    }
    if ((mode & SEND_REMOVE_SELF) && e->alive) {
        do_remove(e);
    }
    if (mode & SEND_REMOVE_OTHER) {
        for (int i = 0; i < MAX_EP; i++) {
            if (H.eps[i].alive && &H.eps[i] != e) {
                do_remove(&H.eps[i]);
                break;
            }
        }
    }
    if (mode & SEND_ADD) {
        do_add(1);
    }
    H.in_send = 0;
    if (mode & SEND_FAIL) {
        /* The scheduler completes it as a failure once this returns. */
        model_complete(id, DYNHC_CHECK_FAILURE, "the send callback failed", 0, 0);
        return 1;
    }
    return 0;
}

/* ---- operations ---------------------------------------------------------------------- */

static mep *pick_ep(void)
{
    return &H.eps[rd8() % MAX_EP];
}

static void do_add(int from_send)
{
    uint8_t a = rd8(), b = rd8(), c = rd8();
    int name_idx = a % NAME_COUNT;
    const label_set *ls = b >= 250 ? &dash_set : &label_sets[b % LABEL_SET_COUNT];
    int payload_idx = c % PAYLOAD_COUNT;
    int null_send = (c >> 2) % 16 == 15;
    unsigned send_mode = rd8();
    int slot = -1;
    for (int i = 0; i < MAX_EP && slot < 0; i++) {
        if (!H.eps[i].alive) {
            slot = i;
        }
    }
    if (slot < 0) {
        return;
    }
    int duplicate = 0;
    for (int i = 0; i < MAX_EP; i++) {
        duplicate |= H.eps[i].alive && H.eps[i].name_idx == name_idx;
    }
    int valid = names[name_idx][0] != '\0' && ls->valid && !null_send && !duplicate &&
                dynhc_result_text(payloads[payload_idx]) != NULL;
    ud_t *ud = malloc(sizeof(*ud));
    if (ud == NULL) {
        abort();
    }
    ud->magic = UD_MAGIC;
    ud->idx = slot;
    ud->gen = H.next_gen;
    dynhc_endpoint *ep = (dynhc_endpoint *)1;
    int labels_idx = ls == &dash_set ? -1 : (int)(ls - label_sets);
    H.expect_log_name = names[name_idx];
    H.saw_payload_log = 0;
    uint64_t destroyed = H.destroyed;
    note("%sadd '%.12s' labels %d payload %d mode %#x%s", from_send ? "  " : "",
         names[name_idx], labels_idx, payload_idx, send_mode, null_send ? " NULL send" : "");
    /* The NULL-terminated name, value, ... list as dynhc_label pairs; an odd
     * list ends with a name whose value is NULL. */
    dynhc_label pairs[8];
    size_t pair_count = 0;
    for (size_t i = 0; ls->labels != NULL && ls->labels[i] != NULL && pair_count < 8; i += 2) {
        pairs[pair_count].name = ls->labels[i];
        pairs[pair_count++].value = ls->labels[i + 1];
        if (ls->labels[i + 1] == NULL) {
            break;
        }
    }
    dynhc_endpoint_options opts = DYNHC_ENDPOINT_OPTIONS_INIT;
    opts.name = names[name_idx];
    opts.payload = payloads[payload_idx];
    opts.labels = pair_count > 0 ? pairs : NULL;
    opts.label_count = pair_count;
    opts.send = null_send ? NULL : on_send;
    opts.user_data = ud;
    opts.destroy = on_destroy;
    int rc = dynhc_sched_add(H.s, &opts, &ep);
    H.expect_log_name = NULL;
    if (!valid) {
        if (rc != DYNHC_ERR_INVALID_ARG || ep != NULL || H.destroyed != destroyed) {
            broken("add of an invalid endpoint returned %d (handle %p, destroy %s)", rc,
                   (void *)ep, H.destroyed != destroyed ? "called" : "not called");
        }
        free(ud);
        return;
    }
    if (rc != DYNHC_OK || ep == NULL) {
        broken("add of a valid endpoint returned %d", rc);
    }
    if (!H.saw_payload_log) {
        broken("add did not log 'Health check payload for endpoint '%s' from ...'",
               names[name_idx]);
    }
    mep *e = &H.eps[slot];
    memset(e, 0, sizeof(*e));
    e->alive = 1;
    e->ep = ep;
    e->gen = H.next_gen++;
    e->name_idx = name_idx;
    e->labels_idx = labels_idx;
    e->payload_idx = payload_idx;
    e->send_mode = send_mode;
    e->ready = H.starting;
    e->cb_last = -1;
    H.added++;
    if (H.in_tick) {
        H.tick_adds++;
    }
    model_update();
}

static void model_removed(mep *e)
{
    e->alive = 0;
    e->remove_pending = 0;
    H.removed++;
    if (H.in_tick) {
        H.tick_removals++;
    }
    model_update();
}

static void do_remove(mep *e)
{
    note("%sremove '%.12s'", H.in_send ? "  " : "", names[e->name_idx]);
    e->remove_pending = 1; /* its user data may be destroyed before the call returns */
    int rc = dynhc_sched_remove_endpoint(H.s, e->ep);
    if (rc != DYNHC_OK) {
        broken("remove of a registered endpoint returned %d", rc);
    }
    model_removed(e);
}

/* Removals from callbacks that waited for the model to catch up. */
static void flush_removals(void)
{
    for (int i = 0; i < MAX_EP; i++) {
        if (H.eps[i].alive && H.eps[i].remove_pending) {
            model_removed(&H.eps[i]);
        }
    }
}

/* dynhc_sched_complete() and what the model makes of it. */
static int api_complete(uint64_t id, int result, const char *error)
{
    H.defer_removal++;
    int rc = dynhc_sched_complete(H.s, id, (dynhc_check_result)result, error);
    model_complete(id, result, error, rc, 1);
    H.defer_removal--;
    if (!H.defer_removal) {
        flush_removals();
    }
    return rc;
}

/* The earliest time a tick must happen for what the model knows is due:
 * the deadlines of the checks in flight, rounded up to the millisecond as
 * next_deadline() does. */
static uint64_t model_earliest_timeout(void)
{
    uint64_t t = UINT64_MAX;
    for (int i = 0; i < MAX_EP; i++) {
        const mep *e = &H.eps[i];
        if (e->alive && e->inflight_id != 0 && e->inflight_deadline < t) {
            t = e->inflight_deadline;
        }
    }
    if (t == UINT64_MAX) {
        return t;
    }
    uint64_t r = t % MS != 0 ? t / MS * MS + MS : t;
    return r >= t ? r : t;
}

static void do_tick(uint64_t now)
{
    see_time(now);
    uint64_t before = dynhc_sched_next_deadline(H.s);
    if (before > model_earliest_timeout()) {
        broken("next_deadline %llu is after a check's deadline (%llu rounded up)",
               (unsigned long long)before, (unsigned long long)model_earliest_timeout());
    }
    /* The checks whose deadline has come time out before anything is sent;
     * a deadline at the end of the clock's range never comes. */
    unsigned timeouts = 0;
    for (int i = 0; i < MAX_EP; i++) {
        mep *e = &H.eps[i];
        if (e->alive && e->inflight_id != 0 && e->inflight_deadline <= now &&
            e->inflight_deadline != UINT64_MAX) {
            model_timeout(e);
            timeouts++;
        }
    }
    /* next_deadline rounds up to the millisecond: nothing is due a whole
     * millisecond before it. */
    int nothing_due = before == DYNHC_NO_DEADLINE || (before >= MS && now <= before - MS);
    note("tick %llu (clock %llu, deadline %llu)%s", (unsigned long long)now,
         (unsigned long long)H.clk, (unsigned long long)before, nothing_due ? " idle" : "");
    H.in_tick = 1;
    H.tick_now = now;
    H.floor_now = now > H.floor_now ? now : H.floor_now;
    H.tick_sends = 0;
    H.tick_removals = 0;
    H.tick_adds = 0;
    int rc = dynhc_sched_tick(H.s, now);
    H.in_tick = 0;
    if (rc < 0 || (unsigned)rc < H.tick_sends || (unsigned)rc > H.tick_sends + H.tick_removals) {
        broken("tick returned %d after %u sends (%u removals)", rc, H.tick_sends,
               H.tick_removals);
    }
    if (nothing_due && (rc != 0 || timeouts != 0)) {
        broken("tick at %llu sent %d and timed out %u, but next_deadline said %llu",
               (unsigned long long)now, rc, timeouts, (unsigned long long)before);
    }
    /* A loop that ticks at next_deadline must move on (a now ahead of the
     * clock may leave completions' next checks at or before it, and an
     * endpoint registered from a send callback may be due at once). */
    uint64_t after = dynhc_sched_next_deadline(H.s);
    if (now <= H.clk && H.tick_adds == 0 && after != DYNHC_NO_DEADLINE && after <= now) {
        broken("after tick(%llu), next_deadline is %llu: no progress", (unsigned long long)now,
               (unsigned long long)after);
    }
}

/* ---- reports ---------------------------------------------------------------------------- */

/* strcmp and strncmp that libFuzzer's interceptors do not trace: the
 * reports compare thousands of strings per input. */
static NO_COVERAGE int scmp(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

static NO_COVERAGE int sncmp(const char *a, const char *b, size_t n)
{
    for (; n > 0; n--, a++, b++) {
        if (*a != *b || *a == '\0') {
            return (unsigned char)*a - (unsigned char)*b;
        }
    }
    return 0;
}

static NO_COVERAGE const mep *model_by_shown_name(const char *shown)
{
    for (int i = 0; i < MAX_EP; i++) {
        if (H.eps[i].alive && scmp(shown_names[H.eps[i].name_idx], shown) == 0) {
            return &H.eps[i];
        }
    }
    return NULL;
}

static int alive_count(void)
{
    int n = 0;
    for (int i = 0; i < MAX_EP; i++) {
        n += H.eps[i].alive;
    }
    return n;
}

static uint64_t span(void)
{
    return H.max_time - H.min_time;
}

static NO_COVERAGE int no_duplicate_keys(const cJSON *obj)
{
    for (const cJSON *a = obj->child; a != NULL; a = a->next) {
        for (const cJSON *b = a->next; b != NULL; b = b->next) {
            if (scmp(a->string, b->string) == 0) {
                return 0;
            }
        }
    }
    return 1;
}

static NO_COVERAGE int is_uint(const cJSON *n)
{
    return cJSON_IsNumber(n) && n->valuedouble >= 0 && n->valuedouble == floor(n->valuedouble);
}

static NO_COVERAGE int same_double(double a, double b)
{
    return fabs(a - b) <= 4 * DBL_EPSILON * fabs(b) + 1e-12;
}

static NO_COVERAGE void check_verbose_entry(const mep *e, const cJSON *c)
{
    const char *name = names[e->name_idx];
    const cJSON *in_flight = cJSON_GetObjectItemCaseSensitive(c, "in_flight");
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(c, "result");
    const cJSON *cf = cJSON_GetObjectItemCaseSensitive(c, "consecutive_failures");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(c, "last_error");
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(c, "latency_ms");
    const cJSON *ago = cJSON_GetObjectItemCaseSensitive(c, "last_check_secs_ago");
    if (!cJSON_IsObject(c) || !cJSON_IsBool(in_flight) || result == NULL || !is_uint(cf) ||
        err == NULL || lat == NULL || ago == NULL) {
        broken("verbose status of '%s' lacks a field", name);
    }
    if (cJSON_IsTrue(in_flight) != (e->inflight_id != 0)) {
        broken("verbose status says '%s' has %sa check in flight", name,
               cJSON_IsTrue(in_flight) ? "" : "no ");
    }
    const cJSON *requests = cJSON_GetObjectItemCaseSensitive(c, "requests_in_flight");
    if (!is_uint(requests) || requests->valuedouble != (double)e->requests) {
        broken("verbose status: '%s' does not have %llu requests in flight", name,
               (unsigned long long)e->requests);
    }
    if (!e->checked) {
        if (!cJSON_IsNull(result) || !cJSON_IsNull(lat) || !cJSON_IsNull(ago)) {
            broken("verbose status shows a last check for '%s', which has none", name);
        }
    } else {
        if (!cJSON_IsString(result) || scmp(result->valuestring, result_names[e->last_result])) {
            broken("verbose status: last result of '%s' is not %s", name,
                   result_names[e->last_result]);
        }
        if (!cJSON_IsNumber(lat) || !(lat->valuedouble >= 0) || !cJSON_IsNumber(ago) ||
            !(ago->valuedouble >= 0)) {
            broken("verbose status: latency or age of '%s' is not a number >= 0", name);
        }
        if (lat->valuedouble > (double)span() / 1e6 * (1 + 1e-9)) {
            broken("verbose status: latency of '%s' is %.17g ms, more than all the time seen "
                   "(%llu ns)",
                   name, lat->valuedouble, (unsigned long long)span());
        }
        if (e->latency_known && !same_double(lat->valuedouble, (double)e->last_latency / 1e6)) {
            broken("verbose status: latency of '%s' is %.17g ms, not %llu ns", name,
                   lat->valuedouble, (unsigned long long)e->last_latency);
        }
    }
    if ((double)e->cf != cf->valuedouble) {
        broken("verbose status: '%s' has %.17g consecutive failures, not %u", name,
               cf->valuedouble, e->cf);
    }
    if (e->last_error == NULL) {
        if (!cJSON_IsNull(err)) {
            broken("verbose status: '%s' has a last error after a success", name);
        }
    } else {
        char want[1024];
        shown_text(e->last_error, want, sizeof(want));
        if (!cJSON_IsString(err) || scmp(err->valuestring, want) != 0) {
            broken("verbose status: last error of '%s' is not \"%s\"", name, e->last_error);
        }
    }
}

static NO_COVERAGE cJSON *parse_status(const char *text)
{
    if (!is_utf8(text)) {
        broken("status JSON is not UTF-8: %.300s", text);
    }
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p < 0x20) {
            broken("status JSON has a raw control byte %#x", *p);
        }
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (root == NULL || !cJSON_IsObject(root)) {
        broken("status JSON does not parse: %.300s", text);
    }
    return root;
}

static NO_COVERAGE void check_status(int verbose)
{
    char *text = dynhc_sched_status_json(H.s, verbose);
    if (text == NULL) {
        broken("status JSON is NULL");
    }
    cJSON *root = parse_status(text);
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
    const cJSON *uptime = cJSON_GetObjectItemCaseSensitive(root, "uptime");
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "endpoints");
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(root, "checks");
    if (!cJSON_IsString(status) || !cJSON_IsObject(uptime) || !cJSON_IsObject(eps) ||
        !no_duplicate_keys(root) || !no_duplicate_keys(eps) ||
        (verbose ? !cJSON_IsObject(checks) || !no_duplicate_keys(checks) : checks != NULL)) {
        broken("status JSON has the wrong shape: %.300s", text);
    }
    if (scmp(status->valuestring, H.overall ? "ready" : "notready") != 0) {
        broken("status JSON says %s, the model %s", status->valuestring,
               H.overall ? "ready" : "notready");
    }
    const cJSON *secs = cJSON_GetObjectItemCaseSensitive(uptime, "secs");
    const cJSON *nanos = cJSON_GetObjectItemCaseSensitive(uptime, "nanos");
    uint64_t up = scheduler_now() - H.created;
    if (!is_uint(secs) || !is_uint(nanos) || nanos->valuedouble >= 1e9 ||
        secs->valuedouble != (double)(up / SEC) || nanos->valuedouble != (double)(up % SEC)) {
        broken("status JSON uptime is not %llu ns: %.300s", (unsigned long long)up, text);
    }
    if (cJSON_GetArraySize(eps) != alive_count() ||
        (verbose && cJSON_GetArraySize(checks) != alive_count())) {
        broken("status JSON lists %d endpoints, the model has %d", cJSON_GetArraySize(eps),
               alive_count());
    }
    for (const cJSON *item = eps->child; item != NULL; item = item->next) {
        const mep *e = model_by_shown_name(item->string);
        if (e == NULL) {
            broken("status JSON lists an endpoint that is not registered: %s", item->string);
        }
        if (!cJSON_IsString(item) ||
            scmp(item->valuestring, e->ready ? "ready" : "notready") != 0) {
            broken("status JSON: '%s' is not %s", names[e->name_idx],
                   e->ready ? "ready" : "notready");
        }
        if (verbose) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(checks, item->string);
            if (c == NULL) {
                broken("verbose status JSON has no checks for '%s'", names[e->name_idx]);
            }
            check_verbose_entry(e, c);
        }
    }
    cJSON_Delete(root);
    dynhc_free(text);
}

static NO_COVERAGE int status_in_flight(const mep *e)
{
    char *text = dynhc_sched_status_json(H.s, 1);
    if (text == NULL) {
        broken("status JSON is NULL");
    }
    cJSON *root = parse_status(text);
    const char *shown = shown_names[e->name_idx];
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "checks"), shown);
    const cJSON *in_flight = cJSON_GetObjectItemCaseSensitive(c, "in_flight");
    if (!cJSON_IsBool(in_flight)) {
        broken("verbose status JSON has no in_flight for '%s'", names[e->name_idx]);
    }
    int result = cJSON_IsTrue(in_flight);
    cJSON_Delete(root);
    dynhc_free(text);
    return result;
}

/* ---- the Prometheus text ------------------------------------------------------------------ */

#define MAX_SAMPLES 512
#define MAX_LABELS 12
#define MAX_FAMILIES 64

typedef struct sample {
    const char *name; /* into the pool */
    const char *label_names[MAX_LABELS];
    const char *label_values[MAX_LABELS];
    int nlabels;
    const char *raw; /* the value as written */
    double value;
    uint64_t key; /* a hash of the name and the label set, in any order */
} sample;

static struct {
    char pool[1 << 18];
    size_t used;
    sample samples[MAX_SAMPLES];
    int count;
    char families[MAX_FAMILIES][128];
    char types[MAX_FAMILIES][16];
    int nfamilies;
} M;

static NO_COVERAGE char *pool_copy(const char *s, size_t n)
{
    if (M.used + n + 1 > sizeof(M.pool)) {
        broken("metrics text too large for the harness");
    }
    char *out = M.pool + M.used;
    memcpy(out, s, n);
    out[n] = '\0';
    M.used += n + 1;
    return out;
}

static NO_COVERAGE int name_char(char c, int first, int colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
           (!first && c >= '0' && c <= '9');
}

/* Reads a metric (colon 1) or label name at p; returns its length, 0 when
 * there is none. */
static NO_COVERAGE size_t read_name(const char *p, const char *end, int colon)
{
    size_t n = 0;
    while (p + n < end && name_char(p[n], n == 0, colon)) {
        n++;
    }
    return n;
}

static NO_COVERAGE int parse_value(const char *s, double *out)
{
    if (scmp(s, "+Inf") == 0) {
        *out = INFINITY;
        return 1;
    }
    if (scmp(s, "-Inf") == 0) {
        *out = -INFINITY;
        return 1;
    }
    if (scmp(s, "NaN") == 0) {
        *out = NAN;
        return 1;
    }
    if (*s == '\0' || strchr("+-.0123456789", *s) == NULL) {
        return 0;
    }
    char *end = NULL;
    *out = strtod(s, &end);
    return *end == '\0';
}

static NO_COVERAGE int family_index(const char *name)
{
    for (int i = 0; i < M.nfamilies; i++) {
        if (scmp(M.families[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

/* Whether sample name belongs to the family most recently typed. */
static NO_COVERAGE int in_current_family(const char *name)
{
    if (M.nfamilies == 0) {
        return 0;
    }
    const char *family = M.families[M.nfamilies - 1];
    const char *type = M.types[M.nfamilies - 1];
    size_t n = strlen(family);
    if (sncmp(name, family, n) != 0) {
        return 0;
    }
    const char *suffix = name + n;
    if (*suffix == '\0') {
        return scmp(type, "histogram") != 0 && scmp(type, "summary") != 0;
    }
    if (scmp(type, "histogram") == 0) {
        return scmp(suffix, "_bucket") == 0 || scmp(suffix, "_sum") == 0 ||
               scmp(suffix, "_count") == 0;
    }
    if (scmp(type, "summary") == 0) {
        return scmp(suffix, "_sum") == 0 || scmp(suffix, "_count") == 0;
    }
    return 0;
}

static NO_COVERAGE void parse_comment(const char *line, const char *end)
{
    int help = end - line >= 7 && sncmp(line, "# HELP ", 7) == 0;
    int type = end - line >= 7 && sncmp(line, "# TYPE ", 7) == 0;
    if (!help && !type) {
        return; /* any other comment is allowed */
    }
    const char *p = line + 7;
    size_t n = read_name(p, end, 1);
    if (n == 0 || n >= sizeof(M.families[0]) || p + n >= end || p[n] != ' ') {
        broken("metrics: a bad %s line: %.*s", help ? "HELP" : "TYPE", (int)(end - line), line);
    }
    char family[128];
    memcpy(family, p, n);
    family[n] = '\0';
    const char *rest = p + n + 1;
    if (help) {
        for (const char *q = rest; q < end; q++) {
            if (*q == '\\' && (q + 1 == end || (q[1] != '\\' && q[1] != 'n'))) {
                broken("metrics: a bad escape in HELP of %s", family);
            }
            q += *q == '\\';
        }
        return;
    }
    static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
    int known = 0;
    for (size_t i = 0; i < 5; i++) {
        known |= (size_t)(end - rest) == strlen(types[i]) &&
                 sncmp(rest, types[i], strlen(types[i])) == 0;
    }
    if (!known || family_index(family) >= 0 || M.nfamilies == MAX_FAMILIES) {
        broken("metrics: TYPE of %s repeated or unknown", family);
    }
    for (int i = 0; i < M.count; i++) {
        if (sncmp(M.samples[i].name, family, n) == 0) {
            broken("metrics: samples of %s come before its TYPE", family);
        }
    }
    memcpy(M.families[M.nfamilies], family, n + 1);
    memcpy(M.types[M.nfamilies], rest, (size_t)(end - rest));
    M.types[M.nfamilies][end - rest] = '\0';
    M.nfamilies++;
}

static NO_COVERAGE uint64_t hash_text(const char *s, uint64_t h)
{
    h ^= 1469598103934665603ull; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h * 0x9E3779B97F4A7C15ull;
}

static NO_COVERAGE void parse_sample(const char *line, const char *end)
{
    if (M.count == MAX_SAMPLES) {
        broken("metrics: too many samples for the harness");
    }
    sample *s = &M.samples[M.count];
    memset(s, 0, sizeof(*s));
    const char *p = line;
    size_t n = read_name(p, end, 1);
    if (n == 0) {
        broken("metrics: a line is neither a comment nor a sample: %.*s", (int)(end - line), line);
    }
    s->name = pool_copy(p, n);
    p += n;
    if (p < end && *p == '{') {
        p++;
        while (p < end && *p != '}') {
            size_t ln = read_name(p, end, 0);
            if (ln == 0 || p + ln + 1 >= end || p[ln] != '=' || p[ln + 1] != '"' ||
                s->nlabels == MAX_LABELS || sncmp(p, "__", 2) == 0) {
                broken("metrics: a bad label in %.*s", (int)(end - line), line);
            }
            const char *lname = pool_copy(p, ln);
            p += ln + 2;
            char value[2048];
            size_t vn = 0;
            while (p < end && *p != '"') {
                char c = *p++;
                if (c == '\\') {
                    if (p == end || (*p != '\\' && *p != '"' && *p != 'n')) {
                        broken("metrics: a bad escape in a label value: %.*s", (int)(end - line),
                               line);
                    }
                    c = *p == 'n' ? '\n' : *p;
                    p++;
                }
                if (vn + 1 >= sizeof(value)) {
                    broken("metrics: a label value too long for the harness");
                }
                value[vn++] = c;
            }
            if (p == end) {
                broken("metrics: an unterminated label value: %.*s", (int)(end - line), line);
            }
            p++;
            for (int i = 0; i < s->nlabels; i++) {
                if (scmp(s->label_names[i], lname) == 0) {
                    broken("metrics: label %s given twice in %.*s", lname, (int)(end - line),
                           line);
                }
            }
            s->label_names[s->nlabels] = lname;
            s->label_values[s->nlabels] = pool_copy(value, vn);
            s->nlabels++;
            if (p < end && *p == ',') {
                p++;
            } else if (p < end && *p != '}') {
                broken("metrics: labels not separated by commas: %.*s", (int)(end - line), line);
            }
        }
        if (p == end) {
            broken("metrics: unterminated labels: %.*s", (int)(end - line), line);
        }
        p++;
    }
    if (p == end || *p != ' ') {
        broken("metrics: no space before the value: %.*s", (int)(end - line), line);
    }
    p++;
    const char *space = memchr(p, ' ', (size_t)(end - p));
    const char *vend = space != NULL ? space : end;
    s->raw = pool_copy(p, (size_t)(vend - p));
    if (!parse_value(s->raw, &s->value)) {
        broken("metrics: value '%s' does not parse: %.*s", s->raw, (int)(end - line), line);
    }
    if (space != NULL) {
        /* A timestamp: an integer. */
        const char *t = space + 1;
        if (t == end) {
            broken("metrics: trailing space: %.*s", (int)(end - line), line);
        }
        for (const char *q = t + (*t == '-'); q < end; q++) {
            if (*q < '0' || *q > '9') {
                broken("metrics: a bad timestamp: %.*s", (int)(end - line), line);
            }
        }
    }
    if (!in_current_family(s->name)) {
        broken("metrics: sample %s outside its family's TYPE block", s->name);
    }
    /* The same series twice. */
    s->key = hash_text(s->name, 0);
    for (int a = 0; a < s->nlabels; a++) {
        s->key += hash_text(s->label_values[a], hash_text(s->label_names[a], 1));
    }
    for (int i = 0; i < M.count; i++) {
        const sample *o = &M.samples[i];
        if (o->key != s->key || scmp(o->name, s->name) != 0 || o->nlabels != s->nlabels) {
            continue;
        }
        int same = 1;
        for (int a = 0; a < s->nlabels && same; a++) {
            int found = 0;
            for (int b = 0; b < o->nlabels && !found; b++) {
                found = scmp(s->label_names[a], o->label_names[b]) == 0 &&
                        scmp(s->label_values[a], o->label_values[b]) == 0;
            }
            same = found;
        }
        if (same) {
            broken("metrics: series given twice: %.*s", (int)(end - line), line);
        }
    }
    M.count++;
}

static NO_COVERAGE void parse_metrics(const char *text)
{
    M.used = 0;
    M.count = 0;
    M.nfamilies = 0;
    if (!is_utf8(text)) {
        broken("metrics are not UTF-8");
    }
    const char *p = text;
    if (*p == '\0') {
        broken("metrics are empty");
    }
    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        if (eol == NULL) {
            broken("metrics: the last line has no newline");
        }
        if (eol > p && *p == '#') {
            parse_comment(p, eol);
        } else if (eol > p) {
            parse_sample(p, eol);
        }
        p = eol + 1;
    }
}

static NO_COVERAGE const char *label_of(const sample *s, const char *name)
{
    for (int i = 0; i < s->nlabels; i++) {
        if (scmp(s->label_names[i], name) == 0) {
            return s->label_values[i];
        }
    }
    return NULL;
}

/* The one sample called name (without labels), or a failure. */
static NO_COVERAGE const sample *unlabelled(const char *name)
{
    const sample *found = NULL;
    for (int i = 0; i < M.count; i++) {
        if (scmp(M.samples[i].name, name) == 0) {
            if (found != NULL || M.samples[i].nlabels != 0) {
                broken("metrics: %s is not one unlabelled sample", name);
            }
            found = &M.samples[i];
        }
    }
    if (found == NULL) {
        broken("metrics: no %s", name);
    }
    return found;
}

static NO_COVERAGE uint64_t integer_of(const sample *s)
{
    char *end = NULL;
    if (s->raw[0] < '0' || s->raw[0] > '9') {
        broken("metrics: %s = %s is not a whole number", s->name, s->raw);
    }
    unsigned long long v = strtoull(s->raw, &end, 10);
    if (*end != '\0') {
        broken("metrics: %s = %s is not a whole number", s->name, s->raw);
    }
    return (uint64_t)v;
}

/* An exact decimal of seconds ("12.000000345") in nanoseconds; -1 when it
 * is not one or does not fit. */
static NO_COVERAGE int decimal_ns_wide(const char *s, unsigned __int128 *out)
{
    uint64_t v = 0, frac = 0;
    unsigned digits = 0;
    const char *p = s;
    if (*p < '0' || *p > '9') {
        return -1;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') {
            return -1;
        }
        for (; *p >= '0' && *p <= '9'; p++) {
            if (++digits > 9) {
                return -1;
            }
            frac = frac * 10 + (uint64_t)(*p - '0');
        }
    }
    if (*p != '\0') {
        return -1;
    }
    for (; digits < 9; digits++) {
        frac *= 10;
    }
    *out = (unsigned __int128)v * SEC + frac;
    return 0;
}

static NO_COVERAGE int decimal_ns(const char *s, uint64_t *out)
{
    unsigned __int128 wide;
    if (decimal_ns_wide(s, &wide) != 0 || wide > UINT64_MAX) {
        return -1;
    }
    *out = (uint64_t)wide;
    return 0;
}

/* The labels a series of e must carry besides its endpoint and the family's
 * own: registration's labels, less those a family uses (result, le) and
 * repeats of a name, with values shown as UTF-8. */
static NO_COVERAGE void check_user_labels(const mep *e, const sample *s, const char *own)
{
    const char *const *labels = e->labels_idx >= 0 ? label_sets[e->labels_idx].labels : NULL;
    int expected = 0;
    for (int i = 0; labels != NULL && labels[i] != NULL; i += 2) {
        int usable = scmp(labels[i], "result") != 0 && scmp(labels[i], "le") != 0;
        for (int j = 0; j < i && usable; j += 2) {
            usable = scmp(labels[j], labels[i]) != 0;
        }
        if (!usable) {
            continue;
        }
        expected++;
        char want[1024];
        shown_text(labels[i + 1], want, sizeof(want));
        const char *got = label_of(s, labels[i]);
        if (got == NULL || scmp(got, want) != 0) {
            broken("metrics: %s of '%s' lacks label %s=\"%s\"", s->name, names[e->name_idx],
                   labels[i], labels[i + 1]);
        }
    }
    if (s->nlabels != expected + 1 + (own != NULL)) {
        broken("metrics: %s of '%s' has %d labels, not %d", s->name, names[e->name_idx],
               s->nlabels, expected + 1 + (own != NULL));
    }
}

/* Every series of a per-endpoint family: one per registered endpoint (per
 * value of own, when the family has its own label), with the model's value. */
static NO_COVERAGE void check_endpoint_family(const char *family, const char *own, const char *own_value,
                                  int which)
{
    int seen[MAX_EP] = {0};
    for (int i = 0; i < M.count; i++) {
        const sample *s = &M.samples[i];
        if (scmp(s->name, family) != 0 ||
            (own != NULL && (label_of(s, own) == NULL || scmp(label_of(s, own), own_value)))) {
            continue;
        }
        const char *shown = label_of(s, ENDPOINT_LABEL);
        const mep *e = shown != NULL ? model_by_shown_name(shown) : NULL;
        if (e == NULL) {
            broken("metrics: %s for an endpoint that is not registered", family);
        }
        int idx = (int)(e - H.eps);
        if (seen[idx]++) {
            broken("metrics: two %s series for '%s'", family, names[e->name_idx]);
        }
        check_user_labels(e, s, own);
        uint64_t v = integer_of(s);
        uint64_t sent = e->sent;
        long long budget = dynhc_result_token_budget(payloads[e->payload_idx]);
        switch (which) {
        case 0: /* checks by result */
            for (int r = 0; r < 3; r++) {
                if (scmp(own_value, result_names[r]) == 0 && v != e->counts[r]) {
                    broken("metrics: '%s' has %llu checks with result %s, the model %llu",
                           names[e->name_idx], (unsigned long long)v, result_names[r],
                           (unsigned long long)e->counts[r]);
                }
            }
            break;
        case 1:
            if (v != (uint64_t)e->ready) {
                broken("metrics: readiness gauge of '%s' is %llu", names[e->name_idx],
                       (unsigned long long)v);
            }
            break;
        case 2:
            if (v < e->late || v > e->late + H.fab) {
                broken("metrics: '%s' has %llu late completions, the model %llu (+ up to %llu "
                       "made-up ids)",
                       names[e->name_idx], (unsigned long long)v, (unsigned long long)e->late,
                       (unsigned long long)H.fab);
            }
            break;
        case 3:
            if (budget < 0 || v != sent * (uint64_t)budget) {
                broken("metrics: '%s' spent %llu tokens, not %llu sent x %lld",
                       names[e->name_idx], (unsigned long long)v, (unsigned long long)sent,
                       budget);
            }
            break;
        default:
            if (v != e->transitions) {
                broken("metrics: '%s' made %llu transitions, the model %llu", names[e->name_idx],
                       (unsigned long long)v, (unsigned long long)e->transitions);
            }
            break;
        }
    }
    for (int i = 0; i < MAX_EP; i++) {
        if (H.eps[i].alive && !seen[i]) {
            broken("metrics: no %s%s%s series for '%s'", family, own ? " " : "",
                   own ? own_value : "", names[H.eps[i].name_idx]);
        }
    }
}

/* The value of family{endpoint=e, own=own_value}. */
static NO_COVERAGE uint64_t endpoint_value(const char *family, const mep *e, const char *own,
                               const char *own_value)
{
    const char *shown = shown_names[e->name_idx];
    for (int i = 0; i < M.count; i++) {
        const sample *s = &M.samples[i];
        const char *ep = label_of(s, ENDPOINT_LABEL);
        if (scmp(s->name, family) == 0 && ep != NULL && scmp(ep, shown) == 0 &&
            (own == NULL || (label_of(s, own) != NULL && !scmp(label_of(s, own), own_value)))) {
            return integer_of(s);
        }
    }
    broken("metrics: no %s for '%s'", family, names[e->name_idx]);
}

static NO_COVERAGE void check_histogram(void)
{
    const char *family = "dynhc_health_check_duration_seconds";
    double last_le = -INFINITY;
    uint64_t last = 0;
    int buckets = 0, inf = 0;
    uint64_t inf_value = 0;
    for (int i = 0; i < M.count; i++) {
        const sample *s = &M.samples[i];
        if (scmp(s->name, "dynhc_health_check_duration_seconds_bucket") != 0) {
            continue;
        }
        const char *le = label_of(s, "le");
        double bound;
        if (le == NULL || s->nlabels != 1 || !parse_value(le, &bound) || !(bound > last_le)) {
            broken("metrics: %s buckets out of order or without le", family);
        }
        uint64_t v = integer_of(s);
        if (v < last) {
            broken("metrics: %s buckets are not cumulative", family);
        }
        last = v;
        last_le = bound;
        buckets++;
        if (isinf(bound)) {
            inf = 1;
            inf_value = v;
        }
    }
    uint64_t count = integer_of(unlabelled("dynhc_health_check_duration_seconds_count"));
    const sample *sum_sample = unlabelled("dynhc_health_check_duration_seconds_sum");
    if (buckets == 0 || !inf || inf_value != count) {
        broken("metrics: %s has no +Inf bucket equal to its count", family);
    }
    if (count != H.outcomes) {
        broken("metrics: %llu check latencies recorded, the model saw %llu outcomes",
               (unsigned long long)count, (unsigned long long)H.outcomes);
    }
    unsigned __int128 sum;
    if (decimal_ns_wide(sum_sample->raw, &sum) != 0) {
        broken("metrics: latency sum %s is not a decimal of seconds", sum_sample->raw);
    }
    if (sum < H.prev_sum) {
        broken("metrics: the latency sum went down from %.0f ns to %s s", (double)H.prev_sum,
               sum_sample->raw);
    }
    H.prev_sum = sum;
    if (count > 0 && sum / count > span()) {
        broken("metrics: latency sum %s s over %llu checks, but only %llu ns of time were seen",
               sum_sample->raw, (unsigned long long)count, (unsigned long long)span());
    }
    if (H.lat_exact && sum != H.lat_sum) {
        broken("metrics: latency sum %s s, the model %.0f ns", sum_sample->raw,
               (double)H.lat_sum);
    }
}

static NO_COVERAGE void check_metrics(void)
{
    char *text = dynhc_sched_metrics(H.s);
    if (text == NULL) {
        broken("metrics are NULL");
    }
    parse_metrics(text);
    if (integer_of(unlabelled("dynhc_ready")) != (uint64_t)H.overall) {
        broken("metrics: dynhc_ready is not %d", H.overall);
    }
    uint64_t up;
    if (decimal_ns(unlabelled("dynhc_uptime_seconds")->raw, &up) != 0 ||
        up != scheduler_now() - H.created) {
        broken("metrics: uptime is not %llu ns", (unsigned long long)(scheduler_now() - H.created));
    }
    uint64_t in_flight = 0;
    for (int i = 0; i < MAX_EP; i++) {
        in_flight += H.eps[i].alive && H.eps[i].inflight_id != 0;
    }
    if (integer_of(unlabelled("dynhc_health_checks_in_flight")) != in_flight) {
        broken("metrics: checks in flight are not %llu", (unsigned long long)in_flight);
    }
    if (integer_of(unlabelled("dynhc_overall_readiness_transitions_total")) !=
        H.overall_transitions) {
        broken("metrics: overall transitions are not %llu",
               (unsigned long long)H.overall_transitions);
    }
    uint64_t unknown = integer_of(unlabelled("dynhc_health_check_unknown_completions_total"));
    if (unknown < H.unknown || unknown > H.unknown + H.fab) {
        broken("metrics: %llu unknown completions, the model %llu (+ up to %llu made-up ids)",
               (unsigned long long)unknown, (unsigned long long)H.unknown,
               (unsigned long long)H.fab);
    }
    for (int r = 0; r < 3; r++) {
        check_endpoint_family("dynhc_health_checks_total", "result", result_names[r], 0);
    }
    check_endpoint_family("dynhc_endpoint_ready", NULL, NULL, 1);
    check_endpoint_family("dynhc_health_check_late_completions_total", NULL, NULL, 2);
    check_endpoint_family("dynhc_health_check_token_budget_total", NULL, NULL, 3);
    check_endpoint_family("dynhc_readiness_transitions_total", NULL, NULL, 4);
    check_histogram();

    /* The rule itself, from what the scheduler reports against what the
     * send callback saw: sent = success + failure + timeout + in flight. */
    for (int i = 0; i < MAX_EP; i++) {
        const mep *e = &H.eps[i];
        if (!e->alive) {
            continue;
        }
        uint64_t done = 0;
        for (int r = 0; r < 3; r++) {
            done += endpoint_value("dynhc_health_checks_total", e, "result", result_names[r]);
        }
        uint64_t flying = e->inflight_id != 0; /* what the verbose status said */
        if (done + flying != e->sent) {
            broken("'%s': %llu checks sent, but %llu completed + %llu in flight",
                   names[e->name_idx], (unsigned long long)e->sent, (unsigned long long)done,
                   (unsigned long long)flying);
        }
    }
    dynhc_free(text);
}

/* From inside a callback: the reports are built without the locks a
 * callback could hold, and parse. */
static NO_COVERAGE void check_reports_parse(void)
{
    for (int verbose = 0; verbose < 2; verbose++) {
        char *text = dynhc_sched_status_json(H.s, verbose);
        if (text == NULL) {
            broken("status JSON from a callback is NULL");
        }
        cJSON_Delete(parse_status(text));
        dynhc_free(text);
    }
    char *text = dynhc_sched_metrics(H.s);
    if (text == NULL) {
        broken("metrics from a callback are NULL");
    }
    dynhc_free(text);
}

/* ---- after every operation ---------------------------------------------------------------- */

static void check_all(void)
{
    if (dynhc_sched_is_ready(H.s) != H.overall) {
        broken("dynhc_sched_is_ready is %d, the model %d", dynhc_sched_is_ready(H.s), H.overall);
    }
    /* One callback per change, except a change undone by a later one
     * before it was announced (a callback that removes an endpoint, say):
     * that stale one is left out, and the last callback is the status. */
    if (H.cb_overall > H.overall_transitions ||
        (H.overall_transitions > 0 && H.cb_overall == 0) ||
        (H.cb_overall > 0 && H.cb_overall_last != H.overall)) {
        broken("%llu overall transition callbacks (last %d) for %llu transitions to %d",
               (unsigned long long)H.cb_overall, H.cb_overall_last,
               (unsigned long long)H.overall_transitions, H.overall);
    }
    int any = 0;
    for (int i = 0; i < MAX_EP; i++) {
        const mep *e = &H.eps[i];
        if (!e->alive) {
            continue;
        }
        any = 1;
        if (dynhc_endpoint_is_ready(e->ep) != e->ready) {
            broken("'%s' is %sready, the model says otherwise (%u successes, %u failures in a "
                   "row; thresholds %u/%u)",
                   names[e->name_idx], e->ready ? "not " : "", e->cs, e->cf, H.sth, H.fth);
        }
        if (e->cb_transitions != e->transitions ||
            (e->transitions > 0 && e->cb_last != e->ready)) {
            broken("'%s': %llu transition callbacks (last %d) for %llu transitions to %d",
                   names[e->name_idx], (unsigned long long)e->cb_transitions, e->cb_last,
                   (unsigned long long)e->transitions, e->ready);
        }
        if (strcmp(dynhc_endpoint_name(e->ep), names[e->name_idx]) != 0) {
            broken("dynhc_endpoint_name is not '%s'", names[e->name_idx]);
        }
    }
    if (H.destroyed != H.removed) {
        broken("%llu endpoints removed, %llu user data destroyed", (unsigned long long)H.removed,
               (unsigned long long)H.destroyed);
    }
    /* No endpoint is lost: with checks enabled, every one is scheduled,
     * unless its next time would pass the end of the clock's range, where
     * times stop and never come due. */
    uint64_t deadline = dynhc_sched_next_deadline(H.s);
    if (H.enabled && any && deadline == DYNHC_NO_DEADLINE && !near_the_end_of_time()) {
        broken("checks are enabled, endpoints are registered, but nothing is scheduled");
    }
    if (deadline > model_earliest_timeout()) {
        broken("next_deadline %llu is after a check's deadline", (unsigned long long)deadline);
    }
    check_status(0);
    check_status(1);
    check_metrics();
}

/* Ticks at next_deadline, as an event loop would, until every endpoint has
 * been sent a check, and fails when one was not within the longest wait
 * the settings allow. */
static void do_drain(unsigned max_ticks)
{
    if (!H.enabled || H.max_time > (1ull << 62) || alive_count() == 0) {
        return;
    }
    uint64_t start_sent[MAX_EP];
    unsigned start_gen[MAX_EP];
    for (int i = 0; i < MAX_EP; i++) {
        start_sent[i] = H.eps[i].alive ? H.eps[i].sent : UINT64_MAX;
        start_gen[i] = H.eps[i].gen;
    }
    uint64_t longest = sat_add(H.max_interval,
                               (uint64_t)((double)H.max_interval * H.max_jitter) + 1);
    uint64_t bound = sat_add(H.max_time, sat_add(sat_add(H.max_timeout, H.max_spread),
                                                 sat_add(sat_mul(2, longest), 4 * MS)));
    uint64_t from = H.clk;
    note("drain up to %u ticks, bound %llu", max_ticks, (unsigned long long)bound);
    for (unsigned k = 0; k < max_ticks && H.drain_ticks < 512; k++, H.drain_ticks++) {
        int waiting = -1;
        for (int i = 0; i < MAX_EP && waiting < 0; i++) {
            const mep *e = &H.eps[i];
            if (start_sent[i] != UINT64_MAX && e->alive && e->gen == start_gen[i] &&
                e->sent == start_sent[i]) {
                waiting = i;
            }
        }
        if (waiting < 0) {
            return;
        }
        if (H.clk > bound) {
            broken("'%s' was sent no check from %llu to %llu", names[H.eps[waiting].name_idx],
                   (unsigned long long)from, (unsigned long long)H.clk);
        }
        if (!H.enabled) {
            return;
        }
        uint64_t d = dynhc_sched_next_deadline(H.s);
        if (d == DYNHC_NO_DEADLINE && near_the_end_of_time()) {
            return;
        }
        if (d == DYNHC_NO_DEADLINE) {
            broken("checks are enabled, endpoints are registered, but nothing is scheduled");
        }
        if (d > H.clk) {
            H.clk = d;
            see_time(d);
        }
        do_tick(H.clk);
        check_all();
    }
}

static void model_interval(uint64_t ns)
{
    H.interval = ns;
    if (!H.nr_set) {
        H.nr_interval = ns;
    }
    if (!H.spread_set) {
        H.spread = ns;
        H.max_spread = ns > H.max_spread ? ns : H.max_spread;
    }
    H.max_interval = ns > H.max_interval ? ns : H.max_interval;
}

static void model_timeout_setting(uint64_t ns)
{
    H.timeout = ns;
    H.max_timeout = ns > H.max_timeout ? ns : H.max_timeout;
}

static void model_starting(int ready)
{
    H.starting = ready;
    H.process_ready = ready;
    model_update();
}

/* DYN_SYSTEM_STARTING_HEALTH_STATUS and DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS
 * as dynhc_sched_load_env() reads them: valid values from the pools, and
 * invalid ones, which are logged as warnings and ignored. */
static const char *env_values[2];

static const char *fake_getenv(const char *name, void *user_data)
{
    (void)user_data;
    if (strcmp(name, "DYN_SYSTEM_STARTING_HEALTH_STATUS") == 0) {
        return env_values[0];
    }
    return strcmp(name, "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS") == 0 ? env_values[1] : NULL;
}

static void do_load_env(void)
{
    /* starting: -1 ignored with a warning, -2 ignored silently. */
    static const struct {
        const char *text;
        int ready;
    } starting[] = {{NULL, -2},   {"ready", 1},    {" NotReady\t", 0}, {"READY", 1},
                    {"bogus", -1}, {"", -2},       {"  ", -2},          {"ready!", -1}};
    static const char *const bad_lists[] = {"[",  "{}",         "[1]",   "[\"\"]",
                                            "[]", "\"generate\"", "[null]", "[\"a\",]"};
    uint8_t a = rd8(), b = rd8();
    uint16_t mask = rd16();
    int st = a % 8;
    env_values[0] = starting[st].text;
    char list[4096];
    unsigned use = 0;
    int list_kind; /* 0 unset, 1 valid, 2 invalid (warning), 3 blank (ignored) */
    if (b % 4 == 0) {
        env_values[1] = NULL;
        list_kind = 0;
    } else if (b % 4 == 1) {
        env_values[1] = bad_lists[(b >> 2) % 8];
        list_kind = 2;
    } else if (b % 4 == 2 && (b >> 2) % 2 == 0) {
        env_values[1] = " \t";
        list_kind = 3;
    } else {
        /* A JSON array of the names that JSON can spell (not the one with
         * bytes that are not UTF-8, nor the empty one). */
        size_t n = 0;
        list[n++] = ' ';
        list[n++] = '[';
        for (int i = 0; i < NAME_COUNT; i++) {
            if (!(mask & 1u << i) || i == 5 || i == 6) {
                continue;
            }
            use |= 1u << i;
            list[n++] = '"';
            for (const unsigned char *p = (const unsigned char *)names[i]; *p != '\0'; p++) {
                if (*p == '"' || *p == '\\') {
                    list[n++] = '\\';
                    list[n++] = (char)*p;
                } else if (*p < 0x20) {
                    n += (size_t)snprintf(list + n, sizeof(list) - n, "\\u%04x", *p);
                } else {
                    list[n++] = (char)*p;
                }
            }
            list[n++] = '"';
            list[n++] = ',';
        }
        if (use != 0) {
            n--; /* the last comma */
        }
        list[n++] = ']';
        list[n++] = '\n';
        list[n] = '\0';
        env_values[1] = list;
        list_kind = use != 0 ? 1 : 2; /* [] is not a list of names */
    }
    note("load env starting %d, use %s", st, env_values[1] != NULL ? env_values[1] : "(unset)");
    H.saw_warning_log = 0;
    int rc = dynhc_sched_load_env(H.s, fake_getenv, NULL);
    if (rc != DYNHC_OK) {
        broken("dynhc_sched_load_env returned %d", rc);
    }
    if (starting[st].ready >= 0) {
        model_starting(starting[st].ready);
    }
    if (list_kind == 1) {
        H.use_mask = use;
        model_update();
    }
    if ((starting[st].ready == -1 || list_kind == 2) != H.saw_warning_log) {
        broken("dynhc_sched_load_env %s a warning", H.saw_warning_log ? "logged" : "did not log");
    }
}

static void do_settings(void)
{
    uint8_t which = rd8() % 15;
    int rc = 0, valid = 1;
    switch (which) {
    case 0: {
        int mode = rd8() % 3;
        valid = mode < 2;
        note("set mode %d", mode);
        rc = dynhc_sched_set_mode(H.s, (dynhc_mode)mode);
        if (valid) {
            H.mode = (dynhc_mode)mode;
        }
        break;
    }
    case 1:
    case 2:
    case 3: {
        uint64_t ns = pick_duration();
        valid = ns > 0 && ns <= DAY;
        note("set %s %llu", which == 1 ? "interval" : which == 2 ? "not-ready interval" : "timeout",
             (unsigned long long)ns);
        if (which == 1) {
            rc = dynhc_sched_set_interval_ns(H.s, ns);
        } else if (which == 2) {
            rc = dynhc_sched_set_not_ready_interval_ns(H.s, ns);
        } else {
            rc = dynhc_sched_set_timeout_ns(H.s, ns);
        }
        if (!valid) {
            break;
        }
        if (which == 1) {
            model_interval(ns);
        } else if (which == 2) {
            H.nr_interval = ns;
            H.nr_set = 1;
            H.max_interval = ns > H.max_interval ? ns : H.max_interval;
        } else {
            model_timeout_setting(ns);
        }
        break;
    }
    case 4: {
        static const double table[] = {0, 0.1, 0.5, 0.999, 1.0, -0.1, 2.0};
        uint8_t b = rd8();
        double j = b < 14 ? table[b % 7] : b == 14 ? NAN : (double)(b - 15) / 241.0;
        valid = j >= 0 && j < 1;
        note("set jitter %g", j);
        rc = dynhc_sched_set_jitter(H.s, j);
        if (valid) {
            H.jitter = j;
            H.max_jitter = j > H.max_jitter ? j : H.max_jitter;
        }
        break;
    }
    case 5: {
        uint64_t ns = pick_duration();
        valid = ns <= DAY;
        note("set spread %llu", (unsigned long long)ns);
        rc = dynhc_sched_set_spread_ns(H.s, ns);
        if (valid) {
            H.spread = ns;
            H.spread_set = 1;
            H.max_spread = ns > H.max_spread ? ns : H.max_spread;
        }
        break;
    }
    case 6: {
        unsigned f = rd8() % 5, s = rd8() % 5;
        valid = f > 0 && s > 0;
        note("set thresholds %u failures %u successes", f, s);
        rc = dynhc_sched_set_thresholds(H.s, f, s);
        if (valid) {
            H.fth = f;
            H.sth = s;
        }
        break;
    }
    case 7: {
        int on = rd8() % 3;
        note("set enabled %d", on);
        rc = dynhc_sched_set_enabled(H.s, on);
        H.enabled = on != 0;
        break;
    }
    case 8: {
        int on = rd8() % 3;
        note("set starting status %d", on);
        rc = dynhc_sched_set_starting_status(H.s, on);
        model_starting(on != 0);
        break;
    }
    case 9: {
        uint16_t mask = rd16();
        const char *list[NAME_COUNT + 1];
        size_t n = 0;
        for (int i = 0; i < NAME_COUNT; i++) {
            if (mask & 1u << i) {
                list[n++] = names[i];
            }
        }
        if ((mask & 0x8000u) && n > 0) {
            list[n] = list[0]; /* a repeat counts once */
            n++;
        }
        valid = !(mask & 1u << 6); /* the empty name */
        note("set use endpoints %#x (%zu names)", mask, n);
        rc = dynhc_sched_set_use_endpoints(H.s, list, n);
        if (valid) {
            H.use_mask = mask & ((1u << NAME_COUNT) - 1);
            model_update();
        }
        break;
    }
    case 10: {
        int on = rd8() % 3;
        note("set activity marks ready %d", on);
        rc = dynhc_sched_set_activity_marks_ready(H.s, on);
        H.amr = on != 0;
        break;
    }
    case 11: {
        uint64_t seed = rd64();
        note("set seed %llu", (unsigned long long)seed);
        rc = dynhc_sched_set_seed(H.s, seed);
        break;
    }
    case 12: {
        mep *e = pick_ep();
        e->send_mode = rd8();
        e->remove_on_log = rd8() % 4 == 3;
        note("send mode of slot %d: %#x%s", (int)(e - H.eps), e->send_mode,
             e->remove_on_log ? ", removed by the log sink" : "");
        return;
    }
    case 13:
        do_load_env();
        return;
    default: {
        uint8_t b = rd8();
        const dynhc_result *res = b % 5 < PAYLOAD_COUNT ? payloads[b % 5] : NULL;
        valid = res != NULL;
        note("apply result %d", b % 5);
        rc = dynhc_sched_apply_result(H.s, res);
        if (valid) {
            /* Interval and timeout of a resolution are valid durations. */
            model_interval(dynhc_result_interval_ns(res));
            model_timeout_setting(dynhc_result_timeout_ns(res));
            H.enabled = dynhc_result_enabled(res) != 0;
        }
        break;
    }
    }
    if (rc != (valid ? DYNHC_OK : DYNHC_ERR_INVALID_ARG)) {
        broken("setting %u returned %d, expected %s", which, rc, valid ? "OK" : "INVALID_ARG");
    }
}

static void do_advance(void)
{
    uint8_t how = rd8() % 5;
    uint64_t to = H.clk;
    switch (how) {
    case 0:
        to = sat_add(H.clk, rd8());
        break;
    case 1:
        to = sat_add(H.clk, (uint64_t)rd16() * MS);
        break;
    case 2:
        to = sat_add(H.clk, (uint64_t)rd16() * SEC);
        break;
    case 3:
        to = sat_add(H.clk, sat_mul(rd32(), SEC));
        break;
    default: {
        uint64_t near_end = UINT64_MAX - (uint64_t)rd32() * (rd8() & 1 ? SEC : 1);
        to = near_end > H.clk ? near_end : H.clk;
        break;
    }
    }
    note("clock %llu -> %llu", (unsigned long long)H.clk, (unsigned long long)to);
    H.clk = to; /* a monotonic clock never goes back */
    see_time(to);
}

static void do_tick_op(void)
{
    uint8_t how = rd8() % 6;
    uint64_t now = H.clk;
    switch (how) {
    case 0:
        break;
    case 1: /* ahead of the clock */
        now = sat_add(H.clk, (uint64_t)rd16() * (rd8() & 1 ? MS : 1));
        break;
    case 2: /* behind it */
    {
        uint64_t back = (uint64_t)rd16() * (rd8() & 1 ? MS : 1);
        now = H.clk > back ? H.clk - back : 0;
        break;
    }
    case 3: /* an event loop: sleep until next_deadline, then tick */
    {
        uint64_t d = dynhc_sched_next_deadline(H.s);
        if (d != DYNHC_NO_DEADLINE && d > H.clk) {
            H.clk = d;
            see_time(d);
        }
        now = d != DYNHC_NO_DEADLINE ? d : H.clk;
        break;
    }
    case 4:
        now = rd64();
        break;
    default:
        now = UINT64_MAX - rd8();
        break;
    }
    do_tick(now);
}

static void do_complete_op(void)
{
    uint8_t how = rd8();
    int result = (int)(rd8() % 3);
    const char *error = errors[rd8() % ERROR_COUNT];
    if (how % 16 == 15) {
        result = how & 16 ? 3 : -1; /* not a result */
    }
    uint64_t id;
    switch (how % 4) {
    case 0:
    case 1: {
        const mep *e = pick_ep();
        id = e->alive && e->inflight_id != 0 ? e->inflight_id
             : H.hist_len > 0               ? H.hist[H.hist_len - 1].id
                                            : 1;
        break;
    }
    case 2:
        id = H.hist_len > 0 ? H.hist[rd16() % H.hist_len].id : 0;
        break;
    default: {
        uint64_t slot = rd8() % 4;
        id = slot == 3 ? rd64() : (slot + 1) << 32 | rd16();
        break;
    }
    }
    note("complete %#llx as %d", (unsigned long long)id, result);
    api_complete(id, result, error);
}

/* Traffic: dynhc_endpoint_record_activity(), or a request's begin, end or
 * progress. The stall threshold is never set here, so each is traffic for
 * the idle timer and, when it succeeds (progress always does), marks the
 * endpoint ready as successful activity does; begin is traffic only. */
static void do_activity(void)
{
    static const char *const kinds[4] = {"activity", "request begin", "request end", "progress"};
    mep *e = pick_ep();
    uint8_t b = rd8();
    int ok = b % 3;
    int kind = (b / 3) % 4; /* the inputs of before, b < 3, keep their meaning */
    dynhc_endpoint *ep = e->alive ? e->ep : NULL;
    if (ep != NULL) {
        note("%s '%.12s' ok %d", kinds[kind], names[e->name_idx], ok);
    }
    H.defer_removal++;
    switch (kind) {
    case 0: dynhc_endpoint_record_activity(ep, ok); break;
    case 1: dynhc_endpoint_request_begin(ep); break;
    case 2: dynhc_endpoint_request_end(ep, ok); break;
    default: dynhc_endpoint_record_progress(ep); ok = 1; break;
    }
    if (ep != NULL) {
        e->last_activity = H.clk;
        if (kind == 1) {
            e->requests++;
        } else if (kind == 2 && e->requests > 0) {
            e->requests--;
        }
        if (kind != 1 && ok && H.amr) {
            model_set_ready(e, 1);
        }
    }
    H.defer_removal--;
    flush_removals();
}

/* No allocation the scheduler makes for a handful of endpoints comes near a
 * megabyte: a runaway one fails (and the scheduler must cope) instead of
 * taking the machine's memory. */
#define ALLOC_CAP (1u << 20)

static void *cap_malloc(size_t n)
{
    return n > ALLOC_CAP ? NULL : malloc(n);
}

static void *cap_realloc(void *p, size_t n)
{
    return n > ALLOC_CAP ? NULL : realloc(p, n);
}

static void *cap_calloc(size_t n, size_t size)
{
    return size != 0 && n > ALLOC_CAP / size ? NULL : calloc(n, size);
}

/* ---- the whole input -------------------------------------------------------------------- */

static const char *no_env(const char *name, void *user_data)
{
    (void)name;
    (void)user_data;
    return NULL;
}

static dynhc_result *resolve_one(const char *model_type, const char *payload, int disabled)
{
    dynhc_resolver *r = dynhc_resolver_new();
    dynhc_result *res = NULL;
    if (r == NULL || dynhc_resolver_set_getenv(r, no_env, NULL) != DYNHC_OK ||
        dynhc_resolver_set_model_type(r, model_type) != DYNHC_OK ||
        (payload != NULL && dynhc_resolver_set_payload(r, payload) != DYNHC_OK) ||
        (disabled && dynhc_resolver_set_disabled(r, 1) != DYNHC_OK) ||
        dynhc_resolver_resolve(r, &res) != (disabled ? DYNHC_DISABLED : DYNHC_OK)) {
        fprintf(stderr, "fuzz_sched: cannot resolve the payloads\n");
        abort();
    }
    dynhc_resolver_free(r);
    return res;
}

static void init_once(void)
{
    if (payloads[0] != NULL) {
        return;
    }
    if (dynhc_set_allocator(cap_malloc, cap_realloc, cap_calloc, free) != DYNHC_OK) {
        abort();
    }
    memset(long_name, 'n', sizeof(long_name) - 1);
    memset(long_error, 'e', sizeof(long_error) - 1);
    for (int i = 0; i < NAME_COUNT; i++) {
        shown_text(names[i], shown_names[i], sizeof(shown_names[i]));
    }
    payloads[0] = resolve_one("generate", NULL, 0);
    payloads[1] = resolve_one("embedding", NULL, 0);
    payloads[2] = resolve_one("chat",
                              "{\"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9\"}],"
                              "\"max_completion_tokens\":7}",
                              0);
    payloads[3] = resolve_one("generate", NULL, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    free(H.hist);
    memset(&H, 0, sizeof(H));
    H.in = data;
    H.left = size;

    /* The defaults of dynhc_sched_new(). */
    H.mode = DYNHC_MODE_IDLE;
    H.interval = H.nr_interval = H.spread = H.max_interval = H.max_spread = 10 * SEC;
    H.timeout = H.max_timeout = 3 * SEC;
    H.fth = H.sth = 1;
    H.amr = H.enabled = 1;
    H.lat_exact = 1;
    H.cb_overall_last = -1;

    static const uint64_t starts[] = {0, 1, 1000 * SEC, UINT64_MAX - DAY};
    uint8_t start = rd8();
    H.clk = start < 4 ? starts[start] : start < 8 ? rd64() : (uint64_t)start * SEC;
    H.min_time = H.max_time = H.clk;

    H.s = dynhc_sched_new();
    if (H.s == NULL || dynhc_sched_set_clock(H.s, fake_clock, NULL) != DYNHC_OK ||
        dynhc_sched_set_log(H.s, on_log, NULL) != DYNHC_OK ||
        dynhc_sched_set_transition_callback(H.s, on_transition, NULL) != DYNHC_OK ||
        dynhc_sched_set_wakeup(H.s, on_wakeup, NULL) != DYNHC_OK ||
        dynhc_sched_set_seed(H.s, rd8()) != DYNHC_OK) {
        abort();
    }
    H.created = H.clk;
    H.floor_now = H.clk;
    check_all();

    while (H.left > 0 && H.op < MAX_OPS) {
        H.op++;
        uint8_t op = rd8();
        switch (op % 10) {
        case 0:
            do_advance();
            break;
        case 1:
        case 2:
            do_tick_op();
            break;
        case 3:
            do_settings();
            break;
        case 4:
            do_add(0);
            break;
        case 5: {
            mep *e = pick_ep();
            if (e->alive) {
                do_remove(e);
            } else if (dynhc_sched_remove_endpoint(H.s, NULL) != DYNHC_ERR_INVALID_ARG) {
                broken("remove(NULL) is not INVALID_ARG");
            }
            break;
        }
        case 6:
            do_activity();
            break;
        case 7:
            do_complete_op();
            break;
        case 8: {
            int ready = (int)(rd8() % 3) - 1;
            note("set process ready %d", ready);
            if (dynhc_sched_set_process_ready(H.s, ready) != DYNHC_OK) {
                broken("set_process_ready failed");
            }
            H.process_ready = ready != 0;
            model_update();
            break;
        }
        default:
            do_drain(16 + rd8());
            break;
        }
        check_all();
    }

    H.freeing = 1;
    dynhc_sched_free(H.s);
    if (H.destroyed != H.added) {
        broken("%llu endpoints added, %llu user data destroyed after free",
               (unsigned long long)H.added, (unsigned long long)H.destroyed);
    }
    free(H.hist);
    H.hist = NULL;
    return 0;
}
