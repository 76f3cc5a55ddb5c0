/* defaults.c: the built-in payloads of SPEC 1.3, kept as JSON text so that the
 * table reads like the specification. */
#include "defaults.h"

#include <stdio.h>

#include "json_text.h"

#define HAIKU "Write a haiku about artificial intelligence:"

/* Indexed [model type][level]. The tokens rows are split where the BOS token
 * id goes: text before it, then text after it. */
static const char *const default_payloads[4][3] = {
    [DYNHC_MODEL_GENERATE] = {
        "{\"prompt\":\"1\",\"max_tokens\":1,\"temperature\":0.0,\"stream\":false}",
        "{\"prompt\":\"The sky is\",\"max_tokens\":5,\"temperature\":0.7,\"stream\":false}",
        "{\"prompt\":\"" HAIKU "\",\"max_tokens\":50,\"temperature\":0.8,\"top_p\":0.95,"
        "\"frequency_penalty\":0.5,\"presence_penalty\":0.5,\"stream\":false}",
    },
    [DYNHC_MODEL_CHAT] = {
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":1,"
        "\"temperature\":0.0,\"stream\":false}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"The sky is\"}],\"max_tokens\":5,"
        "\"temperature\":0.7,\"stream\":false}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"" HAIKU "\"}],\"max_tokens\":50,"
        "\"temperature\":0.8,\"top_p\":0.95,\"frequency_penalty\":0.5,"
        "\"presence_penalty\":0.5,\"stream\":false}",
    },
    [DYNHC_MODEL_EMBEDDING] = {
        "{\"input\":\"test\"}",
        "{\"input\":\"The sky is\"}",
        "{\"input\":[\"" HAIKU "\",\"The sky is\"]}",
    },
    [DYNHC_MODEL_TOKENS] = {
        "],\"stop_conditions\":{\"max_tokens\":1},\"sampling_options\":{\"temperature\":0.0}}",
        "],\"stop_conditions\":{\"max_tokens\":5},\"sampling_options\":{\"temperature\":0.7}}",
        "],\"stop_conditions\":{\"max_tokens\":50},\"sampling_options\":{\"temperature\":0.8,"
        "\"top_p\":0.95,\"frequency_penalty\":0.5,\"presence_penalty\":0.5}}",
    },
};

size_t dynhcp_default_payload_text(dynhc_model_type type, dynhc_level level, long long bos_token_id,
                                   char *buf, size_t size)
{
    if ((unsigned)type > DYNHC_MODEL_TOKENS || (unsigned)level > DYNHC_LEVEL_COMPREHENSIVE) {
        return 0;
    }
    int n = type == DYNHC_MODEL_TOKENS
                ? snprintf(buf, size, "{\"token_ids\":[%lld%s", bos_token_id,
                           default_payloads[type][level])
                : snprintf(buf, size, "%s", default_payloads[type][level]);
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

cJSON *dynhcp_default_payload(dynhc_model_type type, dynhc_level level, long long bos_token_id)
{
    char text[DYNHCP_DEFAULT_PAYLOAD_MAX];
    size_t len = dynhcp_default_payload_text(type, level, bos_token_id, text, sizeof(text));
    dynhcp_pos origin = {1, 1};
    return len > 0 ? dynhcp_json_parse(text, len, origin, NULL, NULL) : NULL;
}
