/*
 * dynhc/sched.h: decides when each endpoint is sent its health-check
 * payload, judges the outcome and reports readiness (SPEC 3).
 *
 * The scheduler owns no thread. The caller drives time:
 * dynhc_sched_next_deadline() says when something is due (as a poll
 * timeout: dynhc_sched_timeout_ms()), dynhc_sched_tick(now) does it. Any
 * event loop can do that (see examples/), or dynhc_sched_start_thread()
 * runs a thread that does.
 *
 * Two modes: idle (default, Dynamo's canary) sends a check only after an
 * endpoint has seen no traffic for the interval; periodic sends one every
 * interval regardless of traffic.
 *
 * Thread safety: dynhc_endpoint_record_activity(), dynhc_endpoint_request_begin(),
 * dynhc_endpoint_request_end(), dynhc_endpoint_record_progress(), dynhc_sched_complete(),
 * dynhc_sched_add(), dynhc_sched_remove_endpoint(), dynhc_sched_find(),
 * dynhc_sched_is_ready(), dynhc_sched_set_process_ready(),
 * dynhc_sched_next_deadline(), dynhc_sched_timeout_ms(),
 * dynhc_sched_status_json(), dynhc_sched_metrics() and the dynhc_endpoint_*
 * functions may be called from any thread at any time, each safe against
 * every other one, removal included. What the scheduler does with an
 * endpoint on its own (a completion by check id, the tick sending its check,
 * a transition being announced, a report) is safe against its removal from
 * any thread at any time: the endpoint is kept until the last of these is
 * done. Ticking belongs to one thread at a time (the thread runner, when it
 * runs). dynhc_sched_free() is the one call that nothing may overlap.
 * Configuration is meant for start-up, from one thread; it is locked all
 * the same, and settings that other threads read are read consistently (a
 * change of the clock or the log sink may still reach a call already under
 * way with the old function: keep the old user data alive). Callbacks, the
 * clock included, are called without any lock held, so they may call back
 * into the scheduler. Reports are copied under the lock and written after
 * it: a large report does not hold up ticks and completions.
 *
 * Endpoint handles. A dynhc_endpoint is reference-counted, like a result:
 *   - a borrowed handle (the one dynhc_sched_add() gives, the ep of a
 *     callback) is valid until the endpoint is removed, by any thread or
 *     callback: use it only where nothing can remove the endpoint meanwhile
 *     (one thread adds, uses and removes it; or inside the callback);
 *   - a reference (from dynhc_sched_find(), or dynhc_endpoint_ref() on a
 *     handle known to be valid) keeps the handle valid until the caller
 *     releases it with dynhc_endpoint_release(), whatever happens to the
 *     endpoint meanwhile: removal, the scheduler being freed. Hand
 *     references to request threads.
 * Once removed, an endpoint stays removed (adding the same name again makes
 * a new endpoint, which dynhc_sched_find() then returns), and every call on
 * it is safe and does nothing: dynhc_endpoint_record_activity() is ignored,
 * dynhc_endpoint_is_ready() and dynhc_endpoint_is_registered() answer 0,
 * dynhc_sched_remove_endpoint() DYNHC_ERR_NOT_FOUND; dynhc_endpoint_name()
 * still gives its name. Its memory and user data are freed when the last
 * reference goes (the scheduler's own, dropped by removal, included).
 *
 * Time is a monotonic clock in nanoseconds (dynhc_now_ns() by default), and
 * it is one time source: the scheduler remembers the latest now given to
 * dynhc_sched_tick(), and a time it reads from the clock afterwards (a
 * completion, traffic, a report, a registration) is never taken below it.
 * A loop may so tick at the deadline it was given although the clock has
 * not quite reached it. Every duration (latency, idle time, uptime, age) is
 * clamped at zero: none is ever negative or wrapped.
 */
#ifndef DYNHC_SCHED_H
#define DYNHC_SCHED_H

#include <stdint.h>

#include "common.h"
#include "resolver.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dynhc_sched dynhc_sched;
typedef struct dynhc_endpoint dynhc_endpoint;

/* No deadline: nothing is scheduled (or nothing before the end of the
 * clock: a time that would pass UINT64_MAX stays there and never comes). */
