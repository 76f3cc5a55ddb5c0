/* scrape.c: watch's view of a target's own metrics (scrape.h). Each round
 * reads two series of the Prometheus text: the requests running (a gauge)
 * and the tokens generated (a counter), each summed over its labels (one
 * series per model). A busy server is judged by whether the counter moved,
 * which is what a fleet that stopped restarting saturated nodes watches. */
#include "scrape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* vLLM's /metrics is some hundreds of KiB with its histograms; a text much
 * larger is not an exposition a sidecar should hold. */
struct cli_scraper {
    char *url;        /* the metrics URL */
    char *shown_url;  /* it, credentials redacted, for messages */
    char *target;     /* the --url, credentials redacted, for messages */
    const cli_http_options *http; /* its TLS options (not its headers: the checks') */
    dynhc_sched *log;             /* whose log sink (and limit) its lines go through */
    const char *running_name;
    const char *tokens_name;
    uint64_t stall_ns;
    CURL *easy; /* the scrape in flight */
    char error[CURL_ERROR_SIZE];
    cli_answer answer; /* the scrape's */
    /* What the scrapes saw: the counter's last value, and since when it
     * has not moved while requests ran. */
    int have_baseline;
    double tokens;
    int was_busy;
    uint64_t frozen_since_ns;
    int unavailable; /* the last scrape had no usable metrics (said once) */
};

/* The metrics URL of a --url: its scheme, host and port, path /metrics. */
static int default_metrics_url(const char *url, char **out)
{
    CURLU *u = curl_url();
    char *full = NULL;
    int ok = u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_set(u, CURLUPART_PATH, "/metrics", 0) == CURLUE_OK &&
             curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
             curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK &&
             (*out = strdup(full)) != NULL;
    curl_free(full);
    curl_url_cleanup(u);
    return ok ? 0 : -1;
}

static int is_http_url(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL;
    int ok = u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
    curl_free(scheme);
    curl_url_cleanup(u);
    return ok;
}

int cli_scraper_new(const char *url, const char *metrics_url, const cli_options *opts,
                    const cli_http_options *http, dynhc_sched *log, cli_scraper **out)
{
    char quoted[160];
    *out = NULL;
    if (metrics_url != NULL && !is_http_url(metrics_url)) {
        cli_usage_error("--metrics-url %s: expected an http:// or https:// URL",
                        cli_quote(quoted, sizeof(quoted), metrics_url));
        return CLI_EXIT_USAGE;
    }
    cli_scraper *sc = calloc(1, sizeof(*sc));
    if (sc == NULL || (sc->target = cli_redact_url(url, 0)) == NULL ||
        (metrics_url != NULL ? (sc->url = strdup(metrics_url)) == NULL
                             : default_metrics_url(url, &sc->url) != 0) ||
        (sc->shown_url = cli_redact_url(sc->url, 0)) == NULL) {
        cli_scraper_free(sc);
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    sc->running_name =
        opts->running_metric != NULL ? opts->running_metric : CLI_DEFAULT_RUNNING_METRIC;
    sc->tokens_name = opts->tokens_metric != NULL ? opts->tokens_metric : CLI_DEFAULT_TOKENS_METRIC;
    sc->stall_ns = opts->stall_ns;
    sc->http = http;
    sc->log = log;
    *out = sc;
    return CLI_EXIT_OK;
}

const char *cli_scraper_url(const cli_scraper *sc)
{
    return sc->url;
}

CURL *cli_scraper_handle(const cli_scraper *sc)
{
    return sc != NULL ? sc->easy : NULL;
}

void cli_scraper_cancel(cli_scraper *sc)
{
    if (sc != NULL && sc->easy != NULL) {
        curl_easy_cleanup(sc->easy);
        sc->easy = NULL;
    }
}

void cli_scraper_free(cli_scraper *sc)
{
    if (sc != NULL) {
        cli_scraper_cancel(sc);
        cli_answer_reset(&sc->answer, 1);
        free(sc->url);
        free(sc->shown_url);
        free(sc->target);
        free(sc);
    }
}

CURL *cli_scraper_start(cli_scraper *sc, uint64_t timeout_ns)
{
    cli_scraper_cancel(sc);
    cli_answer_reset(&sc->answer, 0);
    sc->error[0] = '\0';
    sc->easy = curl_easy_init();
    if (sc->easy == NULL ||
        cli_easy_setup(sc->easy, sc->url, sc->http, timeout_ns, cli_answer_collect, &sc->answer,
                       sc->error) != 0) {
        cli_scraper_cancel(sc);
        return NULL;
    }
    return sc->easy;
}

/* The sum of the samples of the series called name in text (the format's
 * `name{labels} value [timestamp]` or `name value`): 0 with *sum set, -1
 * when there is none. Label values may hold spaces and braces inside quotes. */
static int sum_series(const char *text, const char *name, double *sum)
{
    size_t name_len = strlen(name);
    int found = 0;
    *sum = 0;
    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        const char *next = end != NULL ? end + 1 : NULL;
        if (strncmp(line, name, name_len) == 0 &&
            (line[name_len] == '{' || line[name_len] == ' ')) {
            const char *p = line + name_len;
            if (*p == '{') {
                int quoted = 0;
                for (p++; *p != '\0' && *p != '\n' && (quoted || *p != '}'); p++) {
                    if (*p == '\\' && quoted && p[1] != '\0') {
                        p++;
                    } else if (*p == '"') {
                        quoted = !quoted;
                    }
                }
                p += *p == '}';
            }
            char *value_end;
            double value = strtod(p, &value_end);
            if (value_end != p && value == value) { /* not NaN */
                *sum += value;
                found = 1;
            }
        }
        line = next;
    }
    return found ? 0 : -1;
}

