/* sched_report.c: the scheduler's reports (SPEC 3): the status JSON of
 * Dynamo's /health and the Prometheus text exposition (format 0.0.4).
 *
 * A report is taken in two steps. Under the scheduler's lock, a snapshot
 * copies what it shows (numbers, names, labels, errors) into a compact
 * array and one block of text: a memcpy per string, no formatting, no
 * allocation. The lock is then released and the text is written from the
 * snapshot, so a scrape of a large fleet never holds up ticks and
 * completions while it escapes and prints. The snapshot buffers are kept
 * for the next report (grown outside the lock when the fleet has grown);
 * report_lock lets one report at a time use them.
 *
 * Both formats are written by hand into one growing buffer: the shapes are
 * fixed, and a tree would cost an allocation per value. Every number comes
 * from an integer, so nothing depends on the host's locale: fractions of a
 * second are printed as exact decimals of nanosecond counts. Text that is
 * not valid UTF-8 (endpoint names and errors are arbitrary bytes) has each
 * bad byte replaced by U+FFFD, because both formats must be UTF-8. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json_write.h"
#include "sched_internal.h"
#include "strbuf.h"
#include "text.h"
#include "dynhc/version.h"

/* How an escaper spells one ASCII byte: NULL when it stays as it is. */
typedef const char *(*escape_fn)(unsigned char c, char scratch[8]);

/* Copies s, spelling ASCII bytes through escape and replacing each byte
 * that does not start a well-formed UTF-8 sequence by replacement. Runs of
 * bytes that stay as they are go out in one write. */
static void out_text(dynhcp_buf *out, const char *s, escape_fn escape, const char *replacement)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);
    size_t run = 0;
    while (run < left) {
        const char *spelled;
        size_t step;
        char scratch[8];
        if (p[run] < 0x80) {
            spelled = escape(p[run], scratch);
            step = 1;
        } else {
            step = dynhcp_utf8_sequence_length(p + run, left - run);
            spelled = step == 0 ? replacement : NULL;
        }
        if (spelled == NULL) {
            run += step;
            continue;
        }
        dynhcp_buf_write(out, (const char *)p, run);
        dynhcp_buf_str(out, spelled);
        p += run + 1;
        left -= run + 1;
        run = 0;
    }
    dynhcp_buf_write(out, (const char *)p, run);
}

/* Exposition format 0.0.4: a label value escapes backslash, quote and line
 * feed; everything else is kept. */
static const char *label_escape(unsigned char c, char scratch[8])
{
    (void)scratch;
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\n':
        return "\\n";
    default:
        return NULL;
    }
}

static void out_json_string(dynhcp_buf *out, const char *s)
{
    dynhcp_buf_char(out, '"');
    out_text(out, s, dynhcp_json_escape, "\\ufffd");
    dynhcp_buf_char(out, '"');
}

static const char *const result_names[3] = {"success", "failure", "timeout"};

/* ---- the snapshot ------------------------------------------------------------ */

#define NO_TEXT SIZE_MAX

/* One endpoint as a report shows it, copied under the lock. Its strings are
 * offsets into the snapshot's text, each NUL-terminated. */
typedef struct report_ep {
    size_t name;
    size_t labels; /* label_pairs name/value pairs, one string after the other */
    size_t error;  /* NO_TEXT: none */
    uint64_t last_check_ns; /* meaningful once checked */
    uint64_t last_latency_ns;
    uint64_t latency_sum_ns;
    uint64_t last_success_ns; /* 0: never */
    uint64_t last_progress_ns; /* 0: never */
    uint64_t last_change_ns;
    uint64_t tokens;
    uint64_t requests; /* in flight */
    uint32_t label_pairs;
    uint32_t checks[3];
    uint32_t late;
    uint32_t transitions;
    uint32_t consecutive_failures;
    uint32_t stalls;
    uint8_t ready;
    uint8_t in_flight;
    uint8_t last_result;
    uint8_t stalled;
} report_ep;

/* Whether a check of r has completed: a clock may well say 0 then, so the
 * time is no marker. */
static int ever_checked(const report_ep *r)
{
    return r->checks[0] + r->checks[1] + r->checks[2] > 0;
}

