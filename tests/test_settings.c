/* test_settings.c: the value rules of SPEC 1.2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "settings.h"
#include "sized.h"
#include "text.h"

static const char *bool_of(const char *s, int *out)
{
    return dynhcp_parse_bool(s, strlen(s), out);
}

static void bool_accepts_every_spelling_in_any_case(void **state)
{
    (void)state;
    const char *truthy[] = {"true", "TRUE", "True", "1", "yes", "YES", "on", "On"};
    const char *falsy[] = {"false", "FALSE", "0", "no", "No", "off", "OFF"};
    for (size_t i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++) {
        int v = -1;
        assert_null(bool_of(truthy[i], &v));
        assert_int_equal(v, 1);
    }
    for (size_t i = 0; i < sizeof(falsy) / sizeof(falsy[0]); i++) {
        int v = -1;
        assert_null(bool_of(falsy[i], &v));
        assert_int_equal(v, 0);
    }
}

static void bool_rejects_other_words(void **state)
{
    (void)state;
    const char *bad[] = {"", "2", "y", "n", "truee", "enabled", "t", "-1", "on1", "ye"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int v = 7;
        assert_non_null(bool_of(bad[i], &v));
        assert_int_equal(v, 7);
    }
}

static uint64_t duration_ok(const char *s)
{
    uint64_t ns = 0;
    const char *why = dynhcp_parse_duration(s, strlen(s), &ns);
    if (why != NULL) {
        fail_msg("%s rejected: %s", s, why);
    }
    return ns;
}

static void duration_accepts_seconds_and_units(void **state)
{
    (void)state;
    assert_true(duration_ok("30") == 30ull * DYNHCP_NS_PER_SEC);
    assert_true(duration_ok("2.5") == 2500000000ull);
    assert_true(duration_ok("500ms") == 500000000ull);
    assert_true(duration_ok("1m") == 60ull * DYNHCP_NS_PER_SEC);
    assert_true(duration_ok("1.5m") == 90ull * DYNHCP_NS_PER_SEC);
    assert_true(duration_ok("2h") == 7200ull * DYNHCP_NS_PER_SEC);
    assert_true(duration_ok("10s") == 10ull * DYNHCP_NS_PER_SEC);
    assert_true(duration_ok("0.001") == 1000000ull);
    assert_true(duration_ok("24h") == DYNHCP_DURATION_MAX_NS);
    assert_true(duration_ok("86400") == DYNHCP_DURATION_MAX_NS);
    assert_true(duration_ok("1MS") == 1000000ull);
}

static void duration_rejects_zero_negative_garbage_and_overflow(void **state)
{
    (void)state;
    const char *bad[] = {"0", "0.0", "0ms", "-1", "-0.5", "nan", "NaN", "inf", "infinity",
                         "30x", "10 s", "1e3", ".5", "5.", "", "s", "1.5.2", "+3",
                         "86400.001", "25h", "1441m", "99999999999999999999999",
                         "0.0000000001", "1ns", "1d", "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t ns = 42;
        if (dynhcp_parse_duration(bad[i], strlen(bad[i]), &ns) == NULL) {
            fail_msg("\"%s\" was accepted", bad[i]);
        }
        assert_true(ns == 42);
    }
}

static void duration_from_seconds_applies_the_same_bounds(void **state)
{
    (void)state;
    uint64_t ns = 0;
    assert_null(dynhcp_duration_from_seconds(2.5, &ns));
    assert_true(ns == 2500000000ull);
    assert_non_null(dynhcp_duration_from_seconds(0, &ns));
    assert_non_null(dynhcp_duration_from_seconds(-1, &ns));
    assert_non_null(dynhcp_duration_from_seconds(86401, &ns));
    assert_non_null(dynhcp_duration_from_seconds(NAN, &ns));
    assert_non_null(dynhcp_duration_from_seconds(INFINITY, &ns));
}

static void level_and_model_type_names_are_case_insensitive(void **state)
{
    (void)state;
    dynhc_level level = DYNHC_LEVEL_MINIMAL;
    assert_null(dynhcp_parse_level("STANDARD", 8, &level));
    assert_int_equal(level, DYNHC_LEVEL_STANDARD);
    assert_null(dynhcp_parse_level("Comprehensive", 13, &level));
    assert_int_equal(level, DYNHC_LEVEL_COMPREHENSIVE);
    assert_non_null(dynhcp_parse_level("max", 3, &level));

    struct {
        const char *name;
        dynhc_model_type type;
    } cases[] = {
        {"generate", DYNHC_MODEL_GENERATE}, {"Completion", DYNHC_MODEL_GENERATE},
        {"COMPLETIONS", DYNHC_MODEL_GENERATE}, {"text", DYNHC_MODEL_GENERATE},
        {"chat", DYNHC_MODEL_CHAT}, {"Chat-Completions", DYNHC_MODEL_CHAT},
        {"embedding", DYNHC_MODEL_EMBEDDING}, {"EMBEDDINGS", DYNHC_MODEL_EMBEDDING},
        {"embed", DYNHC_MODEL_EMBEDDING}, {"tokens", DYNHC_MODEL_TOKENS},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dynhc_model_type type = DYNHC_MODEL_TOKENS;
        assert_null(dynhcp_parse_model_type(cases[i].name, strlen(cases[i].name), &type));
        assert_int_equal(type, cases[i].type);
    }
    dynhc_model_type type = DYNHC_MODEL_CHAT;
    assert_non_null(dynhcp_parse_model_type("chat_completions", 16, &type));
    assert_non_null(dynhcp_parse_model_type("", 0, &type));
    assert_int_equal(type, DYNHC_MODEL_CHAT);
}

static void quote_escapes_and_cuts_long_values(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(dynhcp_quote(buf, sizeof(buf), "a\"b\n\x01", 5), "\"a\\\"b\\n\\x01\"");
    const char *long_value = "abcdefghijklmnopqrstuvwxyz0123456789";
    dynhcp_quote(buf, sizeof(buf), long_value, strlen(long_value));
    assert_true(strlen(buf) < sizeof(buf));
    assert_non_null(strstr(buf, "...\""));
}

static void public_duration_parser_trims_and_refuses_like_the_environment(void **state)
{
    (void)state;
    uint64_t ns = 0;
    assert_int_equal(dynhc_parse_duration(" 500ms\n", &ns), DYNHC_OK);
    assert_true(ns == 500000000ull);
    assert_int_equal(dynhc_parse_duration("1.5m", &ns), DYNHC_OK);
    assert_true(ns == 90ull * DYNHCP_NS_PER_SEC);
    ns = 7;
    assert_int_equal(dynhc_parse_duration("0", &ns), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_parse_duration("", &ns), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_parse_duration("25h", &ns), DYNHC_ERR_INVALID_ARG);
    assert_true(ns == 7);
    assert_int_equal(dynhc_parse_duration(NULL, &ns), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_parse_duration("1", NULL), DYNHC_ERR_INVALID_ARG);
}

/* The structs that can grow (sized.h), across versions: a reader of version
 * 2 given version 1, 2 and 3 of a struct. */