#define DYNHC_NO_DEADLINE UINT64_MAX

typedef enum dynhc_mode {
    DYNHC_MODE_IDLE = 0,    /* a check only after the interval without traffic */
    DYNHC_MODE_PERIODIC = 1 /* a check every interval */
} dynhc_mode;

/* Which endpoints the status JSON names (dynhc_sched_set_status_list()). */
typedef enum dynhc_status_list {
    DYNHC_STATUS_LIST_ALL = 0,       /* every endpoint (default) */
    DYNHC_STATUS_LIST_NOT_READY = 1, /* the endpoints that are not ready */
    DYNHC_STATUS_LIST_NONE = 2       /* none: the counts alone */
} dynhc_status_list;

typedef enum dynhc_check_result {
    DYNHC_CHECK_SUCCESS = 0,
    DYNHC_CHECK_FAILURE = 1,
    DYNHC_CHECK_TIMEOUT = 2
} dynhc_check_result;

typedef enum dynhc_log_level {
    DYNHC_LOG_DEBUG = 0,
    DYNHC_LOG_INFO = 1,
    DYNHC_LOG_WARNING = 2,
    DYNHC_LOG_ERROR = 3
} dynhc_log_level;

/* One check to send, as the send callback sees it. The struct is valid
 * during the callback only (copy the id and times). What it points to (the
 * name, the text, the result) belongs to the endpoint: valid while the send
 * callback runs, even if another thread removes the endpoint meanwhile, and
 * then as long as the endpoint is registered; a send callback that finishes
 * the check later keeps them with a reference to the endpoint
 * (dynhc_endpoint_ref(ep), released when done). dynhc allocates the struct:
 * fields may be added at the end in later versions. */
typedef struct dynhc_check {
    uint64_t id;              /* pass to dynhc_sched_complete() */
    const char *endpoint;     /* the endpoint's name */
    const char *payload_text; /* compact JSON, shared by every endpoint that uses it */
    /* The result whose text is sent: the endpoint's payload, with its
     * provenance (dynhc_result_source(), _token_budget()...); a cJSON tree
     * of it is dynhc_result_payload(check->result) from <dynhc/cjson.h>. */
    const dynhc_result *result;
    uint64_t sent_ns;     /* when it was sent */
    uint64_t deadline_ns; /* when it times out */
} dynhc_check;

/*
 * Starts a check: send check->payload_text to the endpoint and, now or
 * later, from any thread, report the outcome with dynhc_sched_complete(s,
 * check->id, ...). Return 0 when the check was started; anything else counts
 * as a failed check at once. Called from the ticking thread. ep is borrowed
 * for the call (valid even if another thread removes it meanwhile; take a
 * reference with dynhc_endpoint_ref() to keep it longer).
 */
typedef int (*dynhc_send_fn)(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                             void *user_data);

/* Frees user data when its endpoint (or the scheduler) goes away: when
 * nothing uses the endpoint any more, from the thread that let go of it last
 * (the one that removed it or freed the scheduler, one still sending its
 * check or announcing its transition, or the one releasing the last
 * reference with dynhc_endpoint_release()). */
typedef void (*dynhc_destroy_fn)(void *user_data);

/* A readiness change: of an endpoint (ep and name set) or of the overall
 * status (ep NULL, name NULL). Called from the thread that caused it. ep and
 * name stay valid during the call, even when another thread (or this
 * callback) removes the endpoint meanwhile; dynhc_endpoint_ref(ep) keeps ep
 * longer. An overall change undone by another before it was announced (a
 * callback or the log sink removing an endpoint, say) is not called back:
 * the last overall callback always gives the status as it is. A change of
 * an endpoint removed before it was announced is still called back, as it
 * happened. */
typedef void (*dynhc_transition_fn)(dynhc_sched *s, dynhc_endpoint *ep, const char *name,
                                    int ready, void *user_data);

/* A log line (no trailing newline). Called from any thread. */
typedef void (*dynhc_log_fn)(dynhc_log_level level, const char *message, void *user_data);

