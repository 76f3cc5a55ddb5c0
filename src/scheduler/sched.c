/* sched.c: when checks are sent and what their outcomes do (SPEC 3).
 *
 * Every endpoint has exactly one timer in the timer queue (sched_timers.c)
 * keyed by the time it next needs attention: its next check, or the deadline
 * of the check in flight. A tick takes what is due, earliest first, sends
 * outside the lock, and outcomes reschedule. Idle mode is lazy: traffic only
 * stores a timestamp, and a due endpoint that saw traffic is pushed back
 * instead of checked, so recording activity never touches the queue. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "sched_internal.h"
#include "settings.h"
#include "text.h"
#include "system_settings.h"

/* Why a tick turns an endpoint with requests in flight not ready. */
#define DYNHCP_STALLED "stalled (requests in flight, no progress within the stall threshold)"

/* The scheduler whose callback this thread is running, if any: a tick or a
 * free from there would pull the ground from under the caller. */
static _Thread_local const dynhc_sched *callback_owner;

/* The scheduler this thread is ticking, if any: it computes its next
 * deadline once the tick returns, so changes made on it need no wakeup.
 * Not the same as callback_owner: a transition callback also runs on
 * threads that complete checks or record traffic, and those must wake the
 * ticking thread. */
static _Thread_local const dynhc_sched *ticking_owner;


uint64_t dynhc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * DYNHCP_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

void dynhcp_hook_init(dynhcp_hook *h, dynhcp_any_fn fn, void *data)
{
    atomic_init(&h->seq, 0);
    atomic_init(&h->fn, fn);
    atomic_init(&h->data, data);
}

void dynhcp_hook_set_locked(dynhcp_hook *h, dynhcp_any_fn fn, void *data)
{
    unsigned seq = atomic_load_explicit(&h->seq, memory_order_relaxed);
    atomic_store_explicit(&h->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&h->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&h->data, data, memory_order_relaxed);
    atomic_store_explicit(&h->seq, seq + 2, memory_order_release);
}

