/* sched_internal.h: the scheduler's objects, shared by sched.c (timing and
 * outcomes), sched_report.c (status JSON and metrics) and sched_thread.c
 * (the thread runner). Internal.
 *
 * Locking: sched->lock guards every field below that is not atomic. It is
 * never held while a callback (the clock included) runs, nor while a report
 * is written. */
#ifndef DYNHCP_SCHED_INTERNAL_H
#define DYNHCP_SCHED_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#include "dynhc/sched.h"
#include "clock.h"
#include "sched_log_limit.h"
#include "sched_timers.h"
#include "sched_services.h"
#include "table.h"

/* Upper bounds of the check latency histogram, in seconds (+Inf implied). */
#define DYNHCP_LATENCY_BUCKETS 11
extern const double dynhcp_latency_bounds[DYNHCP_LATENCY_BUCKETS];

/* What request threads write on every request, lock-free: traffic and
 * forward progress (dynhc_endpoint_record_activity(), _request_begin(),
 * _request_end(), _record_progress()). It has a cache line of its own, the
 * endpoint's last (see struct dynhc_endpoint), so that requests do not
 * bounce the lines the tick reads and writes, nor another endpoint's. */
typedef struct dynhcp_traffic {
    _Atomic uint64_t requests;         /* in flight; never below 0 */
    _Atomic uint64_t last_activity_ns; /* traffic that is not progress: idle mode's timer */
    /* The last sign that the endpoint works: progress, a request that ended
     * well, successful activity; 0: never. Traffic too, for the idle timer. */
    _Atomic uint64_t last_progress_ns;
    /* When requests last rose from none: the stall threshold counts from
     * there when progress is older (a request begun is not progress). */
    _Atomic uint64_t busy_since_ns;
} dynhcp_traffic;

#define DYNHCP_CACHE_LINE 64

/* Four cache lines, the endpoint allocated on a line boundary
 * (new_endpoint()). The first three hold what every fire touches, by when:
 * the timer and the check in flight (the wheel reads the timer as it turns,
 * just before the tick sends), what a send reads, then what a completion
 * writes; the tick fetches them ahead, and a periodic tick without stall
 * detection touches nothing else. The last line is the traffic's, with
 * fields that only registration, reports, the last release and a stall
 * touch: requests write it and the tick leaves it alone, but for stall
 * looks and idle mode, which read the traffic anyway. Memory is the price
 * of the line of its own: 256 bytes in a block of 319 (a fifth line would
 * add 64 more to every endpoint).
 * The per-endpoint counters are 32-bit: at a check a second they last a
 * century. Latency is one histogram for the scheduler (struct dynhc_sched):
 * a histogram per endpoint would cost 56 bytes each and a dozen series
 * each, far too many for a fleet. Per endpoint there is the last latency
 * and their sum (mean latency = sum / checks), 16 bytes and two series. */
struct dynhc_endpoint {
    _Alignas(DYNHCP_CACHE_LINE) dynhcp_timer timer; /* the timer queue's; where NONE when not scheduled */
    uint32_t slot;          /* index in sched->slots: the high half of check ids */
    uint32_t sequence;      /* the low half of the in-flight check id */
    /* One for the registration, dropped by removal, plus one per internal
     * user that touches the endpoint after releasing the lock (a transition
     * being announced, a tick's batch). Taken under the lock while the
     * endpoint is registered, dropped anywhere; the last one frees it. */
    atomic_uint refs;
    uint8_t in_flight;
    atomic_uchar removed;   /* read by the ticking thread without the lock */
    uint8_t last_result;    /* dynhc_check_result of the last check */
    uint8_t tracked;        /* counts toward the overall status */
    uint64_t due_ns;        /* when the next (or in-flight) check was planned */
    uint64_t sent_ns;       /* when the in-flight check was sent */
    /* The second line. */
    dynhc_result *payload;  /* one reference */
    dynhc_send_fn send;
    void *user_data;
    char *name;
    /* The scheduler's last check id when the endpoint was registered: the
     * ids of its slot up to this one were another endpoint's. */
    uint32_t first_sequence;
    atomic_int ready;
    uint32_t consecutive_failures;
    uint32_t consecutive_successes;
    /* Metrics, under the lock. Tokens spent are derived: checks sent times
     * the payload's budget. */
    uint32_t checks[3];     /* by dynhc_check_result */
    uint32_t late;          /* completions after the timeout */
    /* The third line. */
    uint64_t last_check_ns;      /* when the last check completed (once there was one) */
    uint64_t last_latency_ns;
    /* The latencies of every check, summed: one check at a time, each after
     * the one before, so the sum never passes the clock's span (no wrap). */
    uint64_t latency_sum_ns;
    /* When its last check succeeded; 0: never. Reports take the later of
     * this and traffic.last_progress_ns as when it last worked. */
    _Atomic uint64_t last_success_ns;
    const char *last_error;      /* the last failure's text; NULL after a success */
    uint8_t last_error_owned;    /* last_error is a copy to free, else a literal */
    /* Not ready because its requests made no progress within the stall
     * threshold; set under the lock, read by progress without it (which
     * then takes the lock to make it ready again). */
    atomic_uchar stalled;
    /* Bytes from the block allocated to the endpoint, which is aligned
     * inside it (see new_endpoint()). */
    uint8_t allocation_offset;
    uint32_t transitions;
    /* Read by every request (which reads the lines before it too, for
     * removed and ready) and never written: on the traffic's line, each
     * request would read a line that the others take for writing. */
    dynhc_sched *sched;
    uint64_t last_change_ns;     /* its last readiness change; its registration before */