/* Why an answer (status, text) gives no usable metrics, or NULL; *running,
 * *tokens. */
static const char *read_metrics(const cli_scraper *sc, long status, const char *text,
                                double *running, double *tokens, char *why, size_t size)
{
    if (status != 200) {
        snprintf(why, size, "HTTP %ld", status);
    } else if (sum_series(text, sc->running_name, running) != 0) {
        snprintf(why, size, "no %s in it", sc->running_name);
    } else if (sum_series(text, sc->tokens_name, tokens) != 0) {
        snprintf(why, size, "no %s in it", sc->tokens_name);
    } else {
        return NULL;
    }
    return why;
}

cli_scrape_verdict cli_scraper_judge(cli_scraper *sc, dynhc_endpoint *ep, CURLcode rc,
                                     uint64_t now, char *msg, size_t size)
{
    char why[CURL_ERROR_SIZE + 64];
    long status = 0;
    const char *failure = NULL;
    if (sc->answer.too_large) {
        cli_answer_too_large(why, sizeof(why));
        failure = why;
    } else if (rc != CURLE_OK) {
        snprintf(why, sizeof(why), "%s", sc->error[0] != '\0' ? sc->error : curl_easy_strerror(rc));
        failure = why;
    } else {
        (void)curl_easy_getinfo(sc->easy, CURLINFO_RESPONSE_CODE, &status);
    }
    cli_scrape_verdict verdict =
        cli_scraper_judge_answer(sc, ep, failure, status,
                                 sc->answer.text != NULL ? sc->answer.text : "", now, msg, size);
    cli_scraper_cancel(sc);
    cli_answer_reset(&sc->answer, 1);
    return verdict;
}

cli_scrape_verdict cli_scraper_judge_answer(cli_scraper *sc, dynhc_endpoint *ep,
                                            const char *failure, long status, const char *text,
                                            uint64_t now, char *msg, size_t size)
{
    double running = 0, tokens = 0;
    char why[160];
    const char *problem = failure != NULL
                              ? failure
                              : read_metrics(sc, status, text, &running, &tokens, why, sizeof(why));
    if (problem != NULL) {
        if (!sc->unavailable) {
            cli_log_target(sc->log, DYNHC_LOG_WARNING,
                "%s: no usable metrics at %s (%s): checking with canaries only, until there are",
                sc->target, sc->shown_url, problem);
        }
        sc->unavailable = 1;
        sc->have_baseline = 0;
        return CLI_SCRAPE_CANARY;
    }
    if (sc->unavailable) {
        cli_log_target(sc->log, DYNHC_LOG_INFO, "%s: metrics at %s read again", sc->target,
                sc->shown_url);
        sc->unavailable = 0;
    }
    int busy = running > 0;
    int advanced = sc->have_baseline && tokens > sc->tokens;
    if (sc->have_baseline && tokens < sc->tokens) {
        /* A counter only goes back when the server restarted: what it
         * counts now starts from there. */
        cli_log_target(sc->log, DYNHC_LOG_INFO,
                       "%s: %s went back from %.17g to %.17g (a restart)", sc->target,
                       sc->tokens_name, sc->tokens, tokens);
        sc->have_baseline = 0;
    }
    if (advanced) {
        dynhc_endpoint_record_progress(ep);
    }
    /* The stall clock starts when the counter last moved, or when the
     * server turned busy, or at the first look. */
    if (!sc->have_baseline || advanced || (busy && !sc->was_busy)) {
        sc->frozen_since_ns = now;
    }
    sc->have_baseline = 1;
    sc->tokens = tokens;
    sc->was_busy = busy;
    if (!busy) {
        return CLI_SCRAPE_CANARY;
    }
    if (advanced) {
        return CLI_SCRAPE_PROGRESS;
    }
    if (sc->stall_ns == 0) {
        return CLI_SCRAPE_CANARY;
    }
    uint64_t frozen = now > sc->frozen_since_ns ? now - sc->frozen_since_ns : 0;
    if (frozen < sc->stall_ns) {
        return CLI_SCRAPE_BUSY;
    }
    /* The same text round after round, so that the log says it once. */
    snprintf(msg, size, "stalled: requests running (%s) and %s unchanged for %g s",
             sc->running_name, sc->tokens_name, (double)sc->stall_ns / 1e9);
    return CLI_SCRAPE_STALLED;
}
