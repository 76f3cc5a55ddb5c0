/* settings.c: parsing booleans, durations, levels and model types. */
#include "settings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int dynhc_parse_duration(const char *text, uint64_t *ns)
{
    if (text == NULL || ns == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    size_t len;
    const char *s = dynhcp_trim(text, &len);
    return dynhcp_parse_duration(s, len, ns) == NULL ? DYNHC_OK : DYNHC_ERR_INVALID_ARG;
}
