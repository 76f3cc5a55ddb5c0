/* test_merge.c: RFC 7396 JSON Merge Patch, with the examples of its
 * appendix A. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "merge.h"
#include "support.h"

static void check(const char *target, const char *patch, const char *expected)
{
    cJSON *t = cJSON_Parse(target);
    cJSON *p = cJSON_Parse(patch);
    assert_non_null(t);
    assert_non_null(p);
    cJSON *merged = dynhcp_merge_patch(t, p);
    assert_non_null(merged);
    char *text = cJSON_PrintUnformatted(merged);
    assert_json_equal(expected, text);
    cJSON_free(text);
    cJSON_Delete(merged);
    cJSON_Delete(p);
}

static void rfc7396_appendix_examples_hold(void **state)
{
    (void)state;
    check("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    check("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
    check("{\"a\":\"b\"}", "{\"a\":null}", "{}");
    check("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
    check("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    check("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
    check("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}");
    check("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
    check("[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]");
    check("{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]");
    check("{\"a\":\"foo\"}", "null", "null");
    check("{\"a\":\"foo\"}", "\"bar\"", "\"bar\"");
    check("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
    check("[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}");
    check("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
}

static void merged_members_keep_their_order(void **state)
{
    (void)state;
    cJSON *t = cJSON_Parse("{\"x\":1,\"y\":2,\"z\":3}");
    cJSON *p = cJSON_Parse("{\"y\":20}");
    cJSON *merged = dynhcp_merge_patch(t, p);
    char *text = cJSON_PrintUnformatted(merged);
    assert_string_equal(text, "{\"x\":1,\"y\":20,\"z\":3}");
    cJSON_free(text);
    cJSON_Delete(merged);
    cJSON_Delete(p);
}

static void an_object_patch_replaces_a_scalar_under_the_same_key(void **state)
{
    (void)state;
    cJSON *t = cJSON_Parse("{\"x\":1,\"a\":5,\"z\":3}");
    cJSON *p = cJSON_Parse("{\"a\":{\"b\":{\"c\":1},\"d\":null}}");
    cJSON *merged = dynhcp_merge_patch(t, p);
    char *text = cJSON_PrintUnformatted(merged);
    assert_string_equal(text, "{\"x\":1,\"a\":{\"b\":{\"c\":1}},\"z\":3}");
    cJSON_free(text);
    cJSON_Delete(merged);
    cJSON_Delete(p);
}

static void a_null_target_starts_from_an_empty_object(void **state)
{
    (void)state;
    cJSON *p = cJSON_Parse("{\"a\":1,\"b\":null}");
    cJSON *merged = dynhcp_merge_patch(NULL, p);
    char *text = cJSON_PrintUnformatted(merged);
    assert_string_equal(text, "{\"a\":1}");
    cJSON_free(text);
    cJSON_Delete(merged);
    cJSON_Delete(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc7396_appendix_examples_hold),
        cmocka_unit_test(merged_members_keep_their_order),
        cmocka_unit_test(an_object_patch_replaces_a_scalar_under_the_same_key),
        cmocka_unit_test(a_null_target_starts_from_an_empty_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