/* A monotonic clock in nanoseconds. */
typedef uint64_t (*dynhc_clock_fn)(void *user_data);

/* Called, from any thread, when the next deadline may have moved earlier,
 * so that a sleeping event loop recomputes it (uv_async_send, a pipe...). */
typedef void (*dynhc_wakeup_fn)(dynhc_sched *s, void *user_data);

/* CLOCK_MONOTONIC in nanoseconds. */
DYNHC_API uint64_t dynhc_now_ns(void);

/*
 * A new scheduler: idle mode, interval 10 s, timeout 3 s, the not-ready
 * interval equal to the interval, no jitter, first checks spread over one
 * interval, 1 failure to turn not ready and 1 success to turn ready,
 * successful traffic marks an endpoint ready, checks enabled, starting status
 * not ready, the default log sink writing to stderr what is at DYN_LOG's
 * level or above (info when DYN_LOG is unset; read here, with getenv, once;
 * a bad value is a warning there, and info). NULL when out of memory.
 */
DYNHC_NODISCARD DYNHC_API dynhc_sched *dynhc_sched_new(void);

/*
 * Frees the scheduler: stops the thread runner, then removes every endpoint
 * and frees it with its user data (destructors run), except an endpoint the
 * caller still holds a reference to, which is freed when that is released
 * (its handle then answers as a removed endpoint's). NULL is a no-op. No
 * other call on the scheduler, or on its endpoints, may run meanwhile, and
 * none may be made on the scheduler afterwards. Not from inside a callback
 * (the call is ignored there and logged as an error).
 */
DYNHC_API void dynhc_sched_free(dynhc_sched *s);

/* Settings. Each returns DYNHC_OK or DYNHC_ERR_INVALID_ARG (and
 * dynhc_sched_set_use_endpoints() DYNHC_ERR_NOMEM too; the others never
 * allocate). They take effect from the next time an endpoint is scheduled. */
DYNHC_API int dynhc_sched_set_mode(dynhc_sched *s, dynhc_mode mode);
DYNHC_API int dynhc_sched_set_interval_ns(dynhc_sched *s, uint64_t ns);           /* > 0 */
DYNHC_API int dynhc_sched_set_not_ready_interval_ns(dynhc_sched *s, uint64_t ns); /* > 0 */
DYNHC_API int dynhc_sched_set_timeout_ns(dynhc_sched *s, uint64_t ns);            /* > 0 */
/* Each interval is drawn from [interval * (1 - jitter), interval * (1 + jitter)], 0 <= jitter < 1. */
DYNHC_API int dynhc_sched_set_jitter(dynhc_sched *s, double jitter);
/* An endpoint's first check comes at a random time within spread of its
 * registration (0: at once). */
DYNHC_API int dynhc_sched_set_spread_ns(dynhc_sched *s, uint64_t ns);
/* Consecutive failures to turn not ready, successes to turn ready (>= 1). */
DYNHC_API int dynhc_sched_set_thresholds(dynhc_sched *s, unsigned failures, unsigned successes);
/* The stall threshold: with requests in flight, time without progress
 * before an endpoint turns not ready as "stalled" (<= 24 h); 0 turns stall
 * detection off (the default). While it is on, the tick looks at every
 * endpoint at least once per threshold (see docs/scheduler.md). */
DYNHC_API int dynhc_sched_set_stall_ns(dynhc_sched *s, uint64_t ns);
/* Whether a successful request recorded as activity marks its endpoint ready. */
DYNHC_API int dynhc_sched_set_activity_marks_ready(dynhc_sched *s, int on);
/* Whether checks are sent at all (readiness then follows traffic only). */
DYNHC_API int dynhc_sched_set_enabled(dynhc_sched *s, int enabled);
/* The status of an endpoint before its first check, and of the process. */
DYNHC_API int dynhc_sched_set_starting_status(dynhc_sched *s, int ready);
/* The endpoints whose status makes the overall status (names copied);
 * n == 0: every endpoint. DYNHC_ERR_NOMEM: the list is unchanged. */