/* The scheduler's own numbers, copied with the endpoints. */
typedef struct report {
    const report_ep *eps;
    const char *text;
    size_t count;
    uint64_t now;
    uint64_t uptime_ns;
    uint64_t created_ns;      /* the clock's time ... */
    uint64_t created_wall_ns; /* ... and the Unix time then */
    uint64_t process_start_wall_ns;
    uint64_t in_flight;
    uint64_t overall_transitions;
    uint64_t late_unknown;
    uint64_t latency_buckets[DYNHCP_LATENCY_BUCKETS + 1];
    uint64_t latency_sum_s;
    uint64_t latency_sum_ns; /* < 1e9 */
    int overall_ready;
    dynhc_status_list status_list;
} report;

/* What a report needs beyond names and numbers. */
enum { WANT_LABELS = 1, WANT_ERRORS = 2 };

/* Grows *buf to at least need bytes, with room to spare so that a growing
 * fleet does not make every report grow it again. -1 when out of memory
 * (*buf is then unchanged). */
static int reserve_buffer(void **buf, size_t *bytes, size_t need)
{
    if (need <= *bytes) {
        return 0;
    }
    if (need > SIZE_MAX / 2) {
        return -1;
    }
    size_t capacity = need + need / 4 + 256;
    void *grown = dynhcp_realloc(*buf, capacity);
    if (grown == NULL) {
        return -1;
    }
    *buf = grown;
    *bytes = capacity;
    return 0;
}

/* Copies text into the snapshot's text at *used when it fits, and counts
 * its bytes either way (a snapshot that does not fit is taken again). */
static size_t copy_text(const dynhc_sched *s, size_t *used, const char *text, size_t bytes)
{
    size_t at = *used;
    if (at <= s->report_text_bytes && bytes <= s->report_text_bytes - at) {
        memcpy(s->report_text + at, text, bytes);
    }
    *used = at + bytes;
    return at;
}

/* The bytes of a label block's strings: they follow one another. */
static size_t label_bytes(const char *const *labels, uint32_t *pairs)
{
    size_t n = 0;
    while (labels[n] != NULL) {
        n++;
    }
    *pairs = (uint32_t)(n / 2);
    return (size_t)(labels[n - 1] - labels[0]) + strlen(labels[n - 1]) + 1;
}

/* Fills r from an endpoint; with the lock held. */
static void copy_endpoint(const dynhc_sched *s, const dynhc_endpoint *ep, unsigned want,
                          size_t *used, report_ep *r)
{
    r->name = copy_text(s, used, ep->name, strlen(ep->name) + 1);
    r->label_pairs = 0;
    r->labels = NO_TEXT;
    if ((want & WANT_LABELS) && ep->labels != NULL) {
        size_t bytes = label_bytes(ep->labels, &r->label_pairs);
        r->labels = copy_text(s, used, ep->labels[0], bytes);
    }
    r->error = NO_TEXT;
    if ((want & WANT_ERRORS) && ep->last_error != NULL) {
        r->error = copy_text(s, used, ep->last_error, strlen(ep->last_error) + 1);
    }
    r->last_check_ns = ep->last_check_ns;
    r->last_latency_ns = ep->last_latency_ns;
    r->latency_sum_ns = ep->latency_sum_ns;
    /* It last worked at its last successful check or its last progress,
     * successful traffic included. */
    uint64_t success = atomic_load_explicit(&ep->last_success_ns, memory_order_relaxed);
    uint64_t progress = atomic_load_explicit(&ep->traffic.last_progress_ns, memory_order_relaxed);
    r->last_success_ns = success > progress ? success : progress;
    r->last_progress_ns = progress;
    r->requests = atomic_load_explicit(&ep->traffic.requests, memory_order_relaxed);
    r->stalls = ep->stalls;
    r->stalled = atomic_load_explicit(&ep->stalled, memory_order_relaxed) != 0;
    r->last_change_ns = ep->last_change_ns;
    uint64_t sent = (uint64_t)ep->checks[0] + ep->checks[1] + ep->checks[2] + ep->in_flight;
    r->tokens = sent * (uint64_t)dynhc_result_token_budget(ep->payload);
    memcpy(r->checks, ep->checks, sizeof(r->checks));
    r->late = ep->late;
    r->transitions = ep->transitions;
    r->consecutive_failures = ep->consecutive_failures;
    r->ready = atomic_load(&ep->ready) != 0;
    r->in_flight = ep->in_flight;
    r->last_result = ep->last_result;
}