    /* The last line. */
    _Alignas(DYNHCP_CACHE_LINE) dynhcp_traffic traffic;
    /* The metric labels that can be written: name, value, ..., NULL, the
     * strings one after the other in the same block; NULL when none. */
    const char *const *labels;
    dynhc_destroy_fn destroy;
    uint32_t stalls;             /* times it was found stalled (by the tick, seldom) */
};

/* Each line holds what the comment above says (where pointers take 64
 * bits): a field added to the first three pushes hot fields onto a line
 * the tick does not fetch ahead, one added to the last shares the
 * traffic's line. */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(offsetof(struct dynhc_endpoint, payload) == DYNHCP_CACHE_LINE &&
                   offsetof(struct dynhc_endpoint, last_check_ns) == 2 * DYNHCP_CACHE_LINE &&
                   offsetof(struct dynhc_endpoint, traffic) == 3 * DYNHCP_CACHE_LINE &&
                   sizeof(struct dynhc_endpoint) == 4 * DYNHCP_CACHE_LINE,
               "struct dynhc_endpoint: four cache lines, each holding its part");
#endif

/* The block allocated for ep, to free. */
static inline void *dynhcp_endpoint_allocation(dynhc_endpoint *ep)
{
    return (char *)ep - ep->allocation_offset;
}

/* A callback and its user data that lock-free paths call (the clock from
 * dynhc_endpoint_record_activity(), the log sink from anywhere): changed
 * under the lock, read without it. A sequence count keeps the pair
 * consistent: odd while a change is written, and a reader that overlapped
 * a change reads again. */
typedef void (*dynhcp_any_fn)(void);
typedef struct dynhcp_hook {
    atomic_uint seq;
    _Atomic(dynhcp_any_fn) fn;
    _Atomic(void *) data;
} dynhcp_hook;

void dynhcp_hook_init(dynhcp_hook *h, dynhcp_any_fn fn, void *data);
/* With the lock held (one writer at a time). */
void dynhcp_hook_set_locked(dynhcp_hook *h, dynhcp_any_fn fn, void *data);
/* Any thread, no lock. */
dynhcp_any_fn dynhcp_hook_get(const dynhcp_hook *h, void **data);

/* What a tick does once the lock is released, in the order it was found:
 * send a check, or announce what a timeout did to an endpoint (its
 * transition, or only its failure to log) or to the overall status. */
enum { DYNHCP_BATCH_SEND, DYNHCP_BATCH_ENDPOINT, DYNHCP_BATCH_OVERALL };

typedef struct dynhcp_batch_entry {
    dynhc_endpoint *ep;   /* NULL for the overall status */
    uint64_t id;          /* a send: the check's id */
    uint64_t deadline_ns; /* a send: when the check times out */
    uint8_t kind;
    uint8_t ready;        /* a transition: the new status */
    uint8_t changed;      /* an endpoint: its readiness changed (else a failure only) */
    uint8_t repeat;       /* an endpoint: its last check failed for the same reason */
    uint32_t failures;    /* an endpoint: its consecutive failures */
    const char *reason;   /* an endpoint: why it failed, a literal ("timeout", "stalled") */
} dynhcp_batch_entry;