DYNHC_API int dynhc_sched_set_use_endpoints(dynhc_sched *s, const char *const *names, size_t n);
/* Which endpoints the status JSON names (not its verbose form, which names
 * every one): with thousands of endpoints a probe's answer stays small.
 * Other than DYNHC_STATUS_LIST_ALL the JSON also counts them. */
DYNHC_API int dynhc_sched_set_status_list(dynhc_sched *s, dynhc_status_list which);
/* The seed of the random numbers behind jitter and spread (tests). */
DYNHC_API int dynhc_sched_set_seed(dynhc_sched *s, uint64_t seed);
/* The clock (NULL: dynhc_now_ns()); a new time source, so the uptime starts
 * again from its current reading and the latest now of earlier ticks is
 * forgotten. Before the scheduler is used. */
DYNHC_API int dynhc_sched_set_clock(dynhc_sched *s, dynhc_clock_fn fn, void *user_data);
/* The log sink; fn NULL silences the log. The default sink (a new
 * scheduler's) writes one line per message to stderr: a message that is a
 * diagnostic in the format of SPEC 1.6 ("DYN_SYSTEM_PORT: warning: ...",
 * a bad setting read by dynhc_sched_load_env() or dynhc_server_load_env())
 * as it is, any other as "dynhc: LEVEL: MESSAGE". A sink set here receives
 * the same messages, without the prefix. */
DYNHC_API int dynhc_sched_set_log(dynhc_sched *s, dynhc_log_fn fn, void *user_data);
/* The least level the default sink writes: DYN_LOG (error, warn, info or
 * debug, any case) as it was when the scheduler was created, else
 * DYNHC_LOG_INFO. A sink set with dynhc_sched_set_log() receives every
 * level and filters as it likes. */
DYNHC_API int dynhc_sched_set_log_level(dynhc_sched *s, dynhc_log_level level);
/*
 * A rate limit on the lines that tell of one endpoint (its failed checks and
 * readiness changes: "endpoint 'NAME' is now not ready: ...", "... is now
 * ready" and the rest): at most burst of them per period_ns, so that a
 * fleet going down at once writes a few lines, not one per endpoint. Only
 * the lines the sink would write count: for the default sink those at its
 * level or above, for a sink of the host's every line. A period begins
 * with the first such line (after the previous period ended); the lines
 * beyond burst in it are counted and not written, and once it is over one
 * warning says how many: "12 endpoint messages held back in the last 10 s
 * (at most 20 per 10 s); ...". That line comes at the first tick after
 * the period ends, or with the next endpoint line, whichever is first (a
 * loop that sleeps until dynhc_sched_next_deadline() ticks at the next
 * check of some endpoint; with checks off it may come later). The overall
 * status lines, registration lines and warnings about settings are never
 * limited; a host's own endpoint lines are, through dynhc_sched_log_endpoint(). Times are the scheduler's clock. burst 0 turns the limit off
 * (period_ns is then ignored): the default, every line written. Setting
 * it ends the running period, writing its count when lines were held
 * back. Returns DYNHC_OK, or DYNHC_ERR_INVALID_ARG for s NULL, or for burst
 * > 0 with period_ns 0 or over 24 h. Any thread; never allocates.
 */
DYNHC_API int dynhc_sched_set_log_limit(dynhc_sched *s, unsigned burst, uint64_t period_ns);
/* Writes message through the log sink at level, as the scheduler's own
 * messages go (the default sink honours the log level, DYN_LOG): for a
 * host whose messages belong with the scheduler's (dynhc watch logs its
 * target reloads so). NULL s or message, or a level out of range, is
 * ignored. Any thread; never allocates. */
DYNHC_API void dynhc_sched_log(const dynhc_sched *s, dynhc_log_level level, const char *message);
/* The same for a line about one endpoint that the host writes itself (dynhc
 * watch says so when a target's metrics cannot be read): it counts against
 * the log limit of dynhc_sched_set_log_limit() like the scheduler's own
 * endpoint lines, and is held back beyond it. Any thread; never allocates. */
DYNHC_API void dynhc_sched_log_endpoint(dynhc_sched *s, dynhc_log_level level,
                                        const char *message);
DYNHC_API int dynhc_sched_set_transition_callback(dynhc_sched *s, dynhc_transition_fn fn,
                                                  void *user_data);