/* Takes the snapshot of a report read from the clock at now; with
 * report_lock held, which makes the buffers this report's. When a buffer is
 * too small, the lock is released, the buffer grown and the snapshot taken
 * again. 0, or -1 when out of memory. */
static int take_snapshot(dynhc_sched *s, uint64_t now, unsigned want, report *out)
{
    size_t eps_needed = 0, text_needed = 0;
    for (;;) {
        void *eps = s->report_eps, *text = s->report_text;
        int failed = reserve_buffer(&eps, &s->report_eps_bytes, eps_needed) != 0;
        s->report_eps = eps;
        failed = failed || reserve_buffer(&text, &s->report_text_bytes, text_needed) != 0;
        s->report_text = text;
        if (failed) {
            return -1;
        }
        pthread_mutex_lock(&s->lock);
        if (s->endpoint_count > s->report_eps_bytes / sizeof(report_ep)) {
            eps_needed = s->endpoint_count * sizeof(report_ep);
            pthread_mutex_unlock(&s->lock);
            continue;
        }
        report_ep *r = s->report_eps;
        size_t used = 0, count = 0;
        for (uint32_t i = 0; i < s->slot_count; i++) {
            const dynhc_endpoint *ep = s->slots[i];
            if (ep != NULL && !atomic_load(&ep->removed)) {
                copy_endpoint(s, ep, want, &used, &r[count++]);
            }
        }
        if (used > s->report_text_bytes) {
            text_needed = used;
            pthread_mutex_unlock(&s->lock);
            continue;
        }
        /* A tick may have raised the time floor since the clock was read. */
        uint64_t floor = atomic_load(&s->time_floor);
        out->now = now > floor ? now : floor;
        out->uptime_ns = dynhcp_elapsed(out->now, s->created_ns);
        out->created_ns = s->created_ns;
        out->created_wall_ns = s->created_wall_ns;
        out->process_start_wall_ns = s->process_start_wall_ns;
        out->overall_ready = atomic_load(&s->overall_ready) != 0;
        out->status_list = s->status_list;
        out->in_flight = s->in_flight;
        out->overall_transitions = s->overall_transitions;
        out->late_unknown = s->late_unknown;
        memcpy(out->latency_buckets, s->latency_buckets, sizeof(out->latency_buckets));
        out->latency_sum_s = s->latency_sum_s;
        out->latency_sum_ns = s->latency_sum_ns;
        pthread_mutex_unlock(&s->lock);
        out->eps = r;
        out->text = s->report_text;
        out->count = count;
        return 0;
    }
}

/* ---- the status JSON ----------------------------------------------------------- */

static void out_check_json(dynhcp_buf *out, const report *rep, const report_ep *r)
{
    int checked = ever_checked(r);
    dynhcp_buf_str(out, "{\"last_check_secs_ago\":");
    if (checked) {
        dynhcp_buf_decimal(out, dynhcp_elapsed(rep->now, r->last_check_ns), 9);
    } else {
        dynhcp_buf_str(out, "null");
    }
    dynhcp_buf_str(out, ",\"latency_ms\":");
    if (checked) {
        dynhcp_buf_decimal(out, r->last_latency_ns, 6);
    } else {
        dynhcp_buf_str(out, "null");
    }
    dynhcp_buf_str(out, ",\"result\":");
    if (checked) {
        out_json_string(out, result_names[r->last_result]);
    } else {
        dynhcp_buf_str(out, "null");
    }
    dynhcp_buf_str(out, ",\"consecutive_failures\":");
    dynhcp_buf_u64(out, r->consecutive_failures);
    dynhcp_buf_str(out, ",\"last_error\":");
    if (r->error != NO_TEXT) {
        out_json_string(out, rep->text + r->error);
    } else {
        dynhcp_buf_str(out, "null");
    }
    dynhcp_buf_str(out, r->in_flight ? ",\"in_flight\":true" : ",\"in_flight\":false");
    dynhcp_buf_str(out, ",\"requests_in_flight\":");
    dynhcp_buf_u64(out, r->requests);
    dynhcp_buf_str(out, ",\"last_progress_secs_ago\":");
    if (r->last_progress_ns != 0) {
        dynhcp_buf_decimal(out, dynhcp_elapsed(rep->now, r->last_progress_ns), 9);
    } else {
        dynhcp_buf_str(out, "null");
    }
    dynhcp_buf_str(out, r->stalled ? ",\"stalled\":true}" : ",\"stalled\":false}");
}

