/* sched_report.c: the scheduler's reports (SPEC 3): the status JSON of
 * Dynamo's /health and the Prometheus text exposition (format 0.0.4).
 *
 * Both are written by hand into one growing buffer: the shapes are fixed, a
 * tree would cost an allocation per value, and the lock is held while they
 * are built. Every number comes from an integer, so nothing depends on the
 * host's locale: fractions of a second are printed as exact decimals of
 * nanosecond counts. Text that is not valid UTF-8 (endpoint names and errors
 * are arbitrary bytes) has each bad byte replaced by U+FFFD, because both
 * formats must be UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json_write.h"
#include "resolver_internal.h"
#include "sched_internal.h"
#include "text.h"

const double dh_latency_bounds[DH_LATENCY_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                      0.5,   1,    2.5,   5,    10};

/* The report under construction. A failed allocation is sticky: later
 * writes do nothing and out_finish() gives NULL, so writers need no checks. */
typedef struct out_buf {
    char *data;
    size_t len;
    size_t capacity;
    int failed;
} out_buf;

static int out_reserve(out_buf *out, size_t more)
{
    if (out->failed) {
        return 0;
    }
    if (out->capacity - out->len > more) {
        return 1; /* room for the bytes and the final NUL */
    }
    size_t capacity = out->capacity != 0 ? out->capacity : 1024;
    while (capacity - out->len <= more) {
        if (capacity > SIZE_MAX / 2) {
            out->failed = 1;
            return 0;
        }
        capacity *= 2;
    }
    char *grown = dh_realloc(out->data, capacity);
    if (grown == NULL) {
        out->failed = 1;
        return 0;
    }
    out->data = grown;
    out->capacity = capacity;
    return 1;
}

static void out_write(out_buf *out, const char *bytes, size_t n)
{
    if (out_reserve(out, n)) {
        memcpy(out->data + out->len, bytes, n);
        out->len += n;
    }
}

static void out_str(out_buf *out, const char *s)
{
    out_write(out, s, strlen(s));
}

static void out_char(out_buf *out, char c)
{
    out_write(out, &c, 1);
}

static void out_u64(out_buf *out, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    out_write(out, digits + sizeof(digits) - n, n);
}

/* v / 10^scale as an exact decimal without trailing zeros ("1.5", "3",
 * "0.005"): the nanoseconds of a duration in seconds with scale 9. */
static void out_decimal(out_buf *out, uint64_t v, unsigned scale)
{
    uint64_t unit = 1;
    for (unsigned i = 0; i < scale; i++) {
        unit *= 10;
    }
    out_u64(out, v / unit);
    uint64_t frac = v % unit;
    if (frac == 0) {
        return;
    }
    while (frac % 10 == 0) {
        frac /= 10;
        scale--;
    }
    char digits[20];
    for (unsigned i = scale; i > 0; i--) {
        digits[i - 1] = (char)('0' + frac % 10);
        frac /= 10;
    }
    out_char(out, '.');
    out_write(out, digits, scale);
}

static char *out_finish(out_buf *out)
{
    if (!out_reserve(out, 0)) {
        dh_free(out->data);
        return NULL;
    }
    out->data[out->len] = '\0';
    return out->data;
}

/* How an escaper spells one ASCII byte: NULL when it stays as it is. */
typedef const char *(*escape_fn)(unsigned char c, char scratch[8]);

/* Copies s, spelling ASCII bytes through escape and replacing each byte
 * that does not start a well-formed UTF-8 sequence by replacement. Runs of
 * bytes that stay as they are go out in one write. */
static void out_text(out_buf *out, const char *s, escape_fn escape, const char *replacement)
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
            step = dh_utf8_sequence_length(p + run, left - run);
            spelled = step == 0 ? replacement : NULL;
        }
        if (spelled == NULL) {
            run += step;
            continue;
        }
        out_write(out, (const char *)p, run);
        out_str(out, spelled);
        p += run + 1;
        left -= run + 1;
        run = 0;
    }
    out_write(out, (const char *)p, run);
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

static void out_json_string(out_buf *out, const char *s)
{
    out_char(out, '"');
    out_text(out, s, dh_json_escape, "\\ufffd");
    out_char(out, '"');
}

static const char *const result_names[3] = {"success", "failure", "timeout"};

/* The endpoints a report shows: registered and not removed. */
static const dynhc_endpoint *shown(const dynhc_sched *s, uint32_t slot)
{
    const dynhc_endpoint *ep = s->slots[slot];
    return ep != NULL && !ep->removed ? ep : NULL;
}

static int ready_of(const dynhc_endpoint *ep)
{
    return atomic_load(&ep->ready) != 0;
}