DYNHC_API int dynhc_sched_set_wakeup(dynhc_sched *s, dynhc_wakeup_fn fn, void *user_data);

/*
 * Takes the scalar settings of a resolution (enabled, interval, timeout):
 * they already follow runtime > environment > config > default.
 */
DYNHC_API int dynhc_sched_apply_result(dynhc_sched *s, const dynhc_result *settings);

/*
 * Reads DYN_SYSTEM_STARTING_HEALTH_STATUS, DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS
 * and DYN_HEALTH_CHECK_STALL_TIMEOUT (a duration, SPEC 1.2) through fn
 * (NULL: getenv). Bad values are logged as warnings in the
 * format of SPEC 1.6 and ignored. Returns DYNHC_OK, or DYNHC_ERR_NOMEM, in
 * which case nothing was changed or logged (calling again logs each warning
 * once).
 */
DYNHC_API int dynhc_sched_load_env(dynhc_sched *s, dynhc_getenv_fn fn, void *user_data);

/* A metric label of an endpoint ({"model", "gpt2"} in the guide). */
typedef struct dynhc_label {
    const char *name;
    const char *value;
} dynhc_label;

/*
 * Why name cannot be an endpoint's extra metric label (see
 * dynhc_endpoint_options.labels): a static English reason such as
 * "dynhc's own label"; NULL when it can (also the answer to give a user
 * before dynhc_sched_add() refuses the whole endpoint). NULL name gives a
 * reason. Any thread; never allocates.
 */
DYNHC_API const char *dynhc_label_name_refusal(const char *name);

/*
 * What dynhc_sched_add() registers. The struct can grow: initialise it with
 * DYNHC_ENDPOINT_OPTIONS_INIT (size set, every field NULL or 0), then set
 * the fields wanted; the rules of dynhc_config about size apply.
 *     dynhc_endpoint_options o = DYNHC_ENDPOINT_OPTIONS_INIT;
 *     o.name = "generate";
 *     o.payload = result;
 *     o.send = send_check;
 */
typedef struct dynhc_endpoint_options {
    size_t size; /* sizeof(dynhc_endpoint_options), as the initialiser sets it */
    /* Required: the endpoint's name, unique in the scheduler, not empty;
     * copied. The metrics label it dynhc_endpoint="NAME". */
    const char *name;
    /* Required: a resolved result with a payload (dynhc_resolver_resolve()
     * returned DYNHC_OK) whose text every check sends. The scheduler keeps a
     * reference (dynhc_result_ref()), so the caller may free its own. */
    const dynhc_result *payload;
    /* label_count extra metric labels (labels may be NULL when it is 0),
     * copied. A name must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*,
     * not "__..."), neither dynhc's own (dynhc_endpoint, result, le) nor one
     * that a scraper attaches to a target (job, instance, endpoint,
     * namespace, pod, service, container, node); a name given twice keeps
     * its first value. */
    const dynhc_label *labels;
    size_t label_count;
    /* Required: starts each check (dynhc_send_fn). */
    dynhc_send_fn send;
    /* Given to send; freed with destroy (may be NULL) when the endpoint goes
     * away (see dynhc_destroy_fn). */
    void *user_data;
    dynhc_destroy_fn destroy;
} dynhc_endpoint_options;

/* A dynhc_endpoint_options with its size set and every field unset. */
#ifdef __cplusplus
#define DYNHC_ENDPOINT_OPTIONS_INIT {sizeof(dynhc_endpoint_options), 0, 0, 0, 0, 0, 0, 0}
#else
#define DYNHC_ENDPOINT_OPTIONS_INIT {.size = sizeof(dynhc_endpoint_options)}
#endif

