/* settings.c: parsing booleans, durations, levels and model types. */
#include "settings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "json_text.h"
#include "text.h"

const char *dynhcp_process_getenv(const char *name, void *user_data)
{
    (void)user_data;
    return getenv(name);
}

const char *dynhcp_parse_bool(const char *s, size_t len, int *out)
{
    static const char *const truthy[] = {"true", "1", "yes", "on"};
    static const char *const falsy[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++) {
        if (dynhcp_equals_nocase(s, len, truthy[i])) {
            *out = 1;
            return NULL;
        }
        if (dynhcp_equals_nocase(s, len, falsy[i])) {
            *out = 0;
            return NULL;
        }
    }
    return "expected true, false, 1, 0, yes, no, on or off";
}

static const char duration_grammar[] =
    "expected a number of seconds (10, 2.5) or a number with one unit ms, s, m or h (500ms, 1m)";

const char *dynhcp_parse_duration(const char *s, size_t len, uint64_t *ns)
{
    size_t i = 0;
    uint64_t whole = 0;
    int whole_digits = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (whole > DYNHCP_DURATION_MAX_NS) {
            return "above the 24 h limit";
        }
        whole = whole * 10 + (uint64_t)(s[i] - '0');
        whole_digits++;
        i++;
    }
    if (whole_digits == 0) {
        return (i < len && s[i] == '-') ? "must be greater than zero" : duration_grammar;
    }
    size_t fraction_start = 0, fraction_end = 0;
    if (i < len && s[i] == '.') {
        fraction_start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        fraction_end = i;
        if (fraction_end == fraction_start) {
            return duration_grammar;
        }
    }
    uint64_t unit = DYNHCP_NS_PER_SEC;
    size_t unit_len = len - i;
    if (unit_len == 0 || dynhcp_equals_nocase(s + i, unit_len, "s")) {
        unit = DYNHCP_NS_PER_SEC;
    } else if (dynhcp_equals_nocase(s + i, unit_len, "ms")) {
        unit = 1000000ull;
    } else if (dynhcp_equals_nocase(s + i, unit_len, "m")) {
        unit = 60ull * DYNHCP_NS_PER_SEC;
    } else if (dynhcp_equals_nocase(s + i, unit_len, "h")) {
        unit = 3600ull * DYNHCP_NS_PER_SEC;
    } else {
        return duration_grammar;
    }
    if (whole > DYNHCP_DURATION_MAX_NS / unit) {
        return "above the 24 h limit";
    }
    uint64_t total = whole * unit;
    /* Digit by digit, so the fraction stays exact down to the nanosecond. */
    uint64_t scale = unit;
    for (size_t k = fraction_start; k < fraction_end && scale >= 10; k++) {
        scale /= 10;
        total += (uint64_t)(s[k] - '0') * scale;
    }
    if (total == 0) {
        return "must be greater than zero";
    }
    if (total > DYNHCP_DURATION_MAX_NS) {
        return "above the 24 h limit";
    }
    *ns = total;
    return NULL;
}

const char *dynhcp_duration_from_seconds(double seconds, uint64_t *ns)
{
    if (isnan(seconds) || isinf(seconds)) {
        return "must be a finite number of seconds";
    }
    if (seconds <= 0) {
        return "must be greater than zero";
    }
    if (seconds > (double)(DYNHCP_DURATION_MAX_NS / DYNHCP_NS_PER_SEC)) {
        return "above the 24 h limit";
    }
    uint64_t total = (uint64_t)(seconds * (double)DYNHCP_NS_PER_SEC);
    if (total == 0) {
        return "must be greater than zero";
    }
    *ns = total;
    return NULL;
}

const char *dynhcp_parse_level(const char *s, size_t len, dynhc_level *out)
{
    static const dynhc_level levels[] = {DYNHC_LEVEL_MINIMAL, DYNHC_LEVEL_STANDARD,
                                         DYNHC_LEVEL_COMPREHENSIVE};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        if (dynhcp_equals_nocase(s, len, dynhc_level_name(levels[i]))) {
            *out = levels[i];
            return NULL;
        }
    }
    return "expected minimal, standard or comprehensive";
}

