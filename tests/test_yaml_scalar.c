/* test_yaml_scalar.c: the YAML 1.2 core schema for scalars (SPEC 1.5,
 * src/readers/yaml_scalar.c) on its own, without libyaml. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "yaml_scalar.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void plain_scalars_take_their_core_schema_form(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        plain_form form;
    } cases[] = {
        {"", FORM_NULL},         {"~", FORM_NULL},         {"null", FORM_NULL},
        {"Null", FORM_NULL},     {"NULL", FORM_NULL},      {"nULL", FORM_STRING},
        {"true", FORM_TRUE},     {"True", FORM_TRUE},      {"TRUE", FORM_TRUE},
        {"false", FORM_FALSE},   {"False", FORM_FALSE},    {"FALSE", FORM_FALSE},
        {"yes", FORM_STRING},    {"on", FORM_STRING},      {"tRUE", FORM_STRING},
        {"0", FORM_INT},         {"-17", FORM_INT},        {"+3", FORM_INT},
        {"007", FORM_INT},       {"0x1F", FORM_HEX},       {"0xff", FORM_HEX},
        {"0x", FORM_STRING},     {"0xG", FORM_STRING},     {"-0x1", FORM_STRING},
        {"0o17", FORM_OCTAL},    {"0o8", FORM_STRING},     {"0o", FORM_STRING},
        {"1.5", FORM_FLOAT},     {".5", FORM_FLOAT},       {"5.", FORM_FLOAT},
        {"-2.5e-3", FORM_FLOAT}, {"1e10", FORM_FLOAT},     {"1E+2", FORM_FLOAT},
        {".", FORM_STRING},      {"1e", FORM_STRING},      {"e5", FORM_STRING},
        {"1_000", FORM_STRING},  {"1.2.3", FORM_STRING},   {"--1", FORM_STRING},
        {".inf", FORM_INF_NAN},  {"-.Inf", FORM_INF_NAN},  {"+.INF", FORM_INF_NAN},
        {".nan", FORM_INF_NAN},  {".NaN", FORM_INF_NAN},   {"-.nan", FORM_STRING},
        {"inf", FORM_STRING},    {"1 ", FORM_STRING},      {"hello", FORM_STRING},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        plain_form got = dynhcp_yaml_classify(cases[i].text, strlen(cases[i].text));
        if (got != cases[i].form) {
            fail_msg("\"%s\" is form %d, expected %d", cases[i].text, (int)got,
                     (int)cases[i].form);
        }
    }
}

static void tags_are_known_by_their_resolved_names(void **state)
{
    (void)state;
    assert_int_equal(dynhcp_yaml_tag_kind(NULL), TAG_NONE);
    assert_int_equal(dynhcp_yaml_tag_kind("!"), TAG_BANG);
    assert_int_equal(dynhcp_yaml_tag_kind("tag:yaml.org,2002:str"), TAG_STR);
    assert_int_equal(dynhcp_yaml_tag_kind("tag:yaml.org,2002:int"), TAG_INT);
    assert_int_equal(dynhcp_yaml_tag_kind("tag:yaml.org,2002:map"), TAG_MAP);
    assert_int_equal(dynhcp_yaml_tag_kind("tag:yaml.org,2002:binary"), TAG_NONE);
    assert_int_equal(dynhcp_yaml_tag_kind("!local"), TAG_NONE);
    assert_string_equal(dynhcp_yaml_tag_names[TAG_FLOAT], "!!float");
}

static void a_scalar_fits_its_tag_by_its_form(void **state)
{
    (void)state;
    assert_true(dynhcp_yaml_form_fits(FORM_NULL, TAG_NULL));
    assert_false(dynhcp_yaml_form_fits(FORM_STRING, TAG_NULL));
    assert_true(dynhcp_yaml_form_fits(FORM_FALSE, TAG_BOOL));
    assert_false(dynhcp_yaml_form_fits(FORM_INT, TAG_BOOL));
    assert_true(dynhcp_yaml_form_fits(FORM_OCTAL, TAG_INT));
    assert_false(dynhcp_yaml_form_fits(FORM_FLOAT, TAG_INT));
    assert_true(dynhcp_yaml_form_fits(FORM_INT, TAG_FLOAT));
    assert_true(dynhcp_yaml_form_fits(FORM_INF_NAN, TAG_FLOAT));
    assert_false(dynhcp_yaml_form_fits(FORM_HEX, TAG_FLOAT));
    /* !!str and the non-specific ! take anything. */
    assert_true(dynhcp_yaml_form_fits(FORM_TRUE, TAG_STR));
    assert_true(dynhcp_yaml_form_fits(FORM_NULL, TAG_BANG));
}

static void hex_and_octal_digits_round_to_the_nearest_double(void **state)
{
    (void)state;
    assert_true(dynhcp_yaml_radix_value("1F", 2, 4) == 31.0);
    assert_true(dynhcp_yaml_radix_value("17", 2, 3) == 15.0);
    assert_true(dynhcp_yaml_radix_value("0", 1, 4) == 0.0);
    /* 2^53 + 1 is not a double: it rounds to even, 2^53. */
    assert_true(dynhcp_yaml_radix_value("20000000000001", 14, 4) == 9007199254740992.0);
    /* 2^53 + 3 rounds up to 2^53 + 4. */
    assert_true(dynhcp_yaml_radix_value("20000000000003", 14, 4) == 9007199254740996.0);
    /* Past 64 bits later digits still count: 2^64 + 1 rounds to 2^64. */
    assert_true(dynhcp_yaml_radix_value("10000000000000001", 17, 4) == 18446744073709551616.0);
    /* Beyond any double: infinity, which the loader refuses. */
    char huge[400];
    memset(huge, 'F', sizeof(huge));
    assert_true(dynhcp_yaml_radix_value(huge, sizeof(huge), 4) > 1.7e308);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_scalars_take_their_core_schema_form),
        cmocka_unit_test(tags_are_known_by_their_resolved_names),
        cmocka_unit_test(a_scalar_fits_its_tag_by_its_form),
        cmocka_unit_test(hex_and_octal_digits_round_to_the_nearest_double),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