/*
 * Registers an endpoint as options describe it (every string and label is
 * copied, the payload referenced: options need not outlive the call). Logs
 * "Health check payload for endpoint 'NAME' from SOURCE: JSON" at info
 * level. Its first check comes within the spread (dynhc_sched_set_spread_ns()).
 * Returns:
 *   DYNHC_OK              registered; *out (when out is not NULL) is the
 *                         endpoint's handle, borrowed: valid until the
 *                         endpoint is removed (see "Endpoint handles"
 *                         above; for a reference, dynhc_endpoint_ref() it
 *                         before any other thread could remove it, or
 *                         dynhc_sched_find() it by name);
 *   DYNHC_ERR_INVALID_ARG s or options NULL, options' size not valid (see
 *                         dynhc_config), a required field missing, an empty
 *                         name or one already registered, a result without
 *                         payload, labels NULL with label_count > 0, a label
 *                         name or value NULL, a refused label name;
 *   DYNHC_ERR_NOMEM       out of memory.
 * On failure *out is NULL, nothing is kept and destroy is not called. Any
 * thread.
 */
DYNHC_NODISCARD DYNHC_API int dynhc_sched_add(dynhc_sched *s, const dynhc_endpoint_options *options,
                                              dynhc_endpoint **out);

/*
 * Removes an endpoint, from any thread, also from inside any callback and
 * while a check is in flight (its completion is then ignored, and a check
 * not sent yet is not sent). A borrowed handle is invalid afterwards; a
 * reference stays valid (see "Endpoint handles" above). Its memory and user
 * data are freed when the last reference goes: at once, or by the caller's
 * dynhc_endpoint_release(), or, when another thread is still sending its
 * check or announcing its transition, by that thread when it is done (see
 * dynhc_destroy_fn). Returns DYNHC_OK; DYNHC_ERR_NOT_FOUND when it was
 * removed already (a reference's endpoint that another thread removed);
 * DYNHC_ERR_INVALID_ARG for s or ep NULL, or an endpoint of another
 * scheduler.
 */
DYNHC_API int dynhc_sched_remove_endpoint(dynhc_sched *s, dynhc_endpoint *ep);

/*
 * The endpoint registered under name, as a new reference (release it with
 * dynhc_endpoint_release()), or NULL when none is (also for s or name
 * NULL). Any thread; never allocates. The way to get a handle that another
 * thread may use while the endpoint could be removed.
 */
DYNHC_NODISCARD DYNHC_API dynhc_endpoint *dynhc_sched_find(dynhc_sched *s, const char *name);

/*
 * Takes one more reference to an endpoint and returns ep (NULL gives NULL).
 * The caller must hold a reference already, or a borrowed handle that no
 * other thread can invalidate meanwhile (right after dynhc_sched_add() on
 * the thread that alone removes it; inside a callback for ep). Any thread;
 * never allocates.
 */
DYNHC_API dynhc_endpoint *dynhc_endpoint_ref(dynhc_endpoint *ep);

/*
 * Releases one reference taken with dynhc_sched_find() or
 * dynhc_endpoint_ref(); ep must not be used afterwards unless the caller
 * holds another. The last reference of a removed endpoint frees it and runs
 * its destroy function, on this thread. NULL is a no-op. Any thread, also
 * after dynhc_sched_free() (a reference outlives its scheduler). Never
 * release a borrowed handle: the scheduler's own reference is dropped by
 * dynhc_sched_remove_endpoint() alone.
 */
DYNHC_API void dynhc_endpoint_release(dynhc_endpoint *ep);

/* The endpoint's name, borrowed: valid as long as the handle is, removal
 * included. NULL for ep NULL. Any thread. */
DYNHC_API const char *dynhc_endpoint_name(const dynhc_endpoint *ep);
/* 1 when the endpoint is ready; 0 when not, when removed, or for ep NULL.
 * Any thread, lock-free. */
DYNHC_API int dynhc_endpoint_is_ready(const dynhc_endpoint *ep);
/* 1 while the endpoint is registered; 0 once it is removed (a thread
 * holding a reference then calls dynhc_sched_find() for the endpoint
 * registered under that name now, if any), or for ep NULL. Any thread,
 * lock-free. */
DYNHC_API int dynhc_endpoint_is_registered(const dynhc_endpoint *ep);

/*
 * Real traffic reached the endpoint: resets its idle timer and, when ok and
 * the option is on, marks it ready; when ok, it is also the endpoint's last
 * success in the metrics, and progress (see below: it makes a stalled
 * endpoint ready). Ignored for a removed endpoint (and ep NULL). Any
 * thread, lock-free unless the readiness changes. Never allocates.
 */
