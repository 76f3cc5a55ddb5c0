/* http.c: the check that probe and watch send to an OpenAI-compatible server
 * (the route by model type, the body with "model" added) and the verdict on
 * the answer, one line per kind of failure. */
#include "http.h"
#include "json_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <dynhc/cjson.h>

/* Room for about 200 bytes of an answer in a message, escapes included. */
#define EXCERPT_SIZE 208

struct cli_exchange {
    CURL *easy;
    const cli_target *target;
    uint64_t timeout_ns;
    cli_answer answer;
    char error[CURL_ERROR_SIZE];
};

/* The OpenAI route of a model type; NULL for tokens, which Dynamo sends to
 * its workers over its own transport, not over HTTP. */
static const char *route_of(dynhc_model_type type, const char **answer_key)
{
    *answer_key = "choices";
    switch (type) {
    case DYNHC_MODEL_GENERATE: return "/v1/completions";
    case DYNHC_MODEL_CHAT: return "/v1/chat/completions";
    case DYNHC_MODEL_EMBEDDING: *answer_key = "data"; return "/v1/embeddings";
    case DYNHC_MODEL_TOKENS: break;
    }
    return NULL;
}

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/*
 * The path to send to: a path that already names a route is kept; a base
 * ending in /v1, as OpenAI clients take it, gets the rest of the route;
 * any other base (a proxy prefix too) gets the whole route. One trailing '/'
 * is dropped first. NULL when out of memory.
 */
static char *route_path(const char *path, const char *route)
{
    size_t len = strlen(path);
    if (len > 0 && path[len - 1] == '/') {
        len--;
    }
    if (ends_with(path, len, "/completions") || ends_with(path, len, "/embeddings")) {
        route = "";
    } else if (ends_with(path, len, "/v1")) {
        route += strlen("/v1");
    }
    size_t size = len + strlen(route) + 1;
    char *out = malloc(size);
    if (out != NULL) {
        snprintf(out, size, "%.*s%s", (int)len, path, route);
    }
    return out;
}

/* Adds the URL's user and password to the secrets, as written and decoded
 * (the server sees the decoded ones). Returns 0, or -1 when out of memory. */
static int add_userinfo(CURLU *u, cli_secrets *secrets)
{
    const CURLUPart parts[] = {CURLUPART_USER, CURLUPART_PASSWORD};
    for (size_t i = 0; i < 2; i++) {
        for (unsigned flags = 0; flags <= CURLU_URLDECODE; flags += CURLU_URLDECODE) {
            char *part = NULL;
            CURLUcode uc = curl_url_get(u, parts[i], &part, flags);
            int failed = uc == CURLUE_OUT_OF_MEMORY ||
                         (uc == CURLUE_OK && cli_secrets_add(secrets, part, strlen(part)) != 0);
            curl_free(part);
            if (failed) {
                return -1;
            }
        }
    }
    return 0;
}

/* The usage error for a --url that curl refused (uc) or that is not
 * http(s), the URL redacted: up to its last '@' when curl could not parse
 * it, since its password may then hold anything. */
static int refuse_url(const char *given, CURLUcode uc)
{
    char quoted[160];
    char *shown = cli_redact_url(given, uc != CURLUE_OK);
    if (shown == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    cli_usage_error("--url %s: expected an http:// or https:// URL%s%s%s",
                    cli_quote(quoted, sizeof(quoted), shown), uc != CURLUE_OK ? " (" : "",
                    uc != CURLUE_OK ? curl_url_strerror(uc) : "", uc != CURLUE_OK ? ")" : "");
    free(shown);
    return CLI_EXIT_USAGE;
}

/* The full URL for --url given; CLI_EXIT_USAGE when it is not http(s). */
static int target_url(const char *given, const char *route, char **out, cli_secrets *secrets)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *path = NULL, *full = NULL, *new_path = NULL;
    CURLUcode uc = u == NULL ? CURLUE_OUT_OF_MEMORY : curl_url_set(u, CURLUPART_URL, given, 0);
    if (uc == CURLUE_OK) {
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    }
    int code = CLI_EXIT_OK;
    if (uc == CURLUE_OUT_OF_MEMORY) {
        cli_error("out of memory");
        code = CLI_EXIT_ERROR;
    } else if (uc != CURLUE_OK || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        code = refuse_url(given, uc);
    } else if (add_userinfo(u, secrets) != 0 ||
               curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
               (new_path = route_path(path, route)) == NULL ||
               curl_url_set(u, CURLUPART_PATH, new_path, 0) != CURLUE_OK ||
               curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK ||
               (*out = strdup(full)) == NULL) {
        cli_error("out of memory");
        code = CLI_EXIT_ERROR;
    }
    free(new_path);
    curl_free(full);
    curl_free(path);
    curl_free(scheme);
    curl_url_cleanup(u);
    return code;
}

