/* scrape.h: forward progress from outside (SPEC 3, "forward progress"):
 * `dynhc watch` reads a target's own Prometheus metrics at the start of
 * each round, and judges a busy server by its token counter instead of a
 * canary that would queue behind its requests. Built only with libcurl. */
#ifndef DYNHC_CLI_SCRAPE_H
#define DYNHC_CLI_SCRAPE_H

#include <curl/curl.h>

#include "http.h"

/* vLLM's names; SGLang, TensorRT-LLM and Dynamo's frontend have their own
 * (docs/cli.md lists them), given with --running-metric and --tokens-metric. */
#define CLI_DEFAULT_RUNNING_METRIC "vllm:num_requests_running"
#define CLI_DEFAULT_TOKENS_METRIC "vllm:generation_tokens_total"

/* What one target's scrapes have seen. */
typedef struct cli_scraper cli_scraper;

/* What a round does after its scrape. */
typedef enum cli_scrape_verdict {
    CLI_SCRAPE_CANARY,   /* idle, no usable metrics, or busy with no way to judge: the canary */
    CLI_SCRAPE_PROGRESS, /* requests running and the token counter moved: healthy, no canary */
    CLI_SCRAPE_BUSY,     /* requests running, no token yet within the stall threshold: healthy */
    CLI_SCRAPE_STALLED   /* requests running, the counter frozen for the stall threshold */
} cli_scrape_verdict;

/*
 * A scraper for the target of --url url (named so in messages, its
 * credentials redacted), with the TLS options of http (borrowed), reading
 * metrics_url, or url's scheme, host and port with the path /metrics when
 * it is NULL. The metric names are the options' (NULL: the defaults
 * above), borrowed. stall_ns 0: no stall is ever judged (a busy server
 * whose counter does not move gets the canary). Its lines (metrics missing,
 * back, a restart) go through log's sink (borrowed), so that DYN_LOG and
 * the log limit apply. Returns CLI_EXIT_OK with *out set, or an exit status after
 * printing why (a metrics URL that is not http(s)).
 */
int cli_scraper_new(const char *url, const char *metrics_url, const cli_options *opts,
                    const cli_http_options *http, dynhc_sched *log, cli_scraper **out);
void cli_scraper_free(cli_scraper *sc);

/* Starts a scrape: a GET of the metrics URL, given up after timeout_ns.
 * The easy handle belongs to the scraper; NULL when out of memory. One at
 * a time. */
CURL *cli_scraper_start(cli_scraper *sc, uint64_t timeout_ns);

/*
 * Judges the scrape started last, which ended with rc, at now (the
 * scheduler's clock), tells ep of the progress it saw, and frees its handle
 * (already out of any multi handle) and its answer (a fleet's scrapers would
 * otherwise hold one exposition each). STALLED writes the reason into msg. A
 * scrape without usable metrics (no answer, not 200, a name missing) says so
 * once (a warning), until metrics come back, and gives CANARY. A counter that
 * went back (the server restarted) starts a new baseline.
 */
cli_scrape_verdict cli_scraper_judge(cli_scraper *sc, dynhc_endpoint *ep, CURLcode rc,
                                     uint64_t now, char *msg, size_t size);

/*
 * The same for a scrape made by other means (watch's built-in client): the
 * answer's status and text (NUL-terminated), or, when there is none, why
 * (failure not NULL; status and text are then not read).
 */
cli_scrape_verdict cli_scraper_judge_answer(cli_scraper *sc, dynhc_endpoint *ep,
                                            const char *failure, long status, const char *text,
                                            uint64_t now, char *msg, size_t size);

/* The metrics URL it reads, credentials and all. */
const char *cli_scraper_url(const cli_scraper *sc);

/* The handle of the scrape in flight; NULL when none. */
CURL *cli_scraper_handle(const cli_scraper *sc);

/* Stops the scrape in flight, if any (its handle out of any multi handle). */
void cli_scraper_cancel(cli_scraper *sc);

#endif