static void out_status(dynhcp_buf *out, const report *rep, unsigned want)
{
    dynhcp_buf_str(out, rep->overall_ready ? "{\"status\":\"ready\"" : "{\"status\":\"notready\"");
    dynhcp_buf_str(out, ",\"uptime\":{\"secs\":");
    dynhcp_buf_u64(out, rep->uptime_ns / 1000000000u);
    dynhcp_buf_str(out, ",\"nanos\":");
    dynhcp_buf_u64(out, rep->uptime_ns % 1000000000u);
    dynhcp_buf_str(out, "},\"endpoints\":{");
    /* The verbose form names every endpoint, so its checks match. */
    dynhc_status_list list = want & WANT_ERRORS ? DYNHC_STATUS_LIST_ALL : rep->status_list;
    uint64_t ready = 0;
    int first = 1;
    for (size_t i = 0; i < rep->count; i++) {
        const report_ep *r = &rep->eps[i];
        ready += r->ready;
        if (list == DYNHC_STATUS_LIST_NONE || (list == DYNHC_STATUS_LIST_NOT_READY && r->ready)) {
            continue;
        }
        if (!first) {
            dynhcp_buf_char(out, ',');
        }
        first = 0;
        out_json_string(out, rep->text + r->name);
        dynhcp_buf_str(out, r->ready ? ":\"ready\"" : ":\"notready\"");
    }
    dynhcp_buf_char(out, '}');
    if (list != DYNHC_STATUS_LIST_ALL) {
        dynhcp_buf_str(out, ",\"endpoint_counts\":{\"ready\":");
        dynhcp_buf_u64(out, ready);
        dynhcp_buf_str(out, ",\"notready\":");
        dynhcp_buf_u64(out, rep->count - ready);
        dynhcp_buf_char(out, '}');
    }
    if (want & WANT_ERRORS) { /* verbose */
        dynhcp_buf_str(out, ",\"checks\":{");
        for (size_t i = 0; i < rep->count; i++) {
            const report_ep *r = &rep->eps[i];
            if (i > 0) {
                dynhcp_buf_char(out, ',');
            }
            out_json_string(out, rep->text + r->name);
            dynhcp_buf_char(out, ':');
            out_check_json(out, rep, r);
        }
        dynhcp_buf_char(out, '}');
    }
    dynhcp_buf_char(out, '}');
}

/* A report reads the scheduler; what it changes is its locks and the
 * buffers that reports reuse (a cache, invisible to the caller). */
static dynhc_sched *reporting(const dynhc_sched *s)
{
    return (dynhc_sched *)(uintptr_t)s;
}

/* A report: a snapshot of what want names, taken under the lock, then
 * written by write outside it (the status JSON is verbose when it asks for
 * the errors). One report at a time: they share the snapshot's buffers. */
static char *write_report(const dynhc_sched *cs, unsigned want,
                          void (*write)(dynhcp_buf *out, const report *rep, unsigned want))
{
    if (cs == NULL) {
        return NULL;
    }
    dynhc_sched *s = reporting(cs);
    /* The clock is the caller's function: read it before taking a lock. */
    uint64_t now = dynhcp_sched_now(s);
    dynhcp_buf out = {0};
    report rep;
    pthread_mutex_lock(&s->report_lock);
    if (take_snapshot(s, now, want, &rep) != 0) {
        out.failed = 1;
    } else {
        write(&out, &rep, want);
    }
    pthread_mutex_unlock(&s->report_lock);
    return dynhcp_buf_finish(&out);
}