static void out_check_json(out_buf *out, const dynhc_endpoint *ep, uint64_t now)
{
    int checked = ep->last_check_ns != 0;
    out_str(out, "{\"last_check_secs_ago\":");
    if (checked) {
        out_decimal(out, dh_elapsed(now, ep->last_check_ns), 9);
    } else {
        out_str(out, "null");
    }
    out_str(out, ",\"latency_ms\":");
    if (checked) {
        out_decimal(out, ep->last_latency_ns, 6);
    } else {
        out_str(out, "null");
    }
    out_str(out, ",\"result\":");
    if (checked) {
        out_json_string(out, result_names[ep->last_result]);
    } else {
        out_str(out, "null");
    }
    out_str(out, ",\"consecutive_failures\":");
    out_u64(out, ep->consecutive_failures);
    out_str(out, ",\"last_error\":");
    if (ep->last_error != NULL) {
        out_json_string(out, ep->last_error);
    } else {
        out_str(out, "null");
    }
    out_str(out, ep->in_flight ? ",\"in_flight\":true}" : ",\"in_flight\":false}");
}

char *dynhc_sched_status_json(dynhc_sched *s, int verbose)
{
    if (s == NULL) {
        return NULL;
    }
    /* The clock is the caller's function: read it before taking the lock. */
    uint64_t now = dh_sched_now(s);
    out_buf out = {0};
    pthread_mutex_lock(&s->lock);
    uint64_t uptime = dh_elapsed(now, s->created_ns);
    out_str(&out, atomic_load(&s->overall_ready) ? "{\"status\":\"ready\"" :
                                                   "{\"status\":\"notready\"");
    out_str(&out, ",\"uptime\":{\"secs\":");
    out_u64(&out, uptime / 1000000000u);
    out_str(&out, ",\"nanos\":");
    out_u64(&out, uptime % 1000000000u);
    out_str(&out, "},\"endpoints\":{");
    const char *sep = "";
    for (uint32_t i = 0; i < s->slot_count; i++) {
        const dynhc_endpoint *ep = shown(s, i);
        if (ep != NULL) {
            out_str(&out, sep);
            out_json_string(&out, ep->name);
            out_str(&out, ready_of(ep) ? ":\"ready\"" : ":\"notready\"");
            sep = ",";
        }
    }
    out_char(&out, '}');
    if (verbose) {
        out_str(&out, ",\"checks\":{");
        sep = "";
        for (uint32_t i = 0; i < s->slot_count; i++) {
            const dynhc_endpoint *ep = shown(s, i);
            if (ep != NULL) {
                out_str(&out, sep);
                out_json_string(&out, ep->name);
                out_char(&out, ':');
                out_check_json(&out, ep, now);
                sep = ",";
            }
        }
        out_char(&out, '}');
    }
    out_char(&out, '}');
    pthread_mutex_unlock(&s->lock);
    return out_finish(&out);
}

/* Whether the extra label at labels[i] can be written. Registration has
 * checked its name (the format's syntax, not "endpoint", not "__..."), but
 * not against the labels a family adds (result, le) nor against repeats:
 * Prometheus rejects a series with a label given twice as a whole, so such
 * a label is left out instead, from every series of the endpoint alike. */
static int label_usable(const char *const *labels, size_t i)
{
    const char *name = labels[i];
    if (strcmp(name, "result") == 0 || strcmp(name, "le") == 0) {
        return 0;
    }
    for (size_t j = 0; j < i; j += 2) {
        if (strcmp(labels[j], name) == 0) {
            return 0;
        }
    }
    return 1;
}

static void out_family(out_buf *out, const char *name, const char *type, const char *help)
{
    out_str(out, "# HELP ");
    out_str(out, name);
    out_char(out, ' ');
    out_str(out, help);
    out_str(out, "\n# TYPE ");
    out_str(out, name);
    out_char(out, ' ');
    out_str(out, type);
    out_char(out, '\n');
}

/* Starts a sample of an endpoint: NAME{endpoint="...",EXTRA="..." with the
 * brace left open for the family's own label. */
static void out_series(out_buf *out, const char *name, const dynhc_endpoint *ep)
{
    out_str(out, name);
    out_str(out, "{endpoint=\"");
    out_text(out, ep->name, label_escape, "\xEF\xBF\xBD");
    out_char(out, '"');
    const char *const *labels = ep->labels;
    for (size_t i = 0; labels != NULL && labels[i] != NULL && labels[i + 1] != NULL; i += 2) {
        if (label_usable(labels, i)) {
            out_char(out, ',');
            out_str(out, labels[i]);
            out_str(out, "=\"");
            out_text(out, labels[i + 1], label_escape, "\xEF\xBF\xBD");
            out_char(out, '"');
        }
    }
}

static void out_value(out_buf *out, uint64_t value)
{
    out_str(out, "} ");
    out_u64(out, value);
    out_char(out, '\n');
}

static void out_unlabelled(out_buf *out, const char *name, const char *type, const char *help,
                           uint64_t value)
{
    out_family(out, name, type, help);
    out_str(out, name);
    out_char(out, ' ');
    out_u64(out, value);
    out_char(out, '\n');
}

/* A counter or gauge with one sample per endpoint. */
typedef struct endpoint_family {
    const char *name;
    const char *type;
    const char *help;
    uint64_t (*value)(const dynhc_endpoint *ep);
} endpoint_family;

static uint64_t ready_value(const dynhc_endpoint *ep)
{
    return (uint64_t)ready_of(ep);
}

