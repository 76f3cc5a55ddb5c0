/* test_json_scan.c: the CLI's scanner of check answers (src/cli/json_scan.h):
 * the grammar's edges one by one, then thousands of generated and mutated
 * texts judged against the library's strict reader (src/readers/json_text.h,
 * which passes JSONTestSuite) as the oracle of validity (fuzz/json_scan_oracle.c,
 * which fuzz_json_scan shares). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_scan.h"
#include "json_scan_oracle.h"
#include "xorshift.h"

/* Scans a copy of text[0..len) in a buffer of exactly len bytes, so that
 * the sanitizers catch any read past the end. */
static cli_json_shape scan(const char *text, size_t len, const char *key, long *items)
{
    char *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    cli_json_shape shape = cli_json_scan(copy, len, key, items);
    free(copy);
    return shape;
}

static void expect(const char *text, cli_json_shape shape, long items)
{
    long got = 99;
    cli_json_shape s = scan(text, strlen(text), "choices", &got);
    if (s != shape || got != items) {
        fail_msg("%s: shape %d items %ld, expected shape %d items %ld", text, (int)s, got,
                 (int)shape, items);
    }
}

static void answers(void **state)
{
    (void)state;
    expect("{\"choices\":[{\"text\":\"1\"}]}", CLI_JSON_OBJECT, 1);
    expect(" \t\r\n{\"choices\" : [ 1 , 2 , 3 ] } \n", CLI_JSON_OBJECT, 3);
    expect("{\"choices\":[]}", CLI_JSON_OBJECT, 0);
    expect("{\"choices\":{}}", CLI_JSON_OBJECT, -1);
    expect("{\"choices\":\"[1]\"}", CLI_JSON_OBJECT, -1);
    expect("{\"data\":[1]}", CLI_JSON_OBJECT, -1);
    expect("{}", CLI_JSON_OBJECT, -1);
    /* Nested members of that name do not count; the first at the top does. */
    expect("{\"x\":{\"choices\":[1]}}", CLI_JSON_OBJECT, -1);
    expect("{\"choices\":[[1,2],[3]],\"choices\":[]}", CLI_JSON_OBJECT, 2);
    expect("{\"choices\":5,\"choices\":[1]}", CLI_JSON_OBJECT, -1);
    /* Escapes in a name are decoded; an escape past ASCII is never the key. */
    expect("{\"cho\\u0069ces\":[1]}", CLI_JSON_OBJECT, 1);
    expect("{\"choi\\u00e7es\":[1]}", CLI_JSON_OBJECT, -1);
    expect("{\"choices\\n\":[1]}", CLI_JSON_OBJECT, -1);
    expect("{\"choice\":[1]}", CLI_JSON_OBJECT, -1);
    /* Valid values that are not objects. */
    expect("[1]", CLI_JSON_NOT_OBJECT, -1);
    expect("\"choices\"", CLI_JSON_NOT_OBJECT, -1);
    expect("-0.5e+10", CLI_JSON_NOT_OBJECT, -1);
    expect("null", CLI_JSON_NOT_OBJECT, -1);
    expect("true", CLI_JSON_NOT_OBJECT, -1);
}

static void invalid_texts(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", " ", "{", "}", "{\"choices\":[1]", "{\"choices\":[1]}}", "{\"choices\":[1],}",
        "{\"choices\":[1,]}", "{choices:[1]}", "{'choices':[1]}", "{\"choices\" [1]}",
        "{\"choices\":[1]} x", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}",
        "{\"a\":1e}", "{\"a\":-}", "{\"a\":0x10}", "{\"a\":NaN}", "{\"a\":Infinity}",
        "{\"a\":tru}", "{\"a\":nul}", "{\"a\":True}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u12G4\"}", "{\"a\":\"tab\there\"}", "{\"a\":\"unterminated}",
        "{\"a\":\"\\\"}", "[1 2]", "[,1]", "{,}", "{\"a\":1 \"b\":2}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long items = 99;
        if (scan(bad[i], strlen(bad[i]), "choices", &items) != CLI_JSON_INVALID || items != -1) {
            fail_msg("%s: accepted", bad[i]);
        }
    }
    /* A NUL byte, even where whitespace may be. */
    long items;
    assert_int_equal(scan("{\"a\":1}\0", 8, "a", &items), CLI_JSON_INVALID);
    assert_int_equal(scan("{\"a\":\"x\0y\"}", 11, "a", &items), CLI_JSON_INVALID);
}