char *dynhc_sched_status_json(const dynhc_sched *cs, int verbose)
{
    return write_report(cs, verbose ? WANT_ERRORS : 0, out_status);
}

/* ---- the Prometheus text ------------------------------------------------------- */

static void out_family(dynhcp_buf *out, const char *name, const char *type, const char *help)
{
    dynhcp_buf_str(out, "# HELP ");
    dynhcp_buf_str(out, name);
    dynhcp_buf_char(out, ' ');
    dynhcp_buf_str(out, help);
    dynhcp_buf_str(out, "\n# TYPE ");
    dynhcp_buf_str(out, name);
    dynhcp_buf_char(out, ' ');
    dynhcp_buf_str(out, type);
    dynhcp_buf_char(out, '\n');
}

/* Starts a sample of an endpoint: NAME{dynhc_endpoint="...",EXTRA="..."
 * with the brace left open for the family's own label. The label is not
 * "endpoint": prometheus-operator gives every sample of a target an
 * "endpoint" label of its own (the port's name). Registration kept only the
 * labels that can be written. */
static void out_series(dynhcp_buf *out, const char *name, const report *rep, const report_ep *r)
{
    dynhcp_buf_str(out, name);
    dynhcp_buf_str(out, "{dynhc_endpoint=\"");
    out_text(out, rep->text + r->name, label_escape, "\xEF\xBF\xBD");
    dynhcp_buf_char(out, '"');
    const char *label = r->labels != NO_TEXT ? rep->text + r->labels : NULL;
    for (uint32_t i = 0; i < r->label_pairs; i++) {
        const char *value = label + strlen(label) + 1;
        dynhcp_buf_char(out, ',');
        dynhcp_buf_str(out, label);
        dynhcp_buf_str(out, "=\"");
        out_text(out, value, label_escape, "\xEF\xBF\xBD");
        dynhcp_buf_char(out, '"');
        label = value + strlen(value) + 1;
    }
}

static void out_value(dynhcp_buf *out, uint64_t value)
{
    dynhcp_buf_str(out, "} ");
    dynhcp_buf_u64(out, value);
    dynhcp_buf_char(out, '\n');
}

static void out_unlabelled(dynhcp_buf *out, const char *name, const char *type, const char *help,
                           uint64_t value)
{
    out_family(out, name, type, help);
    dynhcp_buf_str(out, name);
    dynhcp_buf_char(out, ' ');
    dynhcp_buf_u64(out, value);
    dynhcp_buf_char(out, '\n');
}

/* The Unix time (ns) of a time on the scheduler's clock, through the
 * offset taken when the clock was (re)set. */
static uint64_t unix_ns(const report *rep, uint64_t t)
{
    if (t >= rep->created_ns) {
        return dynhcp_later(rep->created_wall_ns, t - rep->created_ns);
    }
    uint64_t back = rep->created_ns - t;
    return back < rep->created_wall_ns ? rep->created_wall_ns - back : 0;
}

/* A counter or gauge with at most one sample per endpoint. value() gives
 * the number in units of 10^-scale (9: nanoseconds of seconds, 3:
 * milliseconds), or returns 0 when the endpoint has no sample yet. */
typedef struct endpoint_family {
    const char *name;
    const char *type;
    const char *help;
    unsigned scale;
    int (*value)(const report *rep, const report_ep *r, uint64_t *out);
} endpoint_family;

static int ready_value(const report *rep, const report_ep *r, uint64_t *out)
{
    (void)rep;
    *out = r->ready;
    return 1;
}

static int last_duration_value(const report *rep, const report_ep *r, uint64_t *out)
{
    (void)rep;
    *out = r->last_latency_ns;
    return ever_checked(r); /* a 0 would read as a fast check */
}

static int duration_sum_value(const report *rep, const report_ep *r, uint64_t *out)
{
    (void)rep;
    *out = r->latency_sum_ns;
    return 1;
}

static int last_success_value(const report *rep, const report_ep *r, uint64_t *out)
{
    /* 0 when it never worked: time() - 0 is older than any alert's bound. */
    *out = r->last_success_ns != 0 ? unix_ns(rep, r->last_success_ns) / 1000000u : 0;
    return 1;
}