const char *dynhcp_parse_model_type(const char *s, size_t len, dynhc_model_type *out)
{
    static const struct {
        const char *name;
        dynhc_model_type type;
    } names[] = {
        {"generate", DYNHC_MODEL_GENERATE}, {"completion", DYNHC_MODEL_GENERATE},
        {"completions", DYNHC_MODEL_GENERATE}, {"text", DYNHC_MODEL_GENERATE},
        {"chat", DYNHC_MODEL_CHAT}, {"chat-completions", DYNHC_MODEL_CHAT},
        {"embedding", DYNHC_MODEL_EMBEDDING}, {"embeddings", DYNHC_MODEL_EMBEDDING},
        {"embed", DYNHC_MODEL_EMBEDDING}, {"tokens", DYNHC_MODEL_TOKENS},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (dynhcp_equals_nocase(s, len, names[i].name)) {
            *out = names[i].type;
            return NULL;
        }
    }
    return "expected generate (completion, completions, text), chat (chat-completions), "
           "embedding (embeddings, embed) or tokens";
}

const char *dynhc_model_type_name(dynhc_model_type type)
{
    switch (type) {
    case DYNHC_MODEL_GENERATE: return "generate";
    case DYNHC_MODEL_CHAT: return "chat";
    case DYNHC_MODEL_EMBEDDING: return "embedding";
    case DYNHC_MODEL_TOKENS: return "tokens";
    }
    return "unknown";
}

const char *dynhc_level_name(dynhc_level level)
{
    switch (level) {
    case DYNHC_LEVEL_MINIMAL: return "minimal";
    case DYNHC_LEVEL_STANDARD: return "standard";
    case DYNHC_LEVEL_COMPREHENSIVE: return "comprehensive";
    }
    return "unknown";
}

const char *dynhc_source_name(dynhc_source source)
{
    switch (source) {
    case DYNHC_SOURCE_NONE: return "none";
    case DYNHC_SOURCE_RUNTIME: return "runtime";
    case DYNHC_SOURCE_ENV: return "env";
    case DYNHC_SOURCE_ENV_FILE: return "env-file";
    case DYNHC_SOURCE_CONFIG: return "config";
    case DYNHC_SOURCE_CUSTOM: return "custom";
    case DYNHC_SOURCE_DEFAULT: return "default";
    }
    return "unknown";
}

int dynhc_model_type_from_name(const char *name, dynhc_model_type *out)
{
    if (name == NULL || out == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    size_t len;
    const char *s = dynhcp_trim(name, &len);
    return dynhcp_parse_model_type(s, len, out) == NULL ? DYNHC_OK : DYNHC_ERR_UNKNOWN_MODEL_TYPE;
}

int dynhc_level_from_name(const char *name, dynhc_level *out)
{
    if (name == NULL || out == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    size_t len;
    const char *s = dynhcp_trim(name, &len);
    return dynhcp_parse_level(s, len, out) == NULL ? DYNHC_OK : DYNHC_ERR_UNKNOWN_LEVEL;
}

const char *dynhcp_parse_port(const char *s, size_t len, int *out)
{
    static const char expected[] = "expected a port from 0 to 65535, or -1 for off";
    if (len == 2 && s[0] == '-' && s[1] == '1') {
        *out = -1;
        return NULL;
    }
    if (len == 0 || len > 5) {
        return expected;
    }
    int port = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return expected;
        }
        port = port * 10 + (s[i] - '0');
    }
    if (port > 65535) {
        return expected;
    }
    *out = port;
    return NULL;
}

