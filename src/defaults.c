/* defaults.c: the built-in payloads of SPEC 1.3, kept as JSON text so that the
 * table reads like the specification. */
#include "defaults.h"

#include <string.h>

#include "json_text.h"

#define HAIKU "Write a haiku about artificial intelligence:"

/* Indexed [model type][level]. The tokens rows get the BOS token id appended
 * to their empty token_ids. */
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
        "{\"token_ids\":[],\"stop_conditions\":{\"max_tokens\":1},"
        "\"sampling_options\":{\"temperature\":0.0}}",
        "{\"token_ids\":[],\"stop_conditions\":{\"max_tokens\":5},"
        "\"sampling_options\":{\"temperature\":0.7}}",
        "{\"token_ids\":[],\"stop_conditions\":{\"max_tokens\":50},"
        "\"sampling_options\":{\"temperature\":0.8,\"top_p\":0.95,"
        "\"frequency_penalty\":0.5,\"presence_penalty\":0.5}}",
    },
};

cJSON *dh_default_payload(dynhc_model_type type, dynhc_level level, long long bos_token_id)
{
    if ((unsigned)type > DYNHC_MODEL_TOKENS || (unsigned)level > DYNHC_LEVEL_COMPREHENSIVE) {
        return NULL;
    }
    const char *text = default_payloads[type][level];
    dh_pos origin = {1, 1};
    cJSON *payload = dh_json_parse(text, strlen(text), origin, NULL, NULL);
    if (payload != NULL && type == DYNHC_MODEL_TOKENS) {
        cJSON *bos = cJSON_CreateNumber((double)bos_token_id);
        if (bos == NULL) {
            cJSON_Delete(payload);
            return NULL;
        }
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(payload, "token_ids"), bos);
    }
    return payload;
}