/* The payload text with "model":NAME appended, unless model is NULL or the
 * payload names one already. Text is edited, not re-printed, so every value
 * keeps the operator's spelling. NULL when out of memory. */
static char *request_body(const dynhc_result *res, const char *model)
{
    const char *text = dynhc_result_text(res);
    const cJSON *payload = dynhc_result_payload(res);
    if (model == NULL || cJSON_GetObjectItemCaseSensitive(payload, "model") != NULL) {
        return strdup(text);
    }
    cJSON *name = cJSON_CreateString(model);
    char *quoted = name != NULL ? cJSON_PrintUnformatted(name) : NULL;
    cJSON_Delete(name);
    if (quoted == NULL) {
        return NULL;
    }
    /* The compact text of an object ends with its '}'. */
    size_t len = strlen(text) - 1;
    size_t size = len + strlen(quoted) + sizeof(",\"model\":}");
    char *body = malloc(size);
    if (body != NULL) {
        snprintf(body, size, "%.*s%s\"model\":%s}", (int)len, text,
                 payload->child != NULL ? "," : "", quoted);
    }
    cJSON_free(quoted);
    return body;
}

int cli_resolve_payload(const cli_options *opts, dynhc_result **res)
{
    size_t problems = 0;
    int code = cli_resolve(opts, 0, res, &problems);
    if (code == CLI_EXIT_OK) {
        code = cli_payload_status(*res, problems, "nothing to send");
    }
    return code;
}

int cli_target_init(cli_target *t, const char *url, const dynhc_result *res, const char *model,
                    const cli_http_options *http)
{
    memset(t, 0, sizeof(*t));
    t->http = http;
    dynhc_model_type type = dynhc_result_model_type(res);
    const char *route = route_of(type, &t->answer_key);
    if (route == NULL) {
        cli_usage_error("model type '%s' has no OpenAI-compatible route: probe and watch "
                        "take generate, chat or embedding",
                        dynhc_model_type_name(type));
        return CLI_EXIT_USAGE;
    }
    int code = target_url(url, route, &t->url, &t->secrets);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    t->name = cli_redact_url(url, 0);
    t->shown = cli_redact_url(t->url, 0);
    t->body = request_body(res, model != NULL ? model : dynhc_result_model_name(res));
    if (t->name == NULL || t->shown == NULL || t->body == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

void cli_target_clear(cli_target *t)
{
    free(t->url);
    free(t->name);
    free(t->shown);
    free(t->body);
    cli_secrets_clear(&t->secrets);
    memset(t, 0, sizeof(*t));
}

/* The timeout in whole milliseconds, rounded up as curl takes it. */
static long timeout_ms(uint64_t ns)
{
    return (long)((ns + 999999) / 1000000);
}

int cli_easy_setup(CURL *easy, const char *url, const cli_http_options *h, uint64_t timeout_ns,
                   curl_write_callback write, void *data, char *errbuf)
{
    char agent[32];
    snprintf(agent, sizeof(agent), "dynhc/%s", dynhc_version());
    int failed =
        curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_USERAGENT, agent) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, data) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms(timeout_ns)) != CURLE_OK ||
        /* The check is about the server: never through a proxy that
         * http_proxy and friends would otherwise name. */
        curl_easy_setopt(easy, CURLOPT_PROXY, "") != CURLE_OK ||
        /* No SIGALRM around name lookups: watch has signal handlers of its own. */
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        (h->cacert != NULL && curl_easy_setopt(easy, CURLOPT_CAINFO, h->cacert) != CURLE_OK) ||
        (h->cert != NULL && curl_easy_setopt(easy, CURLOPT_SSLCERT, h->cert) != CURLE_OK) ||
        (h->key != NULL && curl_easy_setopt(easy, CURLOPT_SSLKEY, h->key) != CURLE_OK) ||
        (h->insecure && (curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L) != CURLE_OK ||
                         curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK));
    return failed ? -1 : 0;
}

cli_exchange *cli_exchange_new(const cli_target *t, uint64_t timeout_ns)
{
    cli_exchange *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        return NULL;
    }
    x->target = t;
    x->timeout_ns = timeout_ns;
    x->easy = curl_easy_init();
    const cli_http_options *h = t->http;
    if (x->easy == NULL ||
        cli_easy_setup(x->easy, t->url, h, timeout_ns, cli_answer_collect, &x->answer,
                       x->error) != 0 ||
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, t->body) != CURLE_OK ||
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(t->body)) !=
            CURLE_OK ||
        curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, h->headers) != CURLE_OK) {
        cli_exchange_free(x);
        return NULL;
    }
    return x;
}