static void nesting_is_bounded(void **state)
{
    (void)state;
    size_t depth = CLI_JSON_MAX_DEPTH;
    char *text = malloc(2 * depth + 2);
    assert_non_null(text);
    long items;
    for (size_t d = depth; d <= depth + 1; d++) {
        memset(text, '[', d);
        memset(text + d, ']', d);
        assert_int_equal(scan(text, 2 * d, "k", &items),
                         d <= depth ? CLI_JSON_NOT_OBJECT : CLI_JSON_INVALID);
    }
    /* Far deeper than the stack would take, were it unbounded. */
    size_t deep = 1u << 20;
    char *abyss = malloc(deep);
    assert_non_null(abyss);
    memset(abyss, '[', deep);
    assert_int_equal(cli_json_scan(abyss, deep, "k", &items), CLI_JSON_INVALID);
    free(abyss);
    free(text);
}

/* A random JSON value of at most depth levels, ASCII only, object keys
 * unique within their object (the oracle refuses duplicates). */
static void generate(char *out, size_t *len, size_t cap, uint64_t *rng, unsigned depth)
{
    static const char *const scalars[] = {"0", "-1", "12.5e-3", "1E+2", "true", "false", "null",
                                          "\"\"", "\"a b\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
                                          "\"\\u0041z\"", "-0.0"};
    unsigned kind = depth == 0 ? 2 : (unsigned)(xorshift64(rng) % 3);
    if (*len + 64 >= cap) {
        kind = 2;
    }
    if (kind == 2) {
        const char *s = scalars[xorshift64(rng) % (sizeof(scalars) / sizeof(scalars[0]))];
        size_t n = strlen(s);
        if (*len + n < cap) {
            memcpy(out + *len, s, n);
            *len += n;
        }
        return;
    }
    out[(*len)++] = kind == 0 ? '[' : '{';
    unsigned count = (unsigned)(xorshift64(rng) % 4);
    for (unsigned i = 0; i < count && *len + 64 < cap; i++) {
        if (i > 0) {
            out[(*len)++] = ',';
        }
        if (kind == 1) {
            if (i == 0 && xorshift64(rng) % 2) {
                *len += (size_t)snprintf(out + *len, cap - *len, "\"choices\" : ");
            } else {
                *len += (size_t)snprintf(out + *len, cap - *len, "\"k%u\" : ", i);
            }
        }
        generate(out, len, cap, rng, depth - 1);
    }
    out[(*len)++] = kind == 0 ? ']' : '}';
}

static void agrees_with_the_strict_reader(void **state)
{
    (void)state;
    static const char alphabet[] = "{}[]\",:0123456789.eE+- \ttrufalsn\\bx";
    uint64_t rng = 0x9e3779b97f4a7c15u;
    char text[512];
    size_t compared = 0, valid = 0;
    for (int round = 0; round < 20000; round++) {
        size_t len = 0;
        generate(text, &len, sizeof(text) - 1, &rng, 4);
        int mutations = (int)(xorshift64(&rng) % 3);
        for (int m = 0; m < mutations && len > 0; m++) {
            text[xorshift64(&rng) % len] = alphabet[xorshift64(&rng) % (sizeof(alphabet) - 1)];
        }
        text[len] = '\0';
        /* An exact copy, so that the sanitizers catch any read past the end. */
        char *copy = malloc(len > 0 ? len : 1);
        assert_non_null(copy);
        memcpy(copy, text, len);
        char detail[400];
        int valid_here;
        int agrees = json_scan_oracle(copy, len, &valid_here, detail, sizeof(detail));
        free(copy);
        if (agrees < 0) {
            continue; /* a refusal of the reader's own, a duplicate name say */
        }
        if (agrees == 0) {
            fail_msg("%s: %s", text, detail);
        }
        compared++;
        valid += valid_here != 0;
    }
    /* Both kinds were met often enough for the comparison to mean something. */
    assert_true(valid > compared / 5);
    assert_true(compared - valid > compared / 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answers),
        cmocka_unit_test(invalid_texts),
        cmocka_unit_test(nesting_is_bounded),
        cmocka_unit_test(agrees_with_the_strict_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