DYNHC_API void dynhc_endpoint_record_activity(dynhc_endpoint *ep, int ok);

/*
 * Forward progress (SPEC 3, docs/scheduler.md "Forward progress"): the
 * runtime reports each request's start and end and each sign of progress
 * (a streamed token, a finished batch step), so that a busy endpoint is
 * judged by its progress rather than by a canary that would queue behind
 * its requests. Any thread; lock-free and never allocating on the hot path
 * (a lock is taken only when the call changes the endpoint's readiness).
 * Ignored for a removed endpoint (and ep NULL): a request thread holds a
 * reference (dynhc_sched_find(), dynhc_endpoint_ref()) for as long as it
 * may call these.
 *
 * With the stall threshold off (the default) they are traffic and nothing
 * more: each resets the idle timer, as dynhc_endpoint_record_activity()
 * does, and the checks go on as without them. With it on
 * (dynhc_sched_set_stall_ns()), an endpoint with requests in flight is sent
 * no check: it stays ready while it shows progress within the threshold,
 * and turns not ready with the reason "stalled" once it has shown none for
 * the threshold (counted in dynhc_endpoint_stalls_total); its next progress
 * makes it ready again. A check that times out after the endpoint showed
 * progress is not counted against it. With the default clock, traffic is
 * timed with CLOCK_MONOTONIC_COARSE (the same clock at the kernel tick's
 * resolution, a few milliseconds), which is cheaper to read per token.
 */

/* A request started: one more in flight. It is traffic for the idle timer;
 * when none was in flight, the stall threshold counts from now (a request
 * that begins is not yet progress: a wedged engine whose server still
 * accepts requests must not look alive). */
DYNHC_API void dynhc_endpoint_request_begin(dynhc_endpoint *ep);

/* A request ended: one fewer in flight (never below zero: an end without
 * its begin is ignored as far as the count goes). ok: it succeeded, which
 * is progress and does what dynhc_endpoint_record_activity(ep, 1) does;
 * else it does what dynhc_endpoint_record_activity(ep, 0) does (traffic,
 * not progress: a server that times out the requests of a hung engine
 * ends them with ok == 0). */
DYNHC_API void dynhc_endpoint_request_end(dynhc_endpoint *ep, int ok);

/* The endpoint made progress (a token streamed, a step done): resets the
 * stall timer, and makes a stalled endpoint ready again (as successful
 * traffic does any not-ready endpoint when dynhc_sched_set_activity_marks_ready()
 * is on). */
DYNHC_API void dynhc_endpoint_record_progress(dynhc_endpoint *ep);

/*
 * Reports a check's outcome, from any thread, once. error (may be NULL) is a
 * short text kept as the endpoint's last error: copied for a failure or a
 * timeout, ignored for a success. A success or failure after the check's
 * deadline (whether or not a tick has timed it out yet), a completion after
 * the tick timed it out, and one for an id the endpoint never issued or for
 * a removed endpoint are counted as late (or as unknown, for an id no
 * endpoint owns now) and otherwise ignored: DYNHC_ERR_NOT_FOUND. A
 * DYNHC_CHECK_TIMEOUT after the deadline but before a tick is taken, with
 * its error as the reason, as taking exactly the timeout (an event loop
 * that times out its own requests). DYNHC_ERR_NOMEM when error cannot be
 * copied: nothing was done and the check is still in flight, so the same
 * call can be made again (left alone, the check times out). A success, or
 * an error of NULL, never allocates.
 */
DYNHC_API int dynhc_sched_complete(dynhc_sched *s, uint64_t check_id, dynhc_check_result result,
                                   const char *error);

/* When dynhc_sched_tick() should next be called, or DYNHC_NO_DEADLINE
 * (also for s NULL). Rounded up to the next whole millisecond of the clock,
 * so that checks due within one millisecond go out in one tick: a loop wakes
 * at most a thousand times a second, and a check is at most a millisecond
 * late. Any thread; the answer may be out of date as soon as it is given
 * (see dynhc_sched_set_wakeup()). */