struct dynhc_sched {
    pthread_mutex_t lock;

    /* Settings. */
    dynhc_mode mode;
    uint64_t interval_ns;
    uint64_t not_ready_interval_ns;
    int not_ready_interval_set;
    uint64_t timeout_ns;
    uint64_t stall_ns; /* 0: stall detection off */
    double jitter;
    uint64_t spread_ns;
    int spread_set;
    dynhc_status_list status_list;
    unsigned failure_threshold;
    unsigned success_threshold;
    atomic_int activity_marks_ready; /* also read without the lock by traffic */
    int enabled;
    int starting_ready;
    char **use_names; /* NULL: every endpoint counts */
    size_t use_count;
    uint64_t rng;

    dynhcp_hook clock;    /* a dynhc_clock_fn, NULL: dynhc_now_ns() */
    dynhcp_hook log;      /* a dynhc_log_fn, NULL: silent */
    atomic_int log_level; /* the least dynhc_log_level the default sink writes */
    dynhcp_log_limit log_limit; /* of the per-endpoint lines; a lock of its own */
    dynhc_transition_fn on_transition; /* copied under the lock by whoever announces */
    void *transition_data;
    dynhc_wakeup_fn wakeup;
    void *wakeup_data;

    /* Endpoints by slot (check ids name slots), and free slots for reuse. */
    dynhc_endpoint **slots;
    uint32_t slot_count;
    uint32_t slot_capacity;
    uint32_t *free_slots;
    uint32_t free_count;
    dynhcp_table names; /* registered endpoints by name (unique) */
    size_t endpoint_count;

    dynhcp_timers timers; /* every scheduled endpoint, by when it is next due */

    /* Overall status: tracked endpoints and how many of them are ready. */
    size_t tracked_count;
    size_t tracked_ready;
    atomic_int process_ready;
    atomic_int overall_ready;

    dynhcp_batch_entry *batch; /* what this tick does after the lock, reused */
    uint32_t batch_capacity;

    uint32_t check_counter; /* the low half of the last check id */
    /* Check latency, all endpoints together (the +Inf bucket last). */
    uint64_t latency_buckets[DYNHCP_LATENCY_BUCKETS + 1];
    /* Their sum in seconds and nanoseconds (< 1e9): 64 bits of nanoseconds
     * would wrap after 584 years of latency, hours for a large fleet. */
    uint64_t latency_sum_s;
    uint64_t latency_sum_ns;
    uint64_t created_ns;
    /* The wall clock (CLOCK_REALTIME, ns since the Unix epoch) when
     * created_ns was read: reports turn the clock's times into Unix times
     * with this offset, taken once so that a timestamp does not move
     * between reports (set again with the clock). */
    uint64_t created_wall_ns;
    uint64_t process_start_wall_ns; /* the process's start, Unix time */
    /* One time source: the latest now a tick was given. Times read from
     * the clock are never taken below it (dynhcp_sched_now), so a tick whose
     * now runs ahead of the clock (a loop ticking at the deadline it was
     * given) and a completion or traffic that follows it agree on which
     * came first. Written under the lock, read without it. */
    _Atomic uint64_t time_floor;
    uint64_t late_unknown;  /* completions for ids no endpoint owns */
    uint64_t in_flight;
    uint64_t overall_transitions;

    /* Reports (sched_report.c): one at a time (report_lock, taken before
     * lock, never inside it), each copied under lock into these buffers,
     * which are kept for the next report, and written after it. */
    pthread_mutex_t report_lock;
    void *report_eps;
    size_t report_eps_bytes;
    char *report_text;
    size_t report_text_bytes;

    /* The thread runner (sched_thread.c), a user of the public tick API
     * like any event loop. stop_runner is set while it runs, so that
     * dynhc_sched_free() can stop it without depending on its module. */
    int (*stop_runner)(dynhc_sched *s);
    pthread_t thread;
    pthread_cond_t wake;
    int thread_running;
    int thread_stop;
    int thread_woken;
};

/* Readiness changes seen under the lock, and a failed check to log,
 * announced after it is released. */
typedef struct dynhcp_transitions {
    dynhc_endpoint *ep; /* with a reference, which dynhcp_sched_announce() drops */
    int ep_changed;     /* ep's readiness changed to ep_ready */
    int ep_ready;
    /* ep's check failed for this reason (valid until the announcement: the
     * error given to dynhc_sched_complete() or a static text); NULL when
     * none. repeat: its previous check failed for the same reason. */
    const char *reason;
    int repeat;
    uint32_t failures;  /* ep's consecutive failures */
    int overall_changed;
    int overall_ready;
    /* The transition callback, copied under the lock with the change. */
    dynhc_transition_fn fn;
    void *data;
} dynhcp_transitions;