CURL *cli_exchange_easy(const cli_exchange *x)
{
    return x->easy;
}

void cli_exchange_free(cli_exchange *x)
{
    if (x == NULL) {
        return;
    }
    curl_easy_cleanup(x->easy);
    cli_answer_reset(&x->answer, 1);
    free(x);
}

/* Why a transfer failed, in the words that fit its kind. */
static void transfer_failure(const cli_exchange *x, CURLcode rc, char *msg, size_t size)
{
    const char *detail = x->error[0] != '\0' ? x->error : curl_easy_strerror(rc);
    long os_errno = 0;
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        /* errno tells refused from unreachable; curl's text buries it. */
        if (curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno != 0) {
            snprintf(msg, size, "cannot connect: %s", strerror((int)os_errno));
            return;
        }
        break;
    case CURLE_PARTIAL_FILE:
        snprintf(msg, size, "the connection closed in the middle of the answer (%s)", detail);
        return;
    case CURLE_GOT_NOTHING:
        snprintf(msg, size, "the connection closed without an answer");
        return;
    default:
        break;
    }
    snprintf(msg, size, "%s", detail);
}

const char *cli_target_excerpt(const cli_target *t, const char *text, char *buf, size_t size)
{
    /* The quote takes at most size bytes of it; a cut shows as "...". The
     * secrets go before the cut, so that no piece of one is left at the end. */
    char *clean = cli_scrub(text, size, &t->http->secrets, &t->secrets);
    char *shown = clean;
    if (clean != NULL && strnlen(text, size + 1) > size) {
        size_t n = strlen(clean) + sizeof("...");
        shown = malloc(n);
        if (shown != NULL) {
            snprintf(shown, n, "%s...", clean);
        }
    }
    cli_quote(buf, size, shown != NULL ? shown : "(out of memory)");
    if (shown != clean) {
        free(shown);
    }
    free(clean);
    return buf;
}

/* Judges a 2xx answer's body, text (NUL-terminated) of len bytes. */
static int judge_body(const cli_target *t, const char *text, size_t len, char *msg, size_t size)
{
    char start[EXCERPT_SIZE];
    long items;
    switch (cli_json_scan(text, len, t->answer_key, &items)) {
    case CLI_JSON_INVALID:
        snprintf(msg, size, "the answer is not valid JSON: %s",
                 cli_target_excerpt(t, text, start, sizeof(start)));
        return 0;
    case CLI_JSON_NOT_OBJECT:
        snprintf(msg, size, "the answer is not a JSON object: %s",
                 cli_target_excerpt(t, text, start, sizeof(start)));
        return 0;
    case CLI_JSON_OBJECT: break;
    }
    if (items <= 0) {
        snprintf(msg, size, "the answer has no non-empty \"%s\" array: %s", t->answer_key,
                 cli_target_excerpt(t, text, start, sizeof(start)));
        return 0;
    }
    return 1;
}

int cli_target_judge(const cli_target *t, long status, const char *text, size_t len, char *msg,
                     size_t size)
{
    char start[EXCERPT_SIZE];
    if (status < 200 || status > 299) {
        snprintf(msg, size, "HTTP %ld: %s", status,
                 cli_target_excerpt(t, text, start, sizeof(start)));
        return 0;
    }
    return judge_body(t, text, len, msg, size);
}

void cli_timeout_message(uint64_t timeout_ns, char *msg, size_t size)
{
    snprintf(msg, size, "no answer within %ld ms", timeout_ms(timeout_ns));
}

/* Why a transfer that failed did, scrubbed: curl's error buffer may quote
 * the URL or what the server said. */
static void failure(const cli_exchange *x, CURLcode rc, char *msg, size_t size)
{
    transfer_failure(x, rc, msg, size);
    char *clean = cli_scrub(msg, size, &x->target->http->secrets, &x->target->secrets);
    snprintf(msg, size, "%s", clean != NULL ? clean : "out of memory");
    free(clean);
}

int cli_exchange_judge(const cli_exchange *x, CURLcode rc, char *msg, size_t size)
{
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        cli_timeout_message(x->timeout_ns, msg, size);
        return 0;
    }
    if (x->answer.too_large) {
        cli_answer_too_large(msg, size);
        return 0;
    }
    if (rc != CURLE_OK) {
        failure(x, rc, msg, size);
        return 0;
    }
    long status = 0;
    curl_off_t us = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &us);
    const char *text = x->answer.text != NULL ? x->answer.text : "";
    if (!cli_target_judge(x->target, status, text, x->answer.len, msg, size)) {
        return 0;
    }
    snprintf(msg, size, "HTTP %ld in %lld ms", status, (long long)(us / 1000));
    return 1;
}