DYNHC_API uint64_t dynhc_sched_next_deadline(const dynhc_sched *s);

/*
 * The wait before the next call of dynhc_sched_tick(), for a poll(),
 * epoll_wait() or uv_timer_start() timeout, as curl_multi_timeout() gives
 * it: -1 when nothing is scheduled (DYNHC_NO_DEADLINE, or s NULL), 0 when
 * something is due at now (the deadline is now or before it), else the
 * milliseconds from now to dynhc_sched_next_deadline(), rounded up (a loop
 * that sleeps that long never wakes before the deadline to find nothing
 * due), at most INT_MAX. now is a time of the scheduler's clock, as given
 * to dynhc_sched_tick(). Any thread; never allocates.
 */
DYNHC_API int dynhc_sched_timeout_ms(const dynhc_sched *s, uint64_t now);

/*
 * Sends the checks that are due at now and times out those whose time is up.
 * Returns how many checks it sent, or DYNHC_ERR_BUSY when called from inside
 * one of this scheduler's callbacks. Never allocates (registration keeps
 * room for what a tick does), so it cannot fail for lack of memory: what is
 * due is done in this one call.
 */
DYNHC_API int dynhc_sched_tick(dynhc_sched *s, uint64_t now);

/* The overall status: 1 ready, 0 not ready (also for s NULL). Any thread,
 * lock-free. */
DYNHC_API int dynhc_sched_is_ready(const dynhc_sched *s);

/* The process status used when no endpoint makes the overall status. */
DYNHC_API int dynhc_sched_set_process_ready(dynhc_sched *s, int ready);

/*
 * The status JSON of Dynamo's /health:
 * {"status":"ready","uptime":{"secs":N,"nanos":N},"endpoints":{"generate":"ready"}};
 * "endpoints" names those that dynhc_sched_set_status_list() asks for, and
 * when that is not all of them "endpoint_counts":{"ready":N,"notready":N}
 * follows it; verbose names every endpoint and adds "checks" with per
 * endpoint the last check's age, latency and result, consecutive failures
 * and last error, and its requests in flight, the age of its last progress
 * and whether it is stalled. Free with dynhc_free().
 * NULL when out of memory, never a text cut short. Any thread; one
 * consistent snapshot, taken under the scheduler's lock and written out
 * after it (reports run one at a time).
 */
DYNHC_NODISCARD DYNHC_API char *dynhc_sched_status_json(const dynhc_sched *s, int verbose);

/* The Prometheus text exposition of every metric (docs/metrics.md): per
 * endpoint labelled dynhc_endpoint="NAME" and its extra labels. Free with
 * dynhc_free(). NULL when out of memory, never a text cut short. Any
 * thread; a snapshot like the status JSON's. Timestamps are Unix times,
 * from the clock's times through the wall clock's offset read when the
 * clock was set (at creation). */
DYNHC_NODISCARD DYNHC_API char *dynhc_sched_metrics(const dynhc_sched *s);

/*
 * Runs a thread that ticks the scheduler, sleeping until the next deadline
 * or a wakeup (no polling). Replaces any wakeup function set before.
 * Returns DYNHC_OK; DYNHC_ERR_INVALID_ARG (s NULL); DYNHC_ERR_BUSY when it
 * runs already; DYNHC_ERR_SYSTEM when the thread cannot start (the C
 * library's own allocations for a thread failing included), with the
 * error number in *sys_errno when sys_errno is not NULL (errno itself is
 * set too, but a log callback or the caller's own calls may change it
 * before it is read). sys_errno is left alone on every other return.
 * dynhc allocates nothing for it, and the thread's ticks never allocate: it
 * runs on when memory runs out. A dropped result is a bug (nothing would
 * tick): hence DYNHC_NODISCARD.
 */
DYNHC_NODISCARD DYNHC_API int dynhc_sched_start_thread(dynhc_sched *s, int *sys_errno);
/* Stops and joins the thread runner; DYNHC_OK also when none runs. Not from
 * the runner's own callbacks (DYNHC_ERR_BUSY). */
DYNHC_API int dynhc_sched_stop_thread(dynhc_sched *s);

#ifdef __cplusplus
}
#endif

#endif