dynhcp_any_fn dynhcp_hook_get(const dynhcp_hook *h, void **data)
{
    for (;;) {
        unsigned before = atomic_load_explicit(&h->seq, memory_order_acquire);
        dynhcp_any_fn fn = atomic_load_explicit(&h->fn, memory_order_relaxed);
        void *d = atomic_load_explicit(&h->data, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (before % 2 == 0 && atomic_load_explicit(&h->seq, memory_order_relaxed) == before) {
            *data = d;
            return fn;
        }
    }
}

uint64_t dynhcp_sched_now(const dynhc_sched *s)
{
    void *data;
    dynhc_clock_fn clock = (dynhc_clock_fn)dynhcp_hook_get(&s->clock, &data);
    uint64_t now = clock != NULL ? clock(data) : dynhc_now_ns();
    uint64_t floor = atomic_load_explicit(&s->time_floor, memory_order_acquire);
    return now > floor ? now : floor;
}

/* The time of traffic (requests, tokens): the scheduler's time, but with
 * the default clock read at the kernel tick's resolution
 * (CLOCK_MONOTONIC_COARSE: the same clock, a few milliseconds behind at
 * most), which costs a quarter of a precise read. It is read for every
 * token a runtime streams, and idle intervals and stall thresholds are
 * seconds long. Never below the time floor, like every time. */
static uint64_t traffic_now(const dynhc_sched *s)
{
    void *data;
    dynhc_clock_fn clock = (dynhc_clock_fn)dynhcp_hook_get(&s->clock, &data);
    uint64_t now;
    if (clock != NULL) {
        now = clock(data);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        now = (uint64_t)ts.tv_sec * DYNHCP_NS_PER_SEC + (uint64_t)ts.tv_nsec;
    }
    uint64_t floor = atomic_load_explicit(&s->time_floor, memory_order_acquire);
    return now > floor ? now : floor;
}

/* Raises the time floor to now; with the lock held (the only writers). */
static void raise_time_floor_locked(dynhc_sched *s, uint64_t now)
{
    if (now > atomic_load_explicit(&s->time_floor, memory_order_relaxed)) {
        atomic_store_explicit(&s->time_floor, now, memory_order_release);
    }
}

/* Whether message is already a diagnostic in the format of SPEC 1.6 at this
 * level: "SOURCE: warning: ..." or "SOURCE:LINE:COLUMN: warning: ...", its
 * SOURCE (a variable name, a path) without spaces. It names where it comes
 * from, so the default sink prints it as it is, the way `dynhc resolve`
 * prints the resolver's diagnostics. */
static int is_diagnostic(dynhc_log_level level, const char *message)
{
    const char *word = level == DYNHC_LOG_ERROR     ? "error: "
                       : level == DYNHC_LOG_WARNING ? "warning: "
                                                    : NULL;
    const char *space = word != NULL ? strchr(message, ' ') : NULL;
    return space != NULL && space - message >= 2 && space[-1] == ':' &&
           strncmp(space + 1, word, strlen(word)) == 0;
}

/* The default sink: a diagnostic as it is, any other line as
 * "dynhc: LEVEL: MESSAGE". One write per line. */
static void stderr_log(dynhc_log_level level, const char *message, void *user_data)
{
    (void)user_data;
    static const char *const names[] = {"debug", "info", "warning", "error"};
    if (is_diagnostic(level, message)) {
        fprintf(stderr, "%s\n", message);
    } else {
        fprintf(stderr, "dynhc: %s: %s\n", names[level], message);
    }
}

void dynhc_sched_log(const dynhc_sched *s, dynhc_log_level level, const char *message)
{
    if (s != NULL && message != NULL && (int)level >= DYNHC_LOG_DEBUG &&
        (int)level <= DYNHC_LOG_ERROR) {
        dynhcp_sched_log(s, level, "%s", message);
    }
}

uint64_t dynhcp_sched_uptime_ns(dynhc_sched *s)
{
    uint64_t now = dynhcp_sched_now(s);
    pthread_mutex_lock(&s->lock);
    uint64_t created = s->created_ns;
    pthread_mutex_unlock(&s->lock);
    return dynhcp_elapsed(now, created);
}

/* The sink that would write a line at level, with its user data; NULL
 * when none would, and formatting is skipped. */
static dynhc_log_fn sink_for(const dynhc_sched *s, dynhc_log_level level, void **data)
{
    dynhc_log_fn log = (dynhc_log_fn)dynhcp_hook_get(&s->log, data);
    if (log == stderr_log &&
        (int)level < atomic_load_explicit(&s->log_level, memory_order_relaxed)) {
        return NULL;
    }
    return log;
}

__attribute__((format(printf, 4, 0)))
static void write_line(dynhc_log_fn log, void *data, dynhc_log_level level, const char *fmt,
                       va_list ap)
{
    char message[1024];
    vsnprintf(message, sizeof(message), fmt, ap);
    log(level, message, data);
}

void dynhcp_sched_log(const dynhc_sched *s, dynhc_log_level level, const char *fmt, ...)
{
    void *data;
    dynhc_log_fn log = sink_for(s, level, &data);
    if (log != NULL) {
        va_list ap;
        va_start(ap, fmt);
        write_line(log, data, level, fmt, ap);
        va_end(ap);
    }
}

void dynhcp_sched_log_held(const dynhc_sched *s, const dynhcp_log_held *held)
{
    if (held->held == 0) {
        return;
    }
    char elapsed[DYNHCP_NUMBER_TEXT_SIZE], period[DYNHCP_NUMBER_TEXT_SIZE];
    /* Tenths of a second: the period ends at a tick, on a millisecond. */
    dynhcp_format_decimal(elapsed, (held->elapsed_ns + 50 * DYNHCP_NS_PER_MS) /
                                       (100 * DYNHCP_NS_PER_MS), 1);
    dynhcp_sched_log(s, DYNHC_LOG_WARNING,
                     "%llu endpoint message%s held back in the last %s s (at most %u per %s s); "
                     "the verbose status and the metrics have every endpoint's state",
                     (unsigned long long)held->held, held->held == 1 ? "" : "s", elapsed,
                     held->burst, dynhcp_format_decimal(period, held->period_ns, 9));
}

/* A line of announce_endpoint(): as dynhcp_sched_log(), under the log limit
 * (dynhc_sched_set_log_limit()), which counts only the lines that the sink
 * would write. The summary of a period that ended goes first. */
__attribute__((format(printf, 3, 4)))
static void endpoint_log(dynhc_sched *s, dynhc_log_level level, const char *fmt, ...)
{
    void *data;
    dynhc_log_fn log = sink_for(s, level, &data);
    if (log == NULL) {
        return;
    }
    /* The clock is read only while the limit is on. */
    if (dynhcp_log_limit_on(&s->log_limit)) {
        dynhcp_log_held held;
        int admitted = dynhcp_log_limit_admit(&s->log_limit, dynhcp_sched_now(s), &held);
        dynhcp_sched_log_held(s, &held);
        if (!admitted) {
            return;
        }
    }
    va_list ap;
    va_start(ap, fmt);
    write_line(log, data, level, fmt, ap);
    va_end(ap);
}

void dynhc_sched_log_endpoint(dynhc_sched *s, dynhc_log_level level, const char *message)
{
    if (s != NULL && message != NULL && (int)level >= DYNHC_LOG_DEBUG &&
        (int)level <= DYNHC_LOG_ERROR) {
        endpoint_log(s, level, "%s", message);
    }
}

const double dynhcp_latency_bounds[DYNHCP_LATENCY_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                              0.5,   1,    2.5,   5,    10};

/* ---- random numbers (xorshift64*) ---------------------------------------- */

static uint64_t random_next(dynhc_sched *s)
{
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, n); the modulo bias is far below what jitter can notice. */
uint64_t dynhcp_sched_random_below(dynhc_sched *s, uint64_t n)
{
    return n == 0 ? 0 : random_next(s) % n;
}

/* ---- deadlines ------------------------------------------------------------ */

uint64_t dynhcp_sched_next_deadline_locked(const dynhc_sched *s)
{
    return dynhcp_timers_deadline(&s->timers);
}

/* ---- readiness ------------------------------------------------------------- */

static int overall_of(const dynhc_sched *s)
{
    if (s->use_count > 0) {
        return s->tracked_ready == s->use_count;
    }
    if (s->tracked_count == 0) {
        return atomic_load(&s->process_ready);
    }
    return s->tracked_ready == s->tracked_count;
}

void dynhcp_sched_update_overall(dynhc_sched *s, dynhcp_transitions *t)
{
    int ready = overall_of(s);
    if (ready != atomic_load(&s->overall_ready)) {
        atomic_store(&s->overall_ready, ready);
        s->overall_transitions++;
        t->overall_changed = 1;
        t->overall_ready = ready;
        t->fn = s->on_transition;
        t->data = s->transition_data;
    }
}

static void set_ready_locked(dynhc_sched *s, dynhc_endpoint *ep, int ready, uint64_t now,
                             dynhcp_transitions *t)
{
    if (atomic_load(&ep->ready) == ready) {
        return;
    }
    atomic_store(&ep->ready, ready);
    if (ready) {
        atomic_store_explicit(&ep->stalled, 0, memory_order_relaxed);
    }
    ep->transitions++;
    ep->last_change_ns = now;
    if (ep->tracked) {
        s->tracked_ready = ready ? s->tracked_ready + 1 : s->tracked_ready - 1;
    }
    /* Announced after the lock is released, when another thread may have
     * removed ep: the reference keeps it. */
    dynhcp_endpoint_hold_locked(ep);
    t->ep = ep;
    t->ep_changed = 1;
    t->ep_ready = ready;
    t->fn = s->on_transition;
    t->data = s->transition_data;
    dynhcp_sched_update_overall(s, t);
}

/* Logs and calls back one transition of the overall status. With
 * callback_owner set, without the lock. */
static void announce_overall(dynhc_sched *s, dynhc_transition_fn fn, void *data, int ready)
{
    /* A later change (made, say, by a callback of this very announcement)
     * has turned the status again and announces itself: this one would be
     * stale, and the last word must be the status as it is. */
    if (atomic_load(&s->overall_ready) != ready) {
        return;
    }
    dynhcp_sched_log(s, DYNHC_LOG_INFO, "overall status is now %s", ready ? "ready" : "not ready");
    if (fn != NULL) {
        fn(s, NULL, NULL, ready, data);
    }
}

/* Logs what happened to ep (its transition, its failed check) and calls
 * back its transition. A failure is logged with its reason: not ready, at
 * warning level, the first time (the first check of an endpoint that
 * starts not ready included) and whenever the reason changes; still ready
 * (below the failure threshold), at info level; a failure for the same
 * reason as the previous check, at debug level, so that an endpoint that
 * stays down does not repeat itself every interval. With callback_owner
 * set, without the lock. */
static void announce_endpoint(dynhc_sched *s, dynhc_transition_fn fn, void *data,
                              dynhc_endpoint *ep, const dynhcp_transitions *t)
{
    const char *reason = t->reason;
    if (t->ep_changed && t->ep_ready) {
        endpoint_log(s, DYNHC_LOG_INFO, "endpoint '%s' is now ready", ep->name);
    } else if (t->ep_changed) {
        endpoint_log(s, DYNHC_LOG_WARNING, "endpoint '%s' is now not ready: %s", ep->name,
                     reason != NULL ? reason : "failure");
    } else if (reason != NULL && !t->ep_ready) {
        if (t->repeat) {
            endpoint_log(s, DYNHC_LOG_DEBUG,
                         "endpoint '%s' is still not ready: %s (consecutive failures: %u)",
                         ep->name, reason, (unsigned)t->failures);
        } else {
            endpoint_log(s, DYNHC_LOG_WARNING, "endpoint '%s' is not ready: %s", ep->name,
                         reason);
        }
    } else if (reason != NULL) {
        endpoint_log(s, t->repeat ? DYNHC_LOG_DEBUG : DYNHC_LOG_INFO,
                     "endpoint '%s' failed a check and is still ready: %s (consecutive "
                     "failures: %u)",
                     ep->name, reason, (unsigned)t->failures);
    }
    if (t->ep_changed && fn != NULL) {
        fn(s, ep, ep->name, t->ep_ready, data);
    }
}

void dynhcp_sched_announce(dynhc_sched *s, const dynhcp_transitions *t)
{
    if (t->ep == NULL && !t->overall_changed) {
        return;
    }
    const dynhc_sched *outer = callback_owner;
    callback_owner = s;
    if (t->ep != NULL) {
        announce_endpoint(s, t->fn, t->data, t->ep, t);
    }
    if (t->overall_changed) {
        announce_overall(s, t->fn, t->data, t->overall_ready);
    }
    callback_owner = outer;
    if (t->ep != NULL) {
        dynhcp_endpoint_release(t->ep);
    }
}

int dynhcp_sched_is_used(const dynhc_sched *s, const char *name)
{
    if (s->use_count == 0) {
        return 1;
    }
    for (size_t i = 0; i < s->use_count; i++) {
        if (strcmp(s->use_names[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Recounts which endpoints make the overall status. */
static void retrack(dynhc_sched *s, dynhcp_transitions *t)
{
    s->tracked_count = s->tracked_ready = 0;
    for (uint32_t i = 0; i < s->slot_count; i++) {
        dynhc_endpoint *ep = s->slots[i];
        if (ep != NULL) {
            ep->tracked = (uint8_t)dynhcp_sched_is_used(s, ep->name);
            s->tracked_count += ep->tracked;
            s->tracked_ready += ep->tracked && atomic_load(&ep->ready);
        }
    }
    dynhcp_sched_update_overall(s, t);
}

void dynhcp_sched_set_use_names(dynhc_sched *s, char **names, size_t n)
{
    dynhcp_transitions t = DYNHCP_TRANSITIONS_NONE;
    pthread_mutex_lock(&s->lock);
    char **old = s->use_names;
    size_t old_count = s->use_count;
    s->use_names = names;
    s->use_count = n;
    retrack(s, &t);
    pthread_mutex_unlock(&s->lock);
    dynhcp_sched_announce(s, &t);
    for (size_t i = 0; i < old_count; i++) {
        dynhcp_free(old[i]);
    }
    dynhcp_free(old);
}

/* ---- timing ---------------------------------------------------------------- */

static uint64_t jittered(dynhc_sched *s, uint64_t interval)
{
    if (s->jitter <= 0) {
        return interval;
    }
    uint64_t span = (uint64_t)((double)interval * s->jitter);
    return interval - span + dynhcp_sched_random_below(s, 2 * span + 1);
}

/* The endpoint's latest traffic of any kind: what idle mode waits out. */
static uint64_t last_traffic(const dynhc_endpoint *ep)
{
    uint64_t activity = atomic_load_explicit(&ep->traffic.last_activity_ns, memory_order_relaxed);
    uint64_t progress = atomic_load_explicit(&ep->traffic.last_progress_ns, memory_order_relaxed);
    return activity > progress ? activity : progress;
}

static uint64_t interval_of(const dynhc_sched *s, const dynhc_endpoint *ep)
{
    return atomic_load_explicit(&ep->ready, memory_order_relaxed) ? s->interval_ns
                                                                  : s->not_ready_interval_ns;
}

/* When the next check is due after one has completed. */
static uint64_t next_due(dynhc_sched *s, dynhc_endpoint *ep, uint64_t now)
{
    uint64_t interval = jittered(s, interval_of(s, ep));
    if (s->mode == DYNHC_MODE_PERIODIC) {
        /* From the planned time, not the send time: each endpoint keeps its
         * own phase, so endpoints sent in one tick do not fall into lock step.
         * Whole periods missed (a long stall) are skipped, not caught up. */
        uint64_t due = dynhcp_later(ep->due_ns, interval);
        if (due <= now) {
            due += (now - due) / interval * interval; /* still <= now */
            due = dynhcp_later(due, interval);
        }
        return due;
    }
    uint64_t activity = last_traffic(ep);
    return dynhcp_later(activity > now ? activity : now, interval);
}

void dynhcp_sched_plan_locked(dynhc_sched *s, dynhc_endpoint *ep, uint64_t now)
{
    uint64_t at = ep->due_ns;
    if (s->stall_ns > 0) {
        uint64_t look = dynhcp_later(now, s->stall_ns);
        at = look < at ? look : at;
    }
    dynhcp_timers_set(&s->timers, ep, at);
}

/* ---- outcomes -------------------------------------------------------------- */

static void record_latency(dynhc_sched *s, dynhc_endpoint *ep, uint64_t latency_ns)
{
    double seconds = (double)latency_ns / 1e9;
    uint32_t bucket = 0;
    while (bucket < DYNHCP_LATENCY_BUCKETS && seconds > dynhcp_latency_bounds[bucket]) {
        bucket++;
    }
    s->latency_buckets[bucket]++;
    s->latency_sum_ns += latency_ns % DYNHCP_NS_PER_SEC;
    s->latency_sum_s += latency_ns / DYNHCP_NS_PER_SEC + s->latency_sum_ns / DYNHCP_NS_PER_SEC;
    s->latency_sum_ns %= DYNHCP_NS_PER_SEC;
    ep->last_latency_ns = latency_ns;
    ep->latency_sum_ns = dynhcp_later(ep->latency_sum_ns, latency_ns);
}

static void forget_error(dynhc_endpoint *ep)
{
    if (ep->last_error_owned) {
        dynhcp_free((void *)(uintptr_t)ep->last_error);
    }
    ep->last_error = NULL;
    ep->last_error_owned = 0;
}

/* Plans ep's next check once one has completed; with the lock held. With
 * checks off, the endpoint leaves the timer queue (dynhc_sched_set_enabled()
 * puts it back) unless stall detection needs to look at it. */
static void plan_next_check(dynhc_sched *s, dynhc_endpoint *ep, uint64_t now)
{
    if (s->enabled) {
        ep->due_ns = next_due(s, ep, now);
        dynhcp_sched_plan_locked(s, ep, now);
    } else if (s->stall_ns > 0) {
        dynhcp_timers_set(&s->timers, ep, dynhcp_later(now, s->stall_ns));
    } else {
        dynhcp_timers_remove(&s->timers, ep);
    }
}

/* Applies the outcome of ep's check in flight, which took latency_ns; with
 * the lock held. error is the text kept for a failure or timeout (NULL for
 * a success): a copy that ep takes over when owned, else a literal. Nothing
 * here allocates: a completion that cannot copy its text fails before. */
static void finish_check(dynhc_sched *s, dynhc_endpoint *ep, dynhc_check_result result,
                         const char *error, int owned, uint64_t now, uint64_t latency_ns,
                         dynhcp_transitions *t)
{
    ep->in_flight = 0;
    s->in_flight--;
    ep->checks[result]++;
    ep->last_result = (uint8_t)result;
    ep->last_check_ns = now;
    record_latency(s, ep, latency_ns);
    /* A check that timed out behind requests that made progress meanwhile
     * found the endpoint busy, not broken (SPEC 3): counted as a timeout,
     * but not against the endpoint's readiness. */
    if (result == DYNHC_CHECK_TIMEOUT && s->stall_ns > 0 &&
        atomic_load_explicit(&ep->traffic.last_progress_ns, memory_order_relaxed) >= ep->sent_ns) {
        if (owned) {
            dynhcp_free((void *)(uintptr_t)error);
        }
        plan_next_check(s, ep, now);
        return;
    }
    /* The previous text tells whether this failure repeats it. */
    const char *previous_error = ep->last_error;
    int previous_owned = ep->last_error_owned;
    ep->last_error = NULL;
    ep->last_error_owned = 0;
    if (result == DYNHC_CHECK_SUCCESS) {
        atomic_store_explicit(&ep->last_success_ns, now, memory_order_relaxed);
        ep->consecutive_failures = 0;
        ep->consecutive_successes++;
        if (ep->consecutive_successes >= s->success_threshold) {
            set_ready_locked(s, ep, 1, now, t);
        }
    } else {
        ep->consecutive_successes = 0;
        ep->consecutive_failures++;
        ep->last_error = error;
        ep->last_error_owned = (uint8_t)(owned != 0);
        if (ep->consecutive_failures >= s->failure_threshold) {
            set_ready_locked(s, ep, 0, now, t);
        }
        /* The failure is logged with its reason once the lock is released:
         * the reference keeps ep (a transition holds one already). */
        if (t->ep == NULL) {
            dynhcp_endpoint_hold_locked(ep);
            t->ep = ep;
            t->ep_ready = atomic_load(&ep->ready);
        }
        t->reason = error;
        t->repeat = previous_error != NULL && strcmp(previous_error, error) == 0;
        t->failures = ep->consecutive_failures;
    }
    if (previous_owned) {
        dynhcp_free((void *)(uintptr_t)previous_error);
    }
    plan_next_check(s, ep, now);
}

static uint64_t check_id_of(const dynhc_endpoint *ep)
{
    return ((uint64_t)ep->slot + 1) << 32 | ep->sequence;
}

dynhcp_wakeup dynhcp_sched_wakeup_locked(const dynhc_sched *s)
{
    /* The ticking thread recomputes its deadline after the tick anyway. */
    dynhcp_wakeup w = {ticking_owner != s ? s->wakeup : NULL, s->wakeup_data};
    return w;
}

void dynhcp_wakeup_call(dynhc_sched *s, dynhcp_wakeup w)
{
    if (w.fn != NULL) {
        w.fn(s, w.data);
    }
}

/* dynhc_sched_complete(), with error copied when copy is set; else it is
 * the scheduler's own completion of a send it saw fail, with a literal
 * error, which is never late: the tick that sent the check decides. */
static int complete_check(dynhc_sched *s, uint64_t check_id, dynhc_check_result result,
                          const char *error, int copy)
{
    dynhcp_transitions t = DYNHCP_TRANSITIONS_NONE;
    int status = DYNHC_OK;
    /* The clock is read before the lock; a tick may have raised the time
     * floor since, so the floor is applied again under the lock: the
     * completion never comes before a send. */
    uint64_t now = dynhcp_sched_now(s);
    pthread_mutex_lock(&s->lock);
    uint64_t floor = atomic_load_explicit(&s->time_floor, memory_order_relaxed);
    now = now > floor ? now : floor;
    uint64_t slot = (check_id >> 32) - 1;
    dynhc_endpoint *ep = slot < s->slot_count ? s->slots[slot] : NULL;
    dynhcp_wakeup w = {NULL, NULL};
    /* An id its slot's endpoint never issued was another endpoint's, one
     * removed since: unknown, not late. */
    if (ep != NULL && (int32_t)((uint32_t)check_id - ep->first_sequence) <= 0) {
        ep = NULL;
    }
    /* After the check's deadline it has timed out, whether or not a tick
     * has said so yet: a success or failure then is late (SPEC 3). A
     * timeout is taken, with the caller's reason, as if the tick had found
     * it: it took exactly its timeout. */
    uint64_t deadline = ep != NULL && ep->in_flight && ep->timer.where != DYNHCP_TIMER_NONE
                            ? ep->timer.due_ns
                            : UINT64_MAX;
    int past_deadline = copy && now > deadline;
    if (ep != NULL && ep->in_flight && check_id == check_id_of(ep) &&
        (!past_deadline || result == DYNHC_CHECK_TIMEOUT)) {
        /* The text is copied first: out of memory, nothing is done and the
         * check stays in flight, for the caller to complete again. */
        const char *text = NULL;
        char *copied = NULL;
        if (result != DYNHC_CHECK_SUCCESS) {
            if (error == NULL) {
                text = result == DYNHC_CHECK_TIMEOUT ? "timeout" : "failure";
            } else if (!copy) {
                text = error;
            } else if ((copied = dynhcp_strdup(error)) != NULL) {
                text = copied;
            } else {
                status = DYNHC_ERR_NOMEM;
            }
        }
        if (status == DYNHC_OK) {
            uint64_t took = dynhcp_elapsed(past_deadline ? deadline : now, ep->sent_ns);
            finish_check(s, ep, result, text, copied != NULL, now, took, &t);
            /* The copy belongs to ep, and another completion may free it once
             * the lock is released: the log line takes the caller's text. */
            if (copied != NULL) {
                t.reason = error;
            }
            w = dynhcp_sched_wakeup_locked(s);
        }
    } else {
        if (ep != NULL) {
            ep->late++;
        } else {
            s->late_unknown++;
        }
        status = DYNHC_ERR_NOT_FOUND;
    }
    pthread_mutex_unlock(&s->lock);
    if (status == DYNHC_OK) {
        dynhcp_sched_announce(s, &t);
        dynhcp_wakeup_call(s, w);
    }
    return status;
}

int dynhc_sched_complete(dynhc_sched *s, uint64_t check_id, dynhc_check_result result,
                         const char *error)
{
    if (s == NULL || (unsigned)result > DYNHC_CHECK_TIMEOUT) {
        return DYNHC_ERR_INVALID_ARG;
    }
    return complete_check(s, check_id, result, error, 1);
}

/* The scheduler of ep while it is registered, else NULL. A removed
 * endpoint may outlive its scheduler (a caller's reference): nothing of the
 * scheduler is touched for it. A removal racing with the caller finds the
 * scheduler alive (it may not be freed while calls on it run), and what
 * takes the lock checks again. */
static dynhc_sched *registered_sched(const dynhc_endpoint *ep)
{
    if (ep == NULL || atomic_load_explicit(&ep->removed, memory_order_acquire)) {
        return NULL;
    }
    return ep->sched;
}

/* Stores traffic at now: progress (also successful traffic, which shows
 * the engine working as well as a check: in idle mode a busy endpoint is
 * never checked), or only traffic. */
static void store_traffic(dynhc_endpoint *ep, int progress, uint64_t now)
{
    atomic_store_explicit(progress ? &ep->traffic.last_progress_ns : &ep->traffic.last_activity_ns,
                          now, memory_order_relaxed);
}

/* After progress: makes a stalled endpoint ready, and any endpoint when
 * successful traffic marks ready; lock-free unless it does. The last use of
 * ep: the announcement's callbacks may remove it, and a borrowed handle is
 * then gone. */
static void ready_on_progress(dynhc_sched *s, dynhc_endpoint *ep, uint64_t now)
{
    if (atomic_load_explicit(&ep->ready, memory_order_relaxed) ||
        (!atomic_load_explicit(&ep->stalled, memory_order_relaxed) &&
         !atomic_load_explicit(&s->activity_marks_ready, memory_order_relaxed))) {
        return;
    }
    dynhcp_transitions t = DYNHCP_TRANSITIONS_NONE;
    pthread_mutex_lock(&s->lock);
    if (!atomic_load(&ep->removed) &&
        (atomic_load(&ep->stalled) || atomic_load(&s->activity_marks_ready))) {
        set_ready_locked(s, ep, 1, now, &t);
    }
    pthread_mutex_unlock(&s->lock);
    dynhcp_sched_announce(s, &t);
}

static void note_traffic(dynhc_sched *s, dynhc_endpoint *ep, int progress, uint64_t now)
{
    store_traffic(ep, progress, now);
    if (progress) {
        ready_on_progress(s, ep, now);
    }
}

void dynhc_endpoint_record_activity(dynhc_endpoint *ep, int ok)
{
    dynhc_sched *s = registered_sched(ep);
    if (s != NULL) {
        note_traffic(s, ep, ok, traffic_now(s));
    }
}

void dynhc_endpoint_record_progress(dynhc_endpoint *ep)
{
    dynhc_sched *s = registered_sched(ep);
    if (s != NULL) {
        note_traffic(s, ep, 1, traffic_now(s));
    }
}

void dynhc_endpoint_request_begin(dynhc_endpoint *ep)
{
    dynhc_sched *s = registered_sched(ep);
    if (s == NULL) {
        return;
    }
    uint64_t now = traffic_now(s);
    dynhcp_traffic *t = &ep->traffic;
    atomic_store_explicit(&t->last_activity_ns, now, memory_order_relaxed);
    /* The stall threshold counts from the first request of a busy spell.
     * The time is stored before the count rises when none seemed in flight,
     * so that a tick that sees the request sees its time too (release
     * below, acquire in the tick); and again after, when the others ended
     * in between (the tick then judged requests that were in flight until
     * a moment ago by their own time). */
    int idle = atomic_load_explicit(&t->requests, memory_order_relaxed) == 0;
    if (idle) {
        atomic_store_explicit(&t->busy_since_ns, now, memory_order_relaxed);
    }
    if (atomic_fetch_add_explicit(&t->requests, 1, memory_order_release) == 0 && !idle) {
        atomic_store_explicit(&t->busy_since_ns, now, memory_order_relaxed);
    }
}

void dynhc_endpoint_request_end(dynhc_endpoint *ep, int ok)
{
    dynhc_sched *s = registered_sched(ep);
    if (s == NULL) {
        return;
    }
    /* The traffic is stored first: its store takes the cache line for
     * writing, which the count's compare-and-swap then finds at hand (one
     * transfer of the line between request threads, not two). Readiness
     * comes last: its announcement may let go of ep. */
    uint64_t now = traffic_now(s);
    store_traffic(ep, ok, now);
    /* An end without its begin leaves the count at zero: it never wraps. */
    uint64_t n = atomic_load_explicit(&ep->traffic.requests, memory_order_relaxed);
    while (n > 0 && !atomic_compare_exchange_weak_explicit(&ep->traffic.requests, &n, n - 1,
                                                           memory_order_relaxed,
                                                           memory_order_relaxed)) {
    }
    if (ok) {
        ready_on_progress(s, ep, now);
    }
}

/* ---- ticking --------------------------------------------------------------- */

int dynhcp_sched_reserve_batch_locked(dynhc_sched *s, uint32_t n)
{
    if (n <= s->batch_capacity) {
        return 0;
    }
    uint32_t capacity = s->batch_capacity ? s->batch_capacity : 64;
    while (capacity < n) {
        capacity = capacity <= UINT32_MAX / 2 ? capacity * 2 : n;
    }
    dynhcp_batch_entry *grown = dynhcp_realloc(s->batch, (size_t)capacity * sizeof(*grown));
    if (grown == NULL) {
        return -1;
    }
    s->batch = grown;
    s->batch_capacity = capacity;
    return 0;
}

void dynhcp_endpoint_hold_locked(dynhc_endpoint *ep)
{
    atomic_fetch_add_explicit(&ep->refs, 1, memory_order_relaxed);
}

void dynhcp_endpoint_release(dynhc_endpoint *ep)
{
    /* acq_rel: whoever frees sees every write made by the other holders. */
    if (atomic_fetch_sub_explicit(&ep->refs, 1, memory_order_acq_rel) == 1) {
        dynhcp_sched_free_endpoint(ep);
    }
}

void dynhcp_sched_free_endpoint(dynhc_endpoint *ep)
{
    if (ep->destroy != NULL) {
        ep->destroy(ep->user_data);
    }
    dynhc_result_free(ep->payload);
    forget_error(ep);
    dynhcp_free((void *)(uintptr_t)ep->labels);
    dynhcp_free(ep->name);
    dynhcp_free(dynhcp_endpoint_allocation(ep));
}

/* Appends the transitions in t to the batch (room reserved); the endpoint
 * transition takes over t's reference. */
static uint32_t batch_transitions(dynhc_sched *s, uint32_t count, const dynhcp_transitions *t)
{
    if (t->ep != NULL) {
        s->batch[count++] = (dynhcp_batch_entry){t->ep,
                                                 0,
                                                 0,
                                                 DYNHCP_BATCH_ENDPOINT,
                                                 (uint8_t)t->ep_ready,
                                                 (uint8_t)t->ep_changed,
                                                 (uint8_t)t->repeat,
                                                 t->failures,
                                                 t->reason};
    }
    if (t->overall_changed) {
        s->batch[count++] = (dynhcp_batch_entry){
            NULL, 0, 0, DYNHCP_BATCH_OVERALL, (uint8_t)t->overall_ready, 0, 0, 0, NULL};
    }
    return count;
}

/* With stall detection on, judges ep by its requests when it has some in
 * flight (with the lock held): it is sent no check, since a canary would
 * wait behind them; it stalls once it has shown no progress for the
 * threshold (since its busy spell began, when that is later), and is
 * looked at again when its progress would be a threshold old, or in one
 * threshold once stalled (its requests may end, and a check become due).
 * Returns 0 when it has none in flight; the stall's transitions go to t. */
static int judge_busy_locked(dynhc_sched *s, dynhc_endpoint *ep, uint64_t now,
                             dynhcp_transitions *t)
{
    const dynhcp_traffic *traffic = &ep->traffic;
    if (atomic_load_explicit(&traffic->requests, memory_order_acquire) == 0) {
        return 0;
    }
    uint64_t progress = atomic_load_explicit(&traffic->last_progress_ns, memory_order_relaxed);
    uint64_t busy = atomic_load_explicit(&traffic->busy_since_ns, memory_order_relaxed);
    uint64_t look = dynhcp_later(progress > busy ? progress : busy, s->stall_ns);
    if (look <= now) {
        if (!atomic_load_explicit(&ep->stalled, memory_order_relaxed)) {
            ep->stalls++;
            set_ready_locked(s, ep, 0, now, t);
            atomic_store_explicit(&ep->stalled, 1, memory_order_relaxed);
            if (t->ep == NULL) { /* not ready already: the stall is logged all the same */
                dynhcp_endpoint_hold_locked(ep);
                t->ep = ep;
                t->ep_ready = 0;
            }
            t->reason = DYNHCP_STALLED;
            t->failures = ep->consecutive_failures;
        }
        look = dynhcp_later(now, s->stall_ns);
    }
    dynhcp_timers_set(&s->timers, ep, look);
    return 1;
}

/* Collects what is due, with the lock held: timeouts are applied at once
 * and their transitions go into s->batch, as do the checks to send, in the
 * order they were found. Returns the length of the batch. */
static uint32_t collect_due(dynhc_sched *s, uint64_t now)
{
    uint32_t count = 0;
    dynhc_endpoint *ep;
    /* What is due at the end of time never is, a tick at UINT64_MAX included. */
    while ((ep = dynhcp_timers_due(&s->timers, now)) != NULL) {
        /* Room for what one endpoint adds: a check to send, or its own
         * transition and the overall status's. Registration keeps room for
         * every endpoint and two more, which is always enough (an endpoint
         * is taken at most once a tick, since whatever is done with it is
         * due after now, and the overall status changes at most once,
         * since timeouts only lower readiness): a tick never allocates, so
         * it cannot fail for lack of memory. Were room to run out, the
         * rest would stay due, for the next tick. */
        if (s->batch_capacity - count < 2) {
            break;
        }
        if (ep->in_flight) {
            /* The timer holds the check's deadline: it took exactly its
             * timeout, however late this tick noticed. */
            uint64_t deadline = ep->timer.due_ns;
            dynhcp_transitions t = DYNHCP_TRANSITIONS_NONE;
            finish_check(s, ep, DYNHC_CHECK_TIMEOUT, "timeout", 0, now, deadline - ep->sent_ns,
                         &t);
            count = batch_transitions(s, count, &t);
            continue;
        }
        if (s->stall_ns > 0) {
            dynhcp_transitions t = DYNHCP_TRANSITIONS_NONE;
            if (judge_busy_locked(s, ep, now, &t)) {
                count = batch_transitions(s, count, &t);
                continue;
            }
            if (ep->timer.due_ns < ep->due_ns) {
                dynhcp_sched_plan_locked(s, ep, now); /* a look only: no check due yet */
                continue;
            }
        }
        if (!s->enabled) {
            plan_next_check(s, ep, now); /* dynhc_sched_set_enabled puts it back */
            continue;
        }
        if (s->mode == DYNHC_MODE_IDLE) {
            uint64_t quiet_until = dynhcp_later(last_traffic(ep), interval_of(s, ep));
            if (quiet_until > now) {
                ep->due_ns = quiet_until; /* traffic since: no canary needed yet */
                dynhcp_sched_plan_locked(s, ep, now);
                continue;
            }
        }
        ep->in_flight = 1;
        /* One counter for the whole scheduler: an endpoint that reuses a
         * removed one's slot never repeats the ids still out for it. */
        if (++s->check_counter == 0) {
            s->check_counter = 1;
        }
        ep->sequence = s->check_counter;
        ep->sent_ns = now;
        s->in_flight++;
        uint64_t deadline = dynhcp_later(now, s->timeout_ns);
        dynhcp_timers_set(&s->timers, ep, deadline);
        dynhcp_endpoint_hold_locked(ep); /* removal from another thread leaves it to the send */
        /* Fetched ahead for after the lock: the send's user data, and the
         * slot by which the completion finds ep from its check id. */
        __builtin_prefetch(ep->user_data);
        __builtin_prefetch(&s->slots[ep->slot]);
        s->batch[count++] =
            (dynhcp_batch_entry){ep, check_id_of(ep), deadline, DYNHCP_BATCH_SEND, 0, 0, 0, 0,
                                 NULL};
    }
    return count;
}

int dynhc_sched_tick(dynhc_sched *s, uint64_t now)
{
    if (s == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    if (callback_owner == s) {
        return DYNHC_ERR_BUSY;
    }
    const dynhc_sched *outer_tick = ticking_owner;
    ticking_owner = s;
    pthread_mutex_lock(&s->lock);
    raise_time_floor_locked(s, now);
    uint32_t count = collect_due(s, now);
    dynhc_transition_fn on_transition = s->on_transition;
    void *transition_data = s->transition_data;
    pthread_mutex_unlock(&s->lock);

    const dynhc_sched *outer = callback_owner;
    callback_owner = s;
    /* The lines held back by the log limit are summed up once their period
     * is over, whether or not another line comes. */
    dynhcp_log_held held;
    dynhcp_log_limit_expire(&s->log_limit, now, &held);
    dynhcp_sched_log_held(s, &held);
    int sent = 0;
    for (uint32_t i = 0; i < count; i++) {
        const dynhcp_batch_entry *e = &s->batch[i];
        dynhc_endpoint *ep = e->ep;
        /* A large batch (a loop that fell behind, at a million endpoints)
         * outgrows the cache before it is sent: each entry fetches the hot
         * lines of the endpoint sixteen places on, and the user data of the
         * one eight places on, whose lines came meanwhile (fixed while the
         * batch holds them). In the loop: GCC drops a call to a function of
         * prefetches alone as having no effect. */
        if (i + 16 < count && s->batch[i + 16].ep != NULL) {
            const char *ahead = (const char *)s->batch[i + 16].ep;
            __builtin_prefetch(ahead);
            __builtin_prefetch(ahead + DYNHCP_CACHE_LINE);
            __builtin_prefetch(ahead + 2 * DYNHCP_CACHE_LINE);
        }
        if (i + 8 < count && s->batch[i + 8].kind == DYNHCP_BATCH_SEND) {
            __builtin_prefetch(s->batch[i + 8].ep->user_data);
        }
        if (e->kind == DYNHCP_BATCH_OVERALL) {
            announce_overall(s, on_transition, transition_data, e->ready);
        } else if (e->kind == DYNHCP_BATCH_ENDPOINT) {
            /* A tick's failures are timeouts and stalls. */
            dynhcp_transitions t = {ep,          e->changed, e->ready, e->reason, e->repeat,
                                    e->failures, 0,          0,        NULL,      NULL};
            announce_endpoint(s, on_transition, transition_data, ep, &t);
        } else {
            sent++;
            /* A check whose endpoint was removed meanwhile is not sent. */
            if (!atomic_load_explicit(&ep->removed, memory_order_acquire)) {
                dynhc_check check = {e->id,       ep->name, dynhc_result_text(ep->payload),
                                     ep->payload, now,      e->deadline_ns};
                if (ep->send(s, ep, &check, ep->user_data) != 0) {
                    complete_check(s, check.id, DYNHC_CHECK_FAILURE, "the send callback failed",
                                   0);
                }
            }
        }
        if (ep != NULL) {
            dynhcp_endpoint_release(ep);
        }
    }
    callback_owner = outer;
    ticking_owner = outer_tick;
    return sent;
}

uint64_t dynhc_sched_next_deadline(const dynhc_sched *s)
{
    if (s == NULL) {
        return DYNHC_NO_DEADLINE;
    }
    /* Read only: the lock is the one thing taken. */
    dynhc_sched *locked = (dynhc_sched *)(uintptr_t)s;
    pthread_mutex_lock(&locked->lock);
    uint64_t deadline = dynhcp_sched_next_deadline_locked(s);
    pthread_mutex_unlock(&locked->lock);
    return deadline;
}

int dynhc_sched_timeout_ms(const dynhc_sched *s, uint64_t now)
{
    uint64_t deadline = dynhc_sched_next_deadline(s);
    if (deadline == DYNHC_NO_DEADLINE) {
        return -1;
    }
    if (deadline <= now) {
        return 0;
    }
    uint64_t left = deadline - now;
    uint64_t ms = left / DYNHCP_NS_PER_MS + (left % DYNHCP_NS_PER_MS != 0);
    return ms > (uint64_t)INT_MAX ? INT_MAX : (int)ms;
}

int dynhc_sched_is_ready(const dynhc_sched *s)
{
    return s != NULL && atomic_load(&s->overall_ready);
}

int dynhc_sched_set_process_ready(dynhc_sched *s, int ready)
{
    if (s == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    dynhcp_transitions t = DYNHCP_TRANSITIONS_NONE;
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->process_ready, ready != 0);
    dynhcp_sched_update_overall(s, &t);
    pthread_mutex_unlock(&s->lock);
    dynhcp_sched_announce(s, &t);
    return DYNHC_OK;
}

/* ---- the scheduler ---------------------------------------------------------- */

/* The default sink's level: DYN_LOG, read once, when the scheduler is
 * created (no lookup per line, and no getenv racing a setenv later on);
 * info when it is unset, blank or bad. A bad value is a warning, which the
 * default sink, the only one there is yet, prints. */
static void read_dyn_log(dynhc_sched *s)
{
    static const char name[] = "DYN_LOG";
    const char *raw = dynhcp_process_getenv(name, NULL);
    size_t len = 0;
    const char *text = raw != NULL ? dynhcp_trim(raw, &len) : NULL;
    int level = DYNHC_LOG_INFO;
    const char *why = len > 0 ? dynhcp_parse_log_level(text, len, &level) : NULL;
    atomic_init(&s->log_level, why == NULL ? level : DYNHC_LOG_INFO);
    if (why != NULL) {
        char quoted[96];
        dynhcp_sched_log(s, DYNHC_LOG_WARNING, "%s: warning: invalid value %s: %s; ignored", name,
                         dynhcp_quote(quoted, sizeof(quoted), text, len), why);
    }
}

/* What the table of names finds an endpoint by. */
static const char *endpoint_name(const void *ep)
{
    return ((const dynhc_endpoint *)ep)->name;
}

dynhc_sched *dynhc_sched_new(void)
{
    dynhc_sched *s = dynhcp_calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->names.key_of = endpoint_name;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        dynhcp_free(s);
        return NULL;
    }
    if (pthread_mutex_init(&s->report_lock, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        dynhcp_free(s);
        return NULL;
    }
    if (dynhcp_log_limit_init(&s->log_limit) != 0) {
        pthread_mutex_destroy(&s->report_lock);
        pthread_mutex_destroy(&s->lock);
        dynhcp_free(s);
        return NULL;
    }
    s->mode = DYNHC_MODE_IDLE;
    s->interval_ns = 10 * DYNHCP_NS_PER_SEC;
    s->not_ready_interval_ns = s->interval_ns;
    s->timeout_ns = 3 * DYNHCP_NS_PER_SEC;
    s->spread_ns = s->interval_ns;
    s->failure_threshold = 1;
    s->success_threshold = 1;
    atomic_init(&s->activity_marks_ready, 1);
    s->enabled = 1;
    dynhcp_hook_init(&s->clock, NULL, NULL);
    dynhcp_hook_init(&s->log, (dynhcp_any_fn)stderr_log, NULL);
    read_dyn_log(s);
    s->rng = 0x9E3779B97F4A7C15ull ^ dynhc_now_ns();
    atomic_init(&s->process_ready, 0);
    atomic_init(&s->overall_ready, 0);
    s->created_ns = dynhc_now_ns();
    s->created_wall_ns = dynhcp_wall_now_ns();
    s->process_start_wall_ns = dynhcp_process_start_wall_ns(s->created_wall_ns);
    atomic_init(&s->time_floor, s->created_ns);
    return s;
}

void dynhc_sched_free(dynhc_sched *s)
{
    if (s == NULL) {
        return;
    }
    if (callback_owner == s) {
        dynhcp_sched_log(s, DYNHC_LOG_ERROR, "dynhc_sched_free called from a callback: ignored");
        return;
    }
    pthread_mutex_lock(&s->lock);
    int (*stop_runner)(dynhc_sched *) = s->stop_runner;
    pthread_mutex_unlock(&s->lock);
    if (stop_runner != NULL) {
        stop_runner(s);
    }
    /* Every endpoint is removed and the scheduler's reference dropped: it is
     * freed now, unless the caller holds a reference (then by its last
     * dynhc_endpoint_release(), which needs nothing of the scheduler). */
    for (uint32_t i = 0; i < s->slot_count; i++) {
        dynhc_endpoint *ep = s->slots[i];
        if (ep != NULL) {
            atomic_store_explicit(&ep->removed, 1, memory_order_release);
            dynhcp_endpoint_release(ep);
        }
    }
    for (size_t i = 0; i < s->use_count; i++) {
        dynhcp_free(s->use_names[i]);
    }
    dynhcp_free(s->use_names);
    dynhcp_free(s->slots);
    dynhcp_free(s->free_slots);
    dynhcp_table_free(&s->names);
    dynhcp_timers_free(&s->timers);
    dynhcp_free(s->batch);
    dynhcp_free(s->report_eps);
    dynhcp_free(s->report_text);
    dynhcp_log_limit_destroy(&s->log_limit);
    pthread_mutex_destroy(&s->report_lock);
    pthread_mutex_destroy(&s->lock);
    dynhcp_free(s);
}