static int last_change_value(const report *rep, const report_ep *r, uint64_t *out)
{
    *out = unix_ns(rep, r->last_change_ns) / 1000000u;
    return 1;
}

static int late_value(const report *rep, const report_ep *r, uint64_t *out)
{
    (void)rep;
    *out = r->late;
    return 1;
}

static int token_budget_value(const report *rep, const report_ep *r, uint64_t *out)
{
    (void)rep;
    *out = r->tokens;
    return 1;
}

static int transitions_value(const report *rep, const report_ep *r, uint64_t *out)
{
    (void)rep;
    *out = r->transitions;
    return 1;
}

static int requests_value(const report *rep, const report_ep *r, uint64_t *out)
{
    (void)rep;
    *out = r->requests;
    return 1;
}

static int stalls_value(const report *rep, const report_ep *r, uint64_t *out)
{
    (void)rep;
    *out = r->stalls;
    return 1;
}

static int last_progress_value(const report *rep, const report_ep *r, uint64_t *out)
{
    *out = r->last_progress_ns != 0 ? unix_ns(rep, r->last_progress_ns) / 1000000u : 0;
    return 1;
}

static const endpoint_family endpoint_families[] = {
    {"dynhc_endpoint_ready", "gauge", "Whether the endpoint is ready (1) or not (0).", 0,
     ready_value},
    {"dynhc_health_check_last_duration_seconds", "gauge",
     "Seconds the endpoint's last health check took (a timeout counts its timeout); no sample "
     "before the first.",
     9, last_duration_value},
    {"dynhc_health_check_seconds_total", "counter",
     "Seconds the endpoint's health checks took, summed: divided by the increase of "
     "dynhc_health_checks_total, the mean duration.",
     9, duration_sum_value},
    {"dynhc_endpoint_last_success_timestamp_seconds", "gauge",
     "Unix time the endpoint last worked: a successful health check or request; 0 if never.", 3,
     last_success_value},
    {"dynhc_endpoint_last_change_timestamp_seconds", "gauge",
     "Unix time the endpoint's readiness last changed, or it was registered.", 3,
     last_change_value},
    {"dynhc_health_check_late_completions_total", "counter",
     "Completions of the endpoint's checks that came after a timeout (or twice), ignored.", 0,
     late_value},
    {"dynhc_health_check_token_budget_total", "counter",
     "Token budget of the health checks sent to the endpoint: the payload's max_tokens summed "
     "over the checks sent (a budget, not tokens generated).",
     0, token_budget_value},
    {"dynhc_readiness_transitions_total", "counter",
     "Changes of the endpoint's readiness, either way.", 0, transitions_value},
    {"dynhc_endpoint_requests_in_flight", "gauge",
     "Requests the runtime reported begun and not yet ended.", 0, requests_value},
    {"dynhc_endpoint_last_progress_timestamp_seconds", "gauge",
     "Unix time the endpoint last showed progress (a token, a request that ended well); 0 if "
     "never.",
     3, last_progress_value},
    {"dynhc_endpoint_stalls_total", "counter",
     "Times the endpoint had requests in flight and no progress for the stall threshold.", 0,
     stalls_value},
};

static void out_checks_total(dynhcp_buf *out, const report *rep)
{
    out_family(out, "dynhc_health_checks_total", "counter",
               "Health checks completed, by endpoint and result.");
    for (size_t i = 0; i < rep->count; i++) {
        const report_ep *r = &rep->eps[i];
        for (unsigned result = 0; result < 3; result++) {
            out_series(out, "dynhc_health_checks_total", rep, r);
            dynhcp_buf_str(out, ",result=\"");
            dynhcp_buf_str(out, result_names[result]);
            dynhcp_buf_char(out, '"');
            out_value(out, r->checks[result]);
        }
    }
}

/* The bucket bounds in nanoseconds, so that "le" is printed by the same
 * exact decimal writer as every other duration. */
static uint64_t bound_ns(size_t i)
{
    return (uint64_t)(dynhcp_latency_bounds[i] * 1e9 + 0.5);
}

/* One histogram for all endpoints: per endpoint it would be a dozen series
 * each, too many to scrape for a fleet. */
