/* test_defaults.c: the built-in table of SPEC 1.3, every model type and
 * level, compared as parsed JSON with the table written out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "defaults.h"
#include "support.h"

#define HAIKU "Write a haiku about artificial intelligence:"

static void check(dynhc_model_type type, dynhc_level level, long long bos, const char *expected)
{
    cJSON *payload = dynhcp_default_payload(type, level, bos);
    assert_non_null(payload);
    char *text = cJSON_PrintUnformatted(payload);
    assert_json_equal(expected, text);
    cJSON_free(text);
    cJSON_Delete(payload);
}

static void out_of_range_model_type_or_level_gives_no_payload(void **state)
{
    (void)state;
    assert_null(dynhcp_default_payload((dynhc_model_type)4, DYNHC_LEVEL_MINIMAL, 1));
    assert_null(dynhcp_default_payload(DYNHC_MODEL_CHAT, (dynhc_level)3, 1));
}

static void generate_defaults_match_the_table(void **state)
{
    (void)state;
    check(DYNHC_MODEL_GENERATE, DYNHC_LEVEL_MINIMAL, 1,
          "{\"prompt\":\"1\",\"max_tokens\":1,\"temperature\":0.0,\"stream\":false}");
    check(DYNHC_MODEL_GENERATE, DYNHC_LEVEL_STANDARD, 1,
          "{\"prompt\":\"The sky is\",\"max_tokens\":5,\"temperature\":0.7,\"stream\":false}");
    check(DYNHC_MODEL_GENERATE, DYNHC_LEVEL_COMPREHENSIVE, 1,
          "{\"prompt\":\"" HAIKU "\",\"max_tokens\":50,\"temperature\":0.8,\"top_p\":0.95,"
          "\"frequency_penalty\":0.5,\"presence_penalty\":0.5,\"stream\":false}");
}

static void chat_defaults_match_the_table(void **state)
{
    (void)state;
    check(DYNHC_MODEL_CHAT, DYNHC_LEVEL_MINIMAL, 1,
          "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":1,"
          "\"temperature\":0.0,\"stream\":false}");
    check(DYNHC_MODEL_CHAT, DYNHC_LEVEL_STANDARD, 1,
          "{\"messages\":[{\"role\":\"user\",\"content\":\"The sky is\"}],\"max_tokens\":5,"
          "\"temperature\":0.7,\"stream\":false}");
    check(DYNHC_MODEL_CHAT, DYNHC_LEVEL_COMPREHENSIVE, 1,
          "{\"messages\":[{\"role\":\"user\",\"content\":\"" HAIKU "\"}],\"max_tokens\":50,"
          "\"temperature\":0.8,\"top_p\":0.95,\"frequency_penalty\":0.5,"
          "\"presence_penalty\":0.5,\"stream\":false}");
}

static void embedding_defaults_match_the_table(void **state)
{
    (void)state;
    check(DYNHC_MODEL_EMBEDDING, DYNHC_LEVEL_MINIMAL, 1, "{\"input\":\"test\"}");
    check(DYNHC_MODEL_EMBEDDING, DYNHC_LEVEL_STANDARD, 1, "{\"input\":\"The sky is\"}");
    check(DYNHC_MODEL_EMBEDDING, DYNHC_LEVEL_COMPREHENSIVE, 1,
          "{\"input\":[\"" HAIKU "\",\"The sky is\"]}");
}

static void tokens_defaults_match_the_table_and_carry_the_bos_token(void **state)
{
    (void)state;
    check(DYNHC_MODEL_TOKENS, DYNHC_LEVEL_MINIMAL, 1,
          "{\"token_ids\":[1],\"stop_conditions\":{\"max_tokens\":1},"
          "\"sampling_options\":{\"temperature\":0.0}}");
    check(DYNHC_MODEL_TOKENS, DYNHC_LEVEL_STANDARD, 128000,
          "{\"token_ids\":[128000],\"stop_conditions\":{\"max_tokens\":5},"
          "\"sampling_options\":{\"temperature\":0.7}}");
    check(DYNHC_MODEL_TOKENS, DYNHC_LEVEL_COMPREHENSIVE, 0,
          "{\"token_ids\":[0],\"stop_conditions\":{\"max_tokens\":50},"
          "\"sampling_options\":{\"temperature\":0.8,\"top_p\":0.95,"
          "\"frequency_penalty\":0.5,\"presence_penalty\":0.5}}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(out_of_range_model_type_or_level_gives_no_payload),
        cmocka_unit_test(generate_defaults_match_the_table),
        cmocka_unit_test(chat_defaults_match_the_table),
        cmocka_unit_test(embedding_defaults_match_the_table),
        cmocka_unit_test(tokens_defaults_match_the_table_and_carry_the_bos_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
