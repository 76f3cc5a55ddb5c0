/* payload_check.c: shape and range checks of a payload against its model type. */
#include "payload_check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "settings.h"

/* Everything one check needs to say where a problem is. */
typedef struct check_ctx {
    const char *source;
    const dynhcp_posmap *map;
    dynhcp_diags *diags;
    int warnings;
} check_ctx;

#define WARN(ctx, node, ...)                                                                       \
    do {                                                                                           \
        dynhcp_diags_add((ctx)->diags, DYNHC_SEVERITY_WARNING, (ctx)->source,                      \
                         dynhcp_posmap_find((ctx)->map, (node)), __VA_ARGS__);                     \
        (ctx)->warnings++;                                                                         \
    } while (0)

/* What node is, for a message: a number as it was written (from the map,
 * else its shortest spelling), the string "...", true, false, null, an
 * array, an object. Never depends on the locale. */
static const char *describe(const check_ctx *ctx, const cJSON *node, char *buf, size_t size)
{
    if (cJSON_IsNumber(node)) {
        const char *token = dynhcp_posmap_token(ctx->map, node);
        char number[DYNHCP_NUMBER_TEXT_SIZE];
        if (token == NULL) {
            token = dynhcp_format_double(number, node->valuedouble);
        }
        snprintf(buf, size, "%s", token);
    } else if (cJSON_IsString(node)) {
        char quoted[96];
        snprintf(
            buf, size, "the string %s",
            dynhcp_quote(quoted, sizeof(quoted), node->valuestring, strlen(node->valuestring)));
    } else {
        snprintf(buf, size, "%s", cJSON_IsTrue(node)    ? "true"
                                  : cJSON_IsFalse(node) ? "false"
                                  : cJSON_IsNull(node)  ? "null"
                                  : cJSON_IsArray(node) ? "an array"
                                                        : "an object");
    }
    return buf;
}

/* JSON numbers are doubles: 2^53 is where they stop being exact integers. */
static int is_integer(const cJSON *node)
{
    return cJSON_IsNumber(node) && isfinite(node->valuedouble) &&
           floor(node->valuedouble) == node->valuedouble && fabs(node->valuedouble) <= 9007199254740992.0;
}

static int is_nonempty_array(const cJSON *node)
{
    return cJSON_IsArray(node) && node->child != NULL;
}

static void check_token_ids(check_ctx *ctx, const cJSON *ids)
{
    if (!is_nonempty_array(ids)) {
        WARN(ctx, ids, "\"token_ids\" must be a non-empty array of token ids");
        return;
    }
    const cJSON *id;
    cJSON_ArrayForEach(id, ids) {
        if (!is_integer(id) || id->valuedouble < 0) {
            WARN(ctx, id, "\"token_ids\" items must be non-negative integers");
            return;
        }
    }
}

static void check_budget(check_ctx *ctx, const cJSON *parent, const char *key)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(parent, key);
    if (value == NULL) {
        return;
    }
    char what[160];
    if (!is_integer(value) || value->valuedouble < 1) {
        WARN(ctx, value, "\"%s\" is %s: expected a positive integer", key,
             describe(ctx, value, what, sizeof(what)));
    } else if (value->valuedouble > DYNHCP_LARGE_TOKEN_BUDGET) {
        WARN(ctx, value, "\"%s\" is %s: a large budget for a health check (above %d)", key,
             describe(ctx, value, what, sizeof(what)), DYNHCP_LARGE_TOKEN_BUDGET);
    }
}

/* low_open: the range excludes its lower bound; range is how a message
 * writes it ("(0, 1]"). */
static void check_range(check_ctx *ctx, const cJSON *parent, const char *key, double low,
                        int low_open, double high, const char *range)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(parent, key);
    if (value == NULL) {
        return;
    }
    double v = value->valuedouble;
    if (!cJSON_IsNumber(value) || (low_open ? v <= low : v < low) || v > high) {
        char what[160];
        WARN(ctx, value, "\"%s\" is %s: expected a number in %s", key,
             describe(ctx, value, what, sizeof(what)), range);
    }
}

static void check_sampling(check_ctx *ctx, const cJSON *parent)
{
    check_range(ctx, parent, "temperature", 0, 0, 2, "[0, 2]");
    check_range(ctx, parent, "top_p", 0, 1, 1, "(0, 1]");
    check_range(ctx, parent, "frequency_penalty", -2, 0, 2, "[-2, 2]");
    check_range(ctx, parent, "presence_penalty", -2, 0, 2, "[-2, 2]");
}

