/* http.c: the check that probe and watch send to an OpenAI-compatible server
 * (the route by model type, the body with "model" added) and the verdict on
 * the answer, one line per kind of failure. */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <dynhc/cjson.h>

/* A health answer is a few hundred bytes (embeddings: a few hundred KiB);
 * anything much larger is not one, and must not grow the sidecar. */
#define ANSWER_MAX (8u << 20)

/* Room for about 200 bytes of an answer in a message, escapes included. */
#define EXCERPT_SIZE 208

struct cli_exchange {
    CURL *easy;
    struct curl_slist *headers;
    const cli_target *target;
    uint64_t timeout_ns;
    char *answer; /* NUL-terminated */
    size_t len;
    size_t cap;
    int too_large;
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

/* The full URL for --url given; CLI_EXIT_USAGE when it is not http(s). */
static int target_url(const char *given, const char *route, char **out)
{
    char quoted[160];
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
        cli_usage_error("--url %s: expected an http:// or https:// URL%s%s%s",
                        cli_quote(quoted, sizeof(quoted), given), uc != CURLUE_OK ? " (" : "",
                        uc != CURLUE_OK ? curl_url_strerror(uc) : "", uc != CURLUE_OK ? ")" : "");
        code = CLI_EXIT_USAGE;
    } else if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
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

int cli_target_init(cli_target *t, const char *url, const dynhc_result *res, const char *model)
{
    memset(t, 0, sizeof(*t));
    dynhc_model_type type = dynhc_result_model_type(res);
    const char *route = route_of(type, &t->answer_key);
    if (route == NULL) {
        cli_usage_error("model type '%s' has no OpenAI-compatible route: probe and watch "
                        "take generate, chat or embedding",
                        dynhc_model_type_name(type));
        return CLI_EXIT_USAGE;
    }
    int code = target_url(url, route, &t->url);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    t->body = request_body(res, model != NULL ? model : dynhc_result_model_name(res));
    if (t->body == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

void cli_target_clear(cli_target *t)
{
    free(t->url);
    free(t->body);
    memset(t, 0, sizeof(*t));
}

static size_t collect(char *data, size_t size, size_t count, void *user_data)
{
    cli_exchange *x = user_data;
    size_t n = size * count;
    if (n > ANSWER_MAX - x->len) {
        x->too_large = 1;
        return 0; /* aborts the transfer */
    }
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap != 0 ? x->cap : 1024;
        while (cap < x->len + n + 1) {
            cap *= 2;
        }
        char *grown = realloc(x->answer, cap);
        if (grown == NULL) {
            return 0;
        }
        x->answer = grown;
        x->cap = cap;
    }
    memcpy(x->answer + x->len, data, n);
    x->len += n;
    x->answer[x->len] = '\0';
    return n;
}

/* The timeout in whole milliseconds, rounded up as curl takes it. */
static long timeout_ms(uint64_t ns)
{
    return (long)((ns + 999999) / 1000000);
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
    const char *const headers[] = {"Content-Type: application/json", "Accept: application/json",
                                   "Expect:"}; /* no 100-continue round trip */
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]) && x->easy != NULL; i++) {
        struct curl_slist *list = curl_slist_append(x->headers, headers[i]);
        if (list == NULL) {
            cli_exchange_free(x);
            return NULL;
        }
        x->headers = list;
    }
    char agent[32];
    snprintf(agent, sizeof(agent), "dynhc/%s", dynhc_version());
    if (x->easy == NULL || curl_easy_setopt(x->easy, CURLOPT_URL, t->url) != CURLE_OK ||
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, t->body) != CURLE_OK ||
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(t->body)) !=
            CURLE_OK ||
        curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers) != CURLE_OK ||
        curl_easy_setopt(x->easy, CURLOPT_USERAGENT, agent) != CURLE_OK ||
        curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, collect) != CURLE_OK ||
        curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x) != CURLE_OK ||
        curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->error) != CURLE_OK ||
        curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, timeout_ms(timeout_ns)) != CURLE_OK ||
        /* The check is about the server: never through a proxy that
         * http_proxy and friends would otherwise name. */
        curl_easy_setopt(x->easy, CURLOPT_PROXY, "") != CURLE_OK ||
        /* No SIGALRM around name lookups: watch has signal handlers of its own. */
        curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK) {
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
    curl_slist_free_all(x->headers);
    free(x->answer);
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

/* The start of the answer, quoted on one line. */
static const char *excerpt(const cli_exchange *x, char *buf, size_t size)
{
    return cli_quote(buf, size, x->answer != NULL ? x->answer : "");
}

/* Judges a 2xx answer's body. */
static int judge_body(const cli_exchange *x, char *msg, size_t size)
{
    char start[EXCERPT_SIZE];
    const char *key = x->target->answer_key;
    /* A NUL inside would end the text early: such an answer is no JSON. */
    cJSON *answer = x->answer != NULL && strlen(x->answer) == x->len
                        ? cJSON_ParseWithLengthOpts(x->answer, x->len + 1, NULL, 1)
                        : NULL;
    int healthy = 0;
    if (answer == NULL) {
        snprintf(msg, size, "the answer is not valid JSON: %s", excerpt(x, start, sizeof(start)));
    } else if (!cJSON_IsObject(answer)) {
        snprintf(msg, size, "the answer is not a JSON object: %s",
                 excerpt(x, start, sizeof(start)));
    } else {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(answer, key);
        healthy = cJSON_IsArray(items) && cJSON_GetArraySize(items) > 0;
        if (!healthy) {
            snprintf(msg, size, "the answer has no non-empty \"%s\" array: %s", key,
                     excerpt(x, start, sizeof(start)));
        }
    }
    cJSON_Delete(answer);
    return healthy;
}

int cli_exchange_judge(const cli_exchange *x, CURLcode rc, char *msg, size_t size)
{
    char start[EXCERPT_SIZE];
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(msg, size, "no answer within %ld ms", timeout_ms(x->timeout_ns));
        return 0;
    }
    if (x->too_large) {
        snprintf(msg, size, "the answer is larger than %u MiB", ANSWER_MAX >> 20);
        return 0;
    }
    if (rc != CURLE_OK) {
        transfer_failure(x, rc, msg, size);
        return 0;
    }
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        snprintf(msg, size, "HTTP %ld: %s", status, excerpt(x, start, sizeof(start)));
        return 0;
    }
    if (!judge_body(x, msg, size)) {
        return 0;
    }
    curl_off_t us = 0;
    curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &us);
    snprintf(msg, size, "HTTP %ld in %lld ms", status, (long long)(us / 1000));
    return 1;
}