static uint64_t late_value(const dynhc_endpoint *ep)
{
    return ep->late;
}

static uint64_t tokens_value(const dynhc_endpoint *ep)
{
    uint64_t sent = (uint64_t)ep->checks[0] + ep->checks[1] + ep->checks[2] + ep->in_flight;
    return sent * (uint64_t)ep->payload->token_budget;
}

static uint64_t transitions_value(const dynhc_endpoint *ep)
{
    return ep->transitions;
}

static const endpoint_family endpoint_families[] = {
    {"dynhc_endpoint_ready", "gauge", "Whether the endpoint is ready (1) or not (0).",
     ready_value},
    {"dynhc_health_check_late_completions_total", "counter",
     "Completions of the endpoint's checks that came after a timeout (or twice), ignored.",
     late_value},
    {"dynhc_health_check_tokens_total", "counter",
     "Token budget (max_tokens) of the health checks sent to the endpoint.", tokens_value},
    {"dynhc_readiness_transitions_total", "counter",
     "Changes of the endpoint's readiness, either way.", transitions_value},
};

static void out_checks_total(out_buf *out, const dynhc_sched *s)
{
    out_family(out, "dynhc_health_checks_total", "counter",
               "Health checks completed, by endpoint and result.");
    for (uint32_t i = 0; i < s->slot_count; i++) {
        const dynhc_endpoint *ep = shown(s, i);
        for (unsigned r = 0; ep != NULL && r < 3; r++) {
            out_series(out, "dynhc_health_checks_total", ep);
            out_str(out, ",result=\"");
            out_str(out, result_names[r]);
            out_char(out, '"');
            out_value(out, ep->checks[r]);
        }
    }
}

/* The bucket bounds in nanoseconds, so that "le" is printed by the same
 * exact decimal writer as every other duration. */
static uint64_t bound_ns(size_t i)
{
    return (uint64_t)(dh_latency_bounds[i] * 1e9 + 0.5);
}

/* One histogram for all endpoints: per endpoint it would be a dozen series
 * each, too many to scrape for a fleet. */
static void out_histogram(out_buf *out, const dynhc_sched *s)
{
    out_family(out, "dynhc_health_check_duration_seconds", "histogram",
               "Seconds from sending a health check to its outcome, all endpoints (a timeout "
               "counts its timeout).");
    /* The scheduler counts per bucket; the format wants running totals. */
    uint64_t total = 0;
    for (size_t b = 0; b <= DH_LATENCY_BUCKETS; b++) {
        total += s->latency_buckets[b];
        out_str(out, "dynhc_health_check_duration_seconds_bucket{le=\"");
        if (b < DH_LATENCY_BUCKETS) {
            out_decimal(out, bound_ns(b), 9);
        } else {
            out_str(out, "+Inf");
        }
        out_char(out, '"');
        out_value(out, total);
    }
    out_str(out, "dynhc_health_check_duration_seconds_sum ");
    out_decimal(out, s->latency_sum_ns, 9);
    out_char(out, '\n');
    out_str(out, "dynhc_health_check_duration_seconds_count");
    out_char(out, ' ');
    out_u64(out, total);
    out_char(out, '\n');
}

char *dynhc_sched_metrics(dynhc_sched *s)
{
    if (s == NULL) {
        return NULL;
    }
    uint64_t now = dh_sched_now(s);
    out_buf out = {0};
    pthread_mutex_lock(&s->lock);
    out_unlabelled(&out, "dynhc_ready", "gauge",
                   "Whether the process is ready (1) or not (0), as the status JSON says.",
                   (uint64_t)(atomic_load(&s->overall_ready) != 0));
    out_family(&out, "dynhc_uptime_seconds", "gauge", "Seconds since the scheduler was created.");
    out_str(&out, "dynhc_uptime_seconds ");
    out_decimal(&out, dh_elapsed(now, s->created_ns), 9);
    out_char(&out, '\n');
    out_unlabelled(&out, "dynhc_health_checks_in_flight", "gauge",
                   "Health checks sent and not yet completed or timed out.", s->in_flight);
    out_unlabelled(&out, "dynhc_overall_readiness_transitions_total", "counter",
                   "Changes of the overall readiness, either way.", s->overall_transitions);
    out_unlabelled(&out, "dynhc_health_check_unknown_completions_total", "counter",
                   "Completions for check ids that no endpoint owns (removed endpoints, "
                   "unknown ids), ignored.",
                   s->late_unknown);
    out_checks_total(&out, s);
    out_histogram(&out, s);
    for (size_t f = 0; f < sizeof(endpoint_families) / sizeof(endpoint_families[0]); f++) {
        const endpoint_family *family = &endpoint_families[f];
        out_family(&out, family->name, family->type, family->help);
        for (uint32_t i = 0; i < s->slot_count; i++) {
            const dynhc_endpoint *ep = shown(s, i);
            if (ep != NULL) {
                out_series(&out, family->name, ep);
                out_value(&out, family->value(ep));
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return out_finish(&out);
}