static void check_messages(check_ctx *ctx, const cJSON *payload)
{
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(payload, "messages");
    if (!is_nonempty_array(messages)) {
        WARN(ctx, messages != NULL ? messages : payload,
             "a chat payload needs a non-empty \"messages\" array");
        return;
    }
    const cJSON *message;
    cJSON_ArrayForEach(message, messages) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(message, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(message, "content");
        if (!cJSON_IsObject(message) || !cJSON_IsString(role) ||
            !(cJSON_IsString(content) || cJSON_IsArray(content))) {
            WARN(ctx, message,
                 "each message must be an object with a string \"role\" and a \"content\"");
            return;
        }
    }
}

static void check_shape(check_ctx *ctx, const cJSON *payload, dynhc_model_type type)
{
    switch (type) {
    case DYNHC_MODEL_GENERATE: {
        const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(payload, "prompt");
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(payload, "token_ids");
        if (prompt == NULL && ids == NULL) {
            WARN(ctx, payload, "a generate payload needs \"prompt\" or \"token_ids\"");
        } else if (prompt != NULL && !cJSON_IsString(prompt) && !is_nonempty_array(prompt)) {
            WARN(ctx, prompt, "\"prompt\" must be a string or a non-empty array");
        } else if (ids != NULL) {
            check_token_ids(ctx, ids);
        }
        break;
    }
    case DYNHC_MODEL_CHAT:
        check_messages(ctx, payload);
        break;
    case DYNHC_MODEL_EMBEDDING: {
        const cJSON *input = cJSON_GetObjectItemCaseSensitive(payload, "input");
        if (input == NULL) {
            WARN(ctx, payload, "an embedding payload needs \"input\"");
        } else if (!cJSON_IsString(input) && !is_nonempty_array(input)) {
            WARN(ctx, input, "\"input\" must be a string or a non-empty array");
        }
        break;
    }
    case DYNHC_MODEL_TOKENS: {
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(payload, "token_ids");
        if (ids == NULL) {
            WARN(ctx, payload, "a tokens payload needs \"token_ids\"");
        } else {
            check_token_ids(ctx, ids);
        }
        break;
    }
    }
}

int dynhcp_payload_check(const cJSON *payload, dynhc_model_type type, const char *source,
                         const dynhcp_posmap *map, dynhcp_diags *diags)
{
    check_ctx ctx = {source, map, diags, 0};
    if (payload->child == NULL) {
        WARN(&ctx, payload, "the payload is an empty object {}: the check sends an empty request");
        return ctx.warnings;
    }
    check_shape(&ctx, payload, type);
    check_budget(&ctx, payload, "max_tokens");
    check_budget(&ctx, payload, "max_completion_tokens");
    check_sampling(&ctx, payload);
    if (type == DYNHC_MODEL_TOKENS) {
        const cJSON *stop = cJSON_GetObjectItemCaseSensitive(payload, "stop_conditions");
        const cJSON *sampling = cJSON_GetObjectItemCaseSensitive(payload, "sampling_options");
        if (cJSON_IsObject(stop)) {
            check_budget(&ctx, stop, "max_tokens");
        }
        if (cJSON_IsObject(sampling)) {
            check_sampling(&ctx, sampling);
        }
    }
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(payload, "stream");
    if (stream != NULL && !cJSON_IsBool(stream)) {
        char what[160];
        WARN(&ctx, stream, "\"stream\" is %s: expected true or false",
             describe(&ctx, stream, what, sizeof(what)));
    }
    return ctx.warnings;
}

static long long budget_of(const cJSON *parent, const char *key)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(parent, key);
    return is_integer(value) && value->valuedouble >= 1 ? (long long)value->valuedouble : 0;
}

long long dynhcp_payload_token_budget(const cJSON *payload, dynhc_model_type type)
{
    switch (type) {
    case DYNHC_MODEL_EMBEDDING:
        return 0;
    case DYNHC_MODEL_TOKENS: {
        long long budget = budget_of(cJSON_GetObjectItemCaseSensitive(payload, "stop_conditions"),
                                     "max_tokens");
        return budget != 0 ? budget : budget_of(payload, "max_tokens");
    }
    case DYNHC_MODEL_GENERATE:
    case DYNHC_MODEL_CHAT:
        break;
    }
    long long budget = budget_of(payload, "max_tokens");
    return budget != 0 ? budget : budget_of(payload, "max_completion_tokens");
}
