/* http.h: what probe and watch share: the request a check sends to an
 * OpenAI-compatible server, and the verdict on the answer. Built only with
 * libcurl. */
#ifndef DYNHC_CLI_HTTP_H
#define DYNHC_CLI_HTTP_H

#include <curl/curl.h>

#include "answer.h"
#include "cli.h"
#include "secrets.h"

/*
 * Resolves the payload to send as `dynhc resolve` would (same options, same
 * diagnostics). Returns CLI_EXIT_OK with *res holding a payload, or an exit
 * status: CLI_EXIT_DISABLED when payloads are disabled (nothing to send,
 * said on stderr). *res is set in both cases (free it), or NULL.
 */
int cli_resolve_payload(const cli_options *opts, dynhc_result **res);

/* Where a check goes and what it sends. */
typedef struct cli_target {
    char *url;              /* the full URL, route included: only for curl */
    char *name;             /* the URL as given, credentials redacted: the endpoint's name */
    char *shown;            /* url with its credentials redacted, for messages */
    char *body;             /* the payload text, "model" added when known */
    const char *answer_key; /* what a healthy answer holds: "choices" or "data" */
    const cli_http_options *http; /* headers and TLS options, borrowed */
    cli_secrets secrets;    /* the URL's user and password, as given and decoded */
} cli_target;

/*
 * Builds the target for a --url and a resolved payload (DYNHC_OK); model
 * (may be NULL) overrides the config's model name; http must outlive the
 * target. Returns CLI_EXIT_OK, or CLI_EXIT_USAGE (a bad URL, the tokens
 * model type) / CLI_EXIT_ERROR after printing why (the URL redacted).
 * Clear it with cli_target_clear() whatever the outcome.
 */
int cli_target_init(cli_target *t, const char *url, const dynhc_result *res, const char *model,
                    const cli_http_options *http);
void cli_target_clear(cli_target *t);

/*
 * What every transfer of probe and watch sets: url, the answer handed to
 * write with data, libcurl's error text into errbuf (CURL_ERROR_SIZE
 * bytes), the timeout, no proxy, no signals, and h's TLS options (not h's
 * headers: they are the checks'). Returns 0, or -1 when libcurl refuses one.
 */
int cli_easy_setup(CURL *easy, const char *url, const cli_http_options *h, uint64_t timeout_ns,
                   curl_write_callback write, void *data, char *errbuf);

/*
 * The verdict on an answer of t's that came with an HTTP status and its
 * body text (NUL-terminated, len bytes): healthy is a 2xx answer holding a
 * JSON object with a non-empty answer_key array. Returns 1 when healthy,
 * else 0 with one line (no newline) in msg saying what went wrong, every
 * secret of t scrubbed (an answer may echo one).
 */
int cli_target_judge(const cli_target *t, long status, const char *text, size_t len, char *msg,
                     size_t size);

/* The start of text, quoted on one line into buf (size bytes), t's secrets
 * scrubbed; returns buf. */
const char *cli_target_excerpt(const cli_target *t, const char *text, char *buf, size_t size);

/* The message of a check that got no answer within timeout_ns. */
void cli_timeout_message(uint64_t timeout_ns, char *msg, size_t size);

/* One POST of a target's body: a curl easy handle and the answer it gets. */
typedef struct cli_exchange cli_exchange;

/* A new exchange that gives up after timeout_ns. t must outlive it. NULL
 * when out of memory. */
cli_exchange *cli_exchange_new(const cli_target *t, uint64_t timeout_ns);

/* The easy handle, to perform or to add to a multi handle. */
CURL *cli_exchange_easy(const cli_exchange *x);

/* Judges an exchange whose transfer ended with rc (CURLE_OPERATION_TIMEDOUT
 * also when the caller gave up on it), as cli_target_judge() does; msg says
 * the status and time when healthy. */
int cli_exchange_judge(const cli_exchange *x, CURLcode rc, char *msg, size_t size);

/* Frees the exchange and its easy handle, which must not be in a multi
 * handle any more. NULL is a no-op. */
void cli_exchange_free(cli_exchange *x);

#endif