typedef struct v1 {
    size_t size;
    const char *a;
} v1;
typedef struct v2 {
    size_t size;
    const char *a;
    const char *b;
} v2;
typedef struct v3 {
    size_t size;
    const char *a;
    const char *b;
    const char *c;
} v3;

static void sized_structs_are_read_up_to_the_callers_size(void **state)
{
    (void)state;
    const size_t min = DYNHCP_SIZE_UP_TO(v2, a); /* version 1 was the first */
    assert_int_equal(min, sizeof(v1));
    v2 out = {99, "stale", "stale"};

    v1 older = {sizeof(v1), "a"};
    assert_int_equal(dynhcp_copy_sized(&out, sizeof(out), &older, min), DYNHC_OK);
    assert_int_equal(out.size, sizeof(v1));
    assert_string_equal(out.a, "a");
    assert_null(out.b); /* a field the older caller did not know: unset */

    v2 same = {sizeof(v2), "a", "b"};
    assert_int_equal(dynhcp_copy_sized(&out, sizeof(out), &same, min), DYNHC_OK);
    assert_string_equal(out.b, "b");

    v3 newer = {sizeof(v3), "a2", "b2", NULL};
    assert_int_equal(dynhcp_copy_sized(&out, sizeof(out), &newer, min), DYNHC_OK);
    assert_string_equal(out.a, "a2");
    newer.c = "set";
    assert_int_equal(dynhcp_copy_sized(&out, sizeof(out), &newer, min), DYNHC_ERR_INVALID_ARG);
    assert_string_equal(out.a, "a2"); /* refused: nothing copied */

    v1 none = {0, "x"};
    assert_int_equal(dynhcp_copy_sized(&out, sizeof(out), &none, min), DYNHC_ERR_INVALID_ARG);
    none.size = sizeof(v1) - 1;
    assert_int_equal(dynhcp_copy_sized(&out, sizeof(out), &none, min), DYNHC_ERR_INVALID_ARG);
    assert_string_equal(out.a, "a2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bool_accepts_every_spelling_in_any_case),
        cmocka_unit_test(bool_rejects_other_words),
        cmocka_unit_test(duration_accepts_seconds_and_units),
        cmocka_unit_test(duration_rejects_zero_negative_garbage_and_overflow),
        cmocka_unit_test(duration_from_seconds_applies_the_same_bounds),
        cmocka_unit_test(level_and_model_type_names_are_case_insensitive),
        cmocka_unit_test(quote_escapes_and_cuts_long_values),
        cmocka_unit_test(public_duration_parser_trims_and_refuses_like_the_environment),
        cmocka_unit_test(sized_structs_are_read_up_to_the_callers_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