#define DYNHCP_TRANSITIONS_NONE                                                                    \
    {                                                                                              \
        NULL, 0, 0, NULL, 0, 0, 0, 0, NULL, NULL                                                   \
    }

/* Puts ep in the timer queue for its next check, at ep->due_ns, or sooner
 * for a look at its requests: with stall detection on, no later than one
 * threshold after now (request threads cannot move it: they take no lock).
 * With the lock held. */
void dynhcp_sched_plan_locked(dynhc_sched *s, dynhc_endpoint *ep, uint64_t now);

/* Recomputes the overall status, noting a change in t; with the lock held. */
void dynhcp_sched_update_overall(dynhc_sched *s, dynhcp_transitions *t);
/* Logs and calls back what t holds, then drops its reference; without the
 * lock. */
void dynhcp_sched_announce(dynhc_sched *s, const dynhcp_transitions *t);
/* Writes the line that sums up the per-endpoint lines held back by the
 * log limit, when held counts any. Without the lock. */
void dynhcp_sched_log_held(const dynhc_sched *s, const dynhcp_log_held *held);
/* Whether the endpoint called name makes the overall status. */
int dynhcp_sched_is_used(const dynhc_sched *s, const char *name);
/* Uniform in [0, n). With the lock held. */
uint64_t dynhcp_sched_random_below(dynhc_sched *s, uint64_t n);
/* Runs the user data's destructor and frees ep; without the lock. */
void dynhcp_sched_free_endpoint(dynhc_endpoint *ep);
/* A reference to ep, registered; with the lock held. */
void dynhcp_endpoint_hold_locked(dynhc_endpoint *ep);
/* Drops a reference; the last one frees ep. Without the lock. */
void dynhcp_endpoint_release(dynhc_endpoint *ep);

/* The wakeup function, copied under the lock and called after it. */
typedef struct dynhcp_wakeup {
    dynhc_wakeup_fn fn;
    void *data;
} dynhcp_wakeup;

/* The wakeup to call once the lock is released: none on the thread that is
 * inside dynhc_sched_tick() for s (it recomputes its deadline anyway), one
 * on every other thread, callbacks that run there included. */
dynhcp_wakeup dynhcp_sched_wakeup_locked(const dynhc_sched *s);
void dynhcp_wakeup_call(dynhc_sched *s, dynhcp_wakeup w);

/* The scheduler's time: its clock, never below the latest now given to a
 * tick (time_floor). Calls the clock: without the lock. */
uint64_t dynhcp_sched_now(const dynhc_sched *s);

/* time + duration, or the end of time (DYNHC_NO_DEADLINE) when that would
 * pass it: times never wrap into the past. What is due at the end of time
 * is never due (a tick at UINT64_MAX does not fire it). */
static inline uint64_t dynhcp_later(uint64_t time, uint64_t duration)
{
    return duration > UINT64_MAX - time ? UINT64_MAX : time + duration;
}

/* later - earlier, or 0 when earlier is later: durations never wrap. */
static inline uint64_t dynhcp_elapsed(uint64_t later, uint64_t earlier)
{
    return later > earlier ? later - earlier : 0;
}


/* Next deadlines are rounded up to this grid, so that a loop wakes at most
 * once per millisecond however many endpoints there are: checks due within
 * the same millisecond go out in one tick. */
#define DYNHCP_SCHED_RESOLUTION_NS 1000000ull

/* Room for n entries in the tick's batch; 0, or -1 when out of memory
 * (the batch is then unchanged). With the lock held. Registration keeps
 * room for every endpoint and two more, so that a tick never allocates. */
int dynhcp_sched_reserve_batch_locked(dynhc_sched *s, uint32_t n);

/* Replaces the list of endpoints that make the overall status (takes
 * ownership of names, n unique non-empty strings; NULL/0: every endpoint). */
void dynhcp_sched_set_use_names(dynhc_sched *s, char **names, size_t n);

/* The earliest due time, DYNHC_NO_DEADLINE when none; with the lock held. */
uint64_t dynhcp_sched_next_deadline_locked(const dynhc_sched *s);

#endif