const char *dynhcp_parse_status_path(const char *s, size_t len)
{
    if (len == 0 || s[0] != '/') {
        return "expected a path starting with '/'";
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7F || c == '?' || c == '#') {
            return "expected a path without spaces, control characters, '?' or '#'";
        }
    }
    if (len == strlen(DYNHCP_METRICS_PATH) && memcmp(s, DYNHCP_METRICS_PATH, len) == 0) {
        return "reserved for the metrics";
    }
    return NULL;
}

const char *dynhcp_status_paths_clash(const char *health, size_t health_len, const char *live,
                                      size_t live_len, const char *health_now, const char *live_now,
                                      int *live_gives_way)
{
    /* Judged together, so that moving both at once works in either order. */
    *live_gives_way = 1;
    if (live != NULL &&
        (health != NULL ? live_len == health_len && memcmp(live, health, live_len) == 0
                        : dynhcp_equals(live, live_len, health_now))) {
        return "same as the health path";
    }
    if (health != NULL && live == NULL && dynhcp_equals(health, health_len, live_now)) {
        *live_gives_way = 0;
        return "same as the live path";
    }
    return NULL;
}

int dynhcp_parse_endpoint_names(const char *raw, cJSON **list, dynhcp_posmap *map,
                                dynhcp_parse_error *err)
{
    *list = NULL;
    size_t len;
    const char *text = dynhcp_trim(raw, &len);
    if (len == 0) {
        return 0;
    }
    if (dynhcp_utf8_check(raw, strlen(raw), err) != 0) {
        return -1;
    }
    cJSON *parsed =
        dynhcp_json_parse(text, len, dynhcp_pos_at(raw, (size_t)(text - raw)), map, err);
    if (parsed == NULL) {
        return -1;
    }
    const cJSON *bad = cJSON_IsArray(parsed) && parsed->child != NULL ? NULL : parsed;
    for (const cJSON *item = bad == NULL ? parsed->child : NULL; item != NULL; item = item->next) {
        if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
            bad = item;
            break;
        }
    }
    if (bad != NULL) {
        dynhcp_parse_error_set(err, dynhcp_posmap_find(map, bad), "%s",
                               bad == parsed ? "expected a JSON array of endpoint names such as "
                                               "[\"generate\"]"
                                             : "endpoint names must be non-empty strings");
        cJSON_Delete(parsed);
        return -1;
    }
    *list = parsed;
    return 0;
}

const char *dynhcp_parse_start_status(const char *s, size_t len, int *ready)
{
    if (dynhcp_equals_nocase(s, len, "ready")) {
        *ready = 1;
        return NULL;
    }
    if (dynhcp_equals_nocase(s, len, "notready")) {
        *ready = 0;
        return NULL;
    }
    return "expected ready or notready";
}

const char *dynhcp_parse_log_level(const char *s, size_t len, int *out)
{
    /* In the order of dynhc_log_level. */
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (dynhcp_equals_nocase(s, len, names[i])) {
            *out = i;
            return NULL;
        }
    }
    return "expected error, warn, info or debug";
}

const char *dynhcp_parse_host(const char *s, size_t len, struct sockaddr_storage *addr)
{
    static const char expected[] = "expected an IPv4 or IPv6 address, or localhost";
    char text[INET6_ADDRSTRLEN];
    if (len == 0 || len >= sizeof(text)) {
        return expected;
    }
    memcpy(text, s, len);
    text[len] = '\0';
    if (dynhcp_equals_nocase(s, len, "localhost")) {
        memcpy(text, "127.0.0.1", sizeof("127.0.0.1"));
    }
    struct sockaddr_storage parsed;
    memset(&parsed, 0, sizeof(parsed));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&parsed;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&parsed;
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
    } else {
        return expected;
    }
    if (addr != NULL) {
        *addr = parsed;
    }
    return NULL;
}

int dynhc_parse_duration(const char *text, uint64_t *ns)
{
    if (text == NULL || ns == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    size_t len;
    const char *s = dynhcp_trim(text, &len);
    return dynhcp_parse_duration(s, len, ns) == NULL ? DYNHC_OK : DYNHC_ERR_INVALID_ARG;
}