static void out_histogram(dynhcp_buf *out, const report *rep)
{
    out_family(out, "dynhc_health_check_duration_seconds", "histogram",
               "Seconds from sending a health check to its outcome, all endpoints (a timeout "
               "counts its timeout).");
    /* The scheduler counts per bucket; the format wants running totals. */
    uint64_t total = 0;
    for (size_t b = 0; b <= DYNHCP_LATENCY_BUCKETS; b++) {
        total += rep->latency_buckets[b];
        dynhcp_buf_str(out, "dynhc_health_check_duration_seconds_bucket{le=\"");
        if (b < DYNHCP_LATENCY_BUCKETS) {
            dynhcp_buf_decimal(out, bound_ns(b), 9);
        } else {
            dynhcp_buf_str(out, "+Inf");
        }
        dynhcp_buf_char(out, '"');
        out_value(out, total);
    }
    dynhcp_buf_str(out, "dynhc_health_check_duration_seconds_sum ");
    dynhcp_buf_u64(out, rep->latency_sum_s);
    char fraction[DYNHCP_NUMBER_TEXT_SIZE]; /* "0.5", or "0" for none */
    if (dynhcp_format_decimal(fraction, rep->latency_sum_ns, 9)[1] == '.') {
        dynhcp_buf_str(out, fraction + 1);
    }
    dynhcp_buf_char(out, '\n');
    dynhcp_buf_str(out, "dynhc_health_check_duration_seconds_count");
    dynhcp_buf_char(out, ' ');
    dynhcp_buf_u64(out, total);
    dynhcp_buf_char(out, '\n');
}

static void out_metrics(dynhcp_buf *out, const report *rep, unsigned want)
{
    (void)want; /* the labels, which every series carries */
    out_family(out, "dynhc_build_info", "gauge",
               "The dynhc library that writes these metrics: its version as a label, value 1.");
    dynhcp_buf_str(out, "dynhc_build_info{version=\"" DYNHC_VERSION_STRING "\"} 1\n");
    out_family(out, "process_start_time_seconds", "gauge",
               "Start time of the process since unix epoch in seconds.");
    dynhcp_buf_str(out, "process_start_time_seconds ");
    dynhcp_buf_decimal(out, rep->process_start_wall_ns / 1000000u, 3);
    dynhcp_buf_char(out, '\n');
    out_unlabelled(out, "dynhc_ready", "gauge",
                   "Whether the process is ready (1) or not (0), as the status JSON says.",
                   (uint64_t)rep->overall_ready);
    out_family(out, "dynhc_uptime_seconds", "gauge", "Seconds since the scheduler was created.");
    dynhcp_buf_str(out, "dynhc_uptime_seconds ");
    dynhcp_buf_decimal(out, rep->uptime_ns, 9);
    dynhcp_buf_char(out, '\n');
    out_unlabelled(out, "dynhc_health_checks_in_flight", "gauge",
                   "Health checks sent and not yet completed or timed out.", rep->in_flight);
    out_unlabelled(out, "dynhc_overall_readiness_transitions_total", "counter",
                   "Changes of the overall readiness, either way.", rep->overall_transitions);
    out_unlabelled(out, "dynhc_health_check_unknown_completions_total", "counter",
                   "Completions for check ids that no endpoint owns (removed endpoints, "
                   "unknown ids), ignored.",
                   rep->late_unknown);
    out_checks_total(out, rep);
    out_histogram(out, rep);
    for (size_t f = 0; f < sizeof(endpoint_families) / sizeof(endpoint_families[0]); f++) {
        const endpoint_family *family = &endpoint_families[f];
        out_family(out, family->name, family->type, family->help);
        for (size_t i = 0; i < rep->count; i++) {
            uint64_t value;
            if (family->value(rep, &rep->eps[i], &value)) {
                out_series(out, family->name, rep, &rep->eps[i]);
                dynhcp_buf_str(out, "} ");
                dynhcp_buf_decimal(out, value, family->scale);
                dynhcp_buf_char(out, '\n');
            }
        }
    }
}

char *dynhc_sched_metrics(const dynhc_sched *cs)
{
    return write_report(cs, WANT_LABELS, out_metrics);
}
