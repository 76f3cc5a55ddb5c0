/* test_json_text.c: the strict JSON reader (SPEC 1.5-1.6, src/readers/json_text.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_text.h"

static const dynhcp_pos start_of_text = {1, 1};

/* Parses a copy of text[0..len) in a buffer of exactly len bytes, with no
 * NUL after it, so that the sanitizers catch any read past the end. */
static cJSON *parse_exact(const char *text, size_t len, dynhcp_pos origin, dynhcp_posmap *map,
                          dynhcp_parse_error *err)
{
    char *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    cJSON *root = dynhcp_json_parse(copy, len, origin, map, err);
    free(copy);
    return root;
}

static cJSON *parse_ok(const char *text)
{
    dynhcp_parse_error err = {{0, 0}, "", 0};
    cJSON *root = parse_exact(text, strlen(text), start_of_text, NULL, &err);
    if (root == NULL) {
        fail_msg("%s rejected at %u:%u: %s", text, err.pos.line, err.pos.column, err.message);
    }
    assert_string_equal(err.message, "");
    return root;
}

typedef struct bad_case {
    const char *text;
    size_t len; /* 0: strlen(text) */
    unsigned line;
    unsigned column;
    const char *message; /* a substring of the message */
} bad_case;

static void check_bad_cases(const bad_case *cases, size_t n, dynhcp_pos origin)
{
    for (size_t i = 0; i < n; i++) {
        const bad_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->text);
        dynhcp_parse_error err = {{0, 0}, "", 0};
        cJSON *root = parse_exact(c->text, len, origin, NULL, &err);
        if (root != NULL) {
            cJSON_Delete(root);
            fail_msg("case %zu (%s) was accepted", i, c->text);
        }
        if (err.pos.line != c->line || err.pos.column != c->column ||
            strstr(err.message, c->message) == NULL) {
            fail_msg("case %zu (%s): got %u:%u \"%s\", want %u:%u \"%s\"", i, c->text,
                     err.pos.line, err.pos.column, err.message, c->line, c->column,
                     c->message);
        }
    }
}

#define CHECK_BAD(cases) \
    check_bad_cases(cases, sizeof(cases) / sizeof(cases[0]), start_of_text)

static void empty_or_blank_text_is_rejected(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"", 0, 1, 1, "empty text: expected a JSON value"},
        {"   ", 0, 1, 4, "empty text: expected a JSON value"},
        {" \t\r\n\n  ", 0, 3, 3, "empty text: expected a JSON value"},
    };
    CHECK_BAD(cases);
    dynhcp_parse_error err = {{0, 0}, "", 0};
    assert_null(dynhcp_json_parse(NULL, 0, start_of_text, NULL, &err));
    assert_string_equal(err.message, "empty text: expected a JSON value");
}

static void text_after_the_value_is_rejected(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"{} x", 0, 1, 4, "trailing text after the JSON value"},
        {"1 2", 0, 1, 3, "trailing text after the JSON value"},
        {"{}}", 0, 1, 3, "trailing text after the JSON value"},
        {"[]\n\n  ,", 0, 3, 3, "trailing text after the JSON value"},
        {"\"a\"\"b\"", 0, 1, 4, "trailing text after the JSON value"},
        {"{}\v", 0, 1, 3, "trailing text after the JSON value"},
        {"truex", 0, 1, 5, "trailing text after the JSON value"},
        {"{\"a\":1}\n{\"b\":2}", 0, 2, 1, "trailing text after the JSON value"},
    };
    CHECK_BAD(cases);
}

static void nul_bytes_inside_the_length_are_rejected(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"{}\0", 3, 1, 3, "trailing text after the JSON value"},
        {"[1\0]", 4, 1, 3, "expected ',' or ']' after an array element"},
        {"[\"a\0b\"]", 7, 1, 4, "control character U+0000 in a string; write it as \\u0000"},
        {"\0", 1, 1, 1, "expected a JSON value"},
    };
    CHECK_BAD(cases);
}

static void object_syntax_errors_say_what_was_expected(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"{", 0, 1, 2, "unexpected end of text, expected a string key or '}'"},
        {"{1:2}", 0, 1, 2, "expected a string key or '}'"},
        {"{a:1}", 0, 1, 2, "expected a string key or '}'"},
        {"{\"a\":1,}", 0, 1, 8, "expected a string key after ','"},
        {"{\"a\":1,", 0, 1, 8, "unexpected end of text, expected a string key after ','"},
        {"{\"a\" 1}", 0, 1, 6, "expected ':' after the key"},
        {"{\"a\"", 0, 1, 5, "unexpected end of text, expected ':' after the key"},
        {"{\"a\"=1}", 0, 1, 5, "expected ':' after the key"},
        {"{\"a\":}", 0, 1, 6, "expected a JSON value after ':'"},
        {"{\"a\":", 0, 1, 6, "unexpected end of text, expected a JSON value after ':'"},
        {"{\"a\":1 \"b\":2}", 0, 1, 8, "expected ',' or '}' after an object member"},
        {"{\"a\":1;\"b\":2}", 0, 1, 7, "expected ',' or '}' after an object member"},
        {"{\"a\":1]", 0, 1, 7, "expected ',' or '}' after an object member"},
        {"{\"a\":1", 0, 1, 7,
         "unexpected end of text, expected ',' or '}' after an object member"},
        {"{\"a\":1,,\"b\":2}", 0, 1, 8, "expected a string key after ','"},
    };
    CHECK_BAD(cases);
}

static void array_syntax_errors_say_what_was_expected(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"[", 0, 1, 2, "unexpected end of text, expected a JSON value or ']'"},
        {"[,1]", 0, 1, 2, "expected a JSON value or ']'"},
        {"[1,]", 0, 1, 4, "expected a JSON value after ','"},
        {"[1,", 0, 1, 4, "unexpected end of text, expected a JSON value after ','"},
        {"[1 2]", 0, 1, 4, "expected ',' or ']' after an array element"},
        {"[1}", 0, 1, 3, "expected ',' or ']' after an array element"},
        {"[1", 0, 1, 3, "unexpected end of text, expected ',' or ']' after an array element"},
        {"[1x]", 0, 1, 3, "expected ',' or ']' after an array element"},
        {"]", 0, 1, 1, "expected a JSON value"},
        {"}", 0, 1, 1, "expected a JSON value"},
    };
    CHECK_BAD(cases);
}

static void values_that_are_not_json_are_rejected_with_hints(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"'a'", 0, 1, 1,
         "expected a JSON value (use double quotes: JSON has no single-quoted strings)"},
        {"{\"a\":'b'}", 0, 1, 6, "expected a JSON value after ':' (use double quotes"},
        {"{'a': 1}", 0, 1, 2,
         "expected a string key or '}' (use double quotes: JSON has no single-quoted strings)"},
        {"{\"a\": 1, 'b': 2}", 0, 1, 10, "expected a string key after ',' (use double quotes"},
        {"{prompt: 1}", 0, 1, 2,
         "expected a string key or '}' (use double quotes: a JSON key is a string)"},
        {"NaN", 0, 1, 1, "expected a JSON value (NaN and Infinity are not JSON numbers)"},
        {"[Infinity]", 0, 1, 2, "NaN and Infinity are not JSON numbers"},
        {"+1", 0, 1, 1, "expected a JSON value (a number starts with '-' or a digit)"},
        {".5", 0, 1, 1, "expected a JSON value (a number starts with '-' or a digit)"},
        {"\xEF\xBB\xBF{}", 0, 1, 1, "expected a JSON value (found a byte order mark)"},
        {"\xFF", 0, 1, 1, "expected a JSON value"},
        {"undefined", 0, 1, 1, "expected a JSON value"},
        {"True", 0, 1, 1, "expected a JSON value"},
    };
    CHECK_BAD(cases);
    /* No hint where none fits: words that only start like NaN. */
    static const char *const plain[] = {"None", "Na", "Inf", "\xC3\xA9"};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        dynhcp_parse_error err = {{0, 0}, "", 0};
        assert_null(parse_exact(plain[i], strlen(plain[i]), start_of_text, NULL, &err));
        assert_string_equal(err.message, "expected a JSON value");
    }
}

static void misspelled_literals_are_rejected_at_the_first_wrong_letter(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"tru", 0, 1, 4, "unexpected end of text, expected 'true'"},
        {"nulL", 0, 1, 4, "invalid literal, expected 'null'"},
        {"[falsy]", 0, 1, 6, "invalid literal, expected 'false'"},
        {"nil", 0, 1, 2, "invalid literal, expected 'null'"},
        {"f", 0, 1, 2, "unexpected end of text, expected 'false'"},
    };
    CHECK_BAD(cases);
}

static void numbers_outside_the_json_grammar_are_rejected(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"01", 0, 1, 1, "leading zeros are not allowed in numbers"},
        {"-01", 0, 1, 2, "leading zeros are not allowed in numbers"},
        {"[00]", 0, 1, 2, "leading zeros are not allowed in numbers"},
        {"0x1F", 0, 1, 1, "hexadecimal numbers are not allowed in JSON"},
        {"-0X1", 0, 1, 2, "hexadecimal numbers are not allowed in JSON"},
        {"-", 0, 1, 2, "unexpected end of text, expected a digit after '-'"},
        {"-a", 0, 1, 2, "expected a digit after '-'"},
        {"[- 1]", 0, 1, 3, "expected a digit after '-'"},
        {"-Infinity", 0, 1, 2, "expected a digit after '-'"},
        {"1.", 0, 1, 3, "unexpected end of text, expected a digit after '.'"},
        {"[1.]", 0, 1, 4, "expected a digit after '.'"},
        {"1.e5", 0, 1, 3, "expected a digit after '.'"},
        {"1e", 0, 1, 3, "unexpected end of text, expected a digit in the exponent"},
        {"1e+", 0, 1, 4, "unexpected end of text, expected a digit in the exponent"},
        {"[1eq]", 0, 1, 4, "expected a digit in the exponent"},
        {"1E-x", 0, 1, 4, "expected a digit in the exponent"},
        {"1.5.2", 0, 1, 4, "trailing text after the JSON value"},
        {"1e400", 0, 1, 1, "number out of range"},
        {"[0, -1e999]", 0, 1, 5, "number out of range"},
        {"{\"t\": 1234567890e300}", 0, 1, 7, "number out of range"},
    };
    CHECK_BAD(cases);
}

static void raw_control_characters_in_strings_are_rejected(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"\"a\nb\"", 0, 1, 3, "control character U+000A in a string; write it as \\n"},
        {"\"a\tb\"", 0, 1, 3, "control character U+0009 in a string; write it as \\t"},
        {"\"\r\"", 0, 1, 2, "control character U+000D in a string; write it as \\r"},
        {"\"\x01\"", 0, 1, 2, "control character U+0001 in a string; write it as \\u0001"},
        {"\"\x1F\"", 0, 1, 2, "control character U+001F in a string; write it as \\u001F"},
        {"{\"k\x08\":1}", 0, 1, 4, "control character U+0008 in a string; write it as \\b"},
        {"\"\x0C\"", 0, 1, 2, "write it as \\f"},
        {"\"a\nb", 0, 1, 3, "control character U+000A"},
    };
    CHECK_BAD(cases);
}

static void unterminated_strings_are_rejected_at_the_end(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"\"abc", 0, 1, 5, "unterminated string (started at line 1, column 1)"},
        {"[\"abc\\\"]", 0, 1, 9, "unterminated string (started at line 1, column 2)"},
        {"\"\\", 0, 1, 3, "unterminated string"},
        {"{\n  \"key\": \"x", 0, 2, 12,
         "unterminated string (started at line 2, column 10): unexpected end of text, "
         "expected '\"'"},
    };
    CHECK_BAD(cases);
}

static void invalid_escapes_are_rejected_at_the_backslash(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"\"\\q\"", 0, 1, 2, "invalid escape \\q"},
        {"\"ab\\x41\"", 0, 1, 4, "invalid escape \\x"},
        {"\"\\'\"", 0, 1, 2, "invalid escape \\'"},
        {"\"\\U0041\"", 0, 1, 2, "invalid escape \\U"},
        {"\"\\ \"", 0, 1, 2, "invalid escape: '\\' followed by byte 0x20"},
        {"\"\\\n\"", 0, 1, 2, "invalid escape: '\\' followed by byte 0x0A"},
        {"\"\\\xC3\xA9\"", 0, 1, 2, "invalid escape: '\\' followed by byte 0xC3"},
    };
    CHECK_BAD(cases);
}

static void unicode_escapes_need_four_hex_digits(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"\"\\u12g4\"", 0, 1, 6, "expected 4 hex digits after \\u"},
        {"\"\\u12\"", 0, 1, 6, "expected 4 hex digits after \\u"},
        {"\"\\u\"", 0, 1, 4, "expected 4 hex digits after \\u"},
        {"\"\\u12", 0, 1, 6, "unexpected end of text, expected 4 hex digits after \\u"},
        {"\"\\uD83D\\uDE0", 0, 1, 13, "unexpected end of text, expected 4 hex digits"},
        {"\"\\uD83D\\uZZZZ\"", 0, 1, 10, "expected 4 hex digits after \\u"},
    };
    CHECK_BAD(cases);
}

static void lone_surrogates_and_escaped_nul_are_rejected(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"\"\\u0000\"", 0, 1, 2, "\\u0000 is not allowed in strings"},
        {"{\"a\\u0000b\":1}", 0, 1, 4, "\\u0000 is not allowed in strings"},
        {"\"\\uD83D\"", 0, 1, 2, "lone high surrogate \\uD83D"},
        {"\"x\\uDBFFy\"", 0, 1, 3, "lone high surrogate \\uDBFF"},
        {"\"\\uD83D\\u0041\"", 0, 1, 2, "lone high surrogate \\uD83D"},
        {"\"\\uD83D\\uD83D\"", 0, 1, 2, "lone high surrogate"},
        {"\"\\uD83D\\n\"", 0, 1, 2, "lone high surrogate"},
        {"\"\\uD83D", 0, 1, 2, "lone high surrogate"},
        {"\"\\uDE00\"", 0, 1, 2, "lone low surrogate \\uDE00"},
        {"\"\\udc00\"", 0, 1, 2, "lone low surrogate \\uDC00"},
    };
    CHECK_BAD(cases);
}

static void invalid_utf8_in_strings_is_rejected_at_the_bad_byte(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"\"\xFF\"", 0, 1, 2, "invalid UTF-8 (byte 0xFF)"},
        {"\"\x80\"", 0, 1, 2, "invalid UTF-8 (byte 0x80)"},
        {"\"\xC3\"", 0, 1, 2, "invalid UTF-8 (byte 0xC3)"},
        {"\"\xC3", 0, 1, 2, "invalid UTF-8 (byte 0xC3)"},
        {"\"\xC0\xAF\"", 0, 1, 2, "invalid UTF-8 (byte 0xC0)"},         /* overlong */
        {"\"\xE0\x80\xAF\"", 0, 1, 2, "invalid UTF-8 (byte 0xE0)"},     /* overlong */
        {"\"\xED\xA0\x80\"", 0, 1, 2, "invalid UTF-8 (byte 0xED)"},     /* surrogate */
        {"\"\xF4\x90\x80\x80\"", 0, 1, 2, "invalid UTF-8 (byte 0xF4)"}, /* > U+10FFFF */
        {"\"\xF5\x80\x80\x80\"", 0, 1, 2, "invalid UTF-8 (byte 0xF5)"},
        {"\"\xE2\x82\"", 0, 1, 2, "invalid UTF-8 (byte 0xE2)"},
        {"[\"\xC3\xA9\xE2\x82\xAC\xFE\"]", 0, 1, 5, "invalid UTF-8 (byte 0xFE)"},
    };
    CHECK_BAD(cases);
}

static char *nested(unsigned depth, const char *open, const char *inner, const char *close)
{
    size_t len = depth * (strlen(open) + strlen(close)) + strlen(inner) + 1;
    char *text = malloc(len);
    assert_non_null(text);
    text[0] = '\0';
    for (unsigned i = 0; i < depth; i++) {
        strcat(text, open);
    }
    strcat(text, inner);
    for (unsigned i = 0; i < depth; i++) {
        strcat(text, close);
    }
    return text;
}

static void nesting_deeper_than_64_is_rejected_at_the_bracket(void **state)
{
    (void)state;
    char *arrays = nested(DYNHCP_JSON_MAX_DEPTH + 1, "[", "", "]");
    char *objects = nested(DYNHCP_JSON_MAX_DEPTH + 1, "{\"a\":", "1", "}");
    char *mixed = nested(40, "[{\"k\":", "[]", "}]");
    bad_case cases[] = {
        {arrays, 0, 1, 65, "nesting deeper than 64"},
        {objects, 0, 1, 64 * 5 + 1, "nesting deeper than 64"},
        {mixed, 0, 1, 32 * 6 + 1, "nesting deeper than 64"}, /* depth 2i+1 for the i-th '[' */
    };
    CHECK_BAD(cases);
    free(arrays);
    free(objects);
    free(mixed);
}

static void nesting_of_exactly_64_is_accepted(void **state)
{
    (void)state;
    char *arrays = nested(DYNHCP_JSON_MAX_DEPTH, "[", "", "]");
    char *objects = nested(DYNHCP_JSON_MAX_DEPTH - 1, "{\"a\":", "{}", "}");
    /* A scalar at depth 65 opens no array or object: it is fine. */
    char *scalar = nested(DYNHCP_JSON_MAX_DEPTH, "[", "7", "]");
    cJSON_Delete(parse_ok(arrays));
    cJSON_Delete(parse_ok(scalar));
    cJSON *root = parse_ok(objects);
    unsigned depth = 1;
    for (const cJSON *v = root; cJSON_GetObjectItemCaseSensitive(v, "a") != NULL;
         v = cJSON_GetObjectItemCaseSensitive(v, "a")) {
        depth++;
    }
    assert_int_equal(depth, DYNHCP_JSON_MAX_DEPTH);
    cJSON_Delete(root);
    free(arrays);
    free(objects);
    free(scalar);
}

static void duplicate_keys_are_rejected_at_the_second_key(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"{\"a\":1,\"a\":2}", 0, 1, 8, "duplicate key \"a\""},
        {"{\"a\":1,\"b\":{\"c\":1,\n \"c\":[]}}", 0, 2, 2, "duplicate key \"c\""},
        {"{\"a\":1,\"\\u0061\":2}", 0, 1, 8, "duplicate key \"a\""},
        {"{\"\xC3\xA9\":1,\"\\u00e9\":2}", 0, 1, 8, "duplicate key \"\xC3\xA9\""},
        {"{\"a\\nb\":1,\"a\\nb\":2}", 0, 1, 11, "duplicate key \"a\\nb\""},
        {"{\"\":1,\"\":2}", 0, 1, 7, "duplicate key \"\""},
    };
    CHECK_BAD(cases);
}

static void duplicate_keys_are_found_in_large_objects(void **state)
{
    (void)state;
    char text[4096] = "{";
    for (int i = 0; i < 200; i++) {
        char member[32];
        snprintf(member, sizeof(member), "%s\"k%03d\":%d", i ? "," : "", i, i);
        strcat(text, member);
    }
    size_t ok_len = strlen(text);
    strcat(text, "}");
    cJSON *root = parse_ok(text);
    assert_int_equal(cJSON_GetArraySize(root), 200);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(root, "k199")->valueint, 199);
    cJSON_Delete(root);

    /* The same keys again, each one after the last member: every one is a
     * duplicate, found whether the object is small or large by then. */
    for (int dup = 0; dup < 200; dup += 7) {
        char bad[4096];
        memcpy(bad, text, ok_len);
        int n = snprintf(bad + ok_len, sizeof(bad) - ok_len, ",\"k%03d\":0}", dup);
        dynhcp_parse_error err = {{0, 0}, "", 0};
        assert_null(parse_exact(bad, ok_len + (size_t)n, start_of_text, NULL, &err));
        char want[32];
        snprintf(want, sizeof(want), "duplicate key \"k%03d\"", dup);
        assert_string_equal(err.message, want);
        assert_int_equal(err.pos.line, 1);
        assert_int_equal(err.pos.column, ok_len + 2);
    }
    /* Same key names in distinct objects are fine. */
    cJSON_Delete(parse_ok("{\"a\":{\"a\":{\"a\":1}},\"b\":{\"a\":2}}"));
}

static void columns_count_characters_and_tabs_as_one(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"{\"\xC3\xA9\xF0\x9F\x98\x80\": x}", 0, 1, 8, "expected a JSON value after ':'"},
        {"\t[\t1\tx]", 0, 1, 6, "expected ',' or ']' after an array element"},
        {"[\"\xE2\x82\xAC\xE2\x82\xAC\", 1 2]", 0, 1, 10, "expected ',' or ']'"},
        {"{\n  \"a\": [1,\n   2,,]\n}", 0, 3, 6, "expected a JSON value after ','"},
        {"[1,\r\n x]", 0, 2, 2, "expected a JSON value after ','"},
        {"\n\n\n   \xE2\x82\xAC", 0, 4, 4, "expected a JSON value"},
    };
    CHECK_BAD(cases);
}

static void positions_start_at_the_origin(void **state)
{
    (void)state;
    dynhcp_pos origin = {3, 10};
    static const bad_case cases[] = {
        {"[x]", 0, 3, 11, "expected a JSON value or ']'"},
        {"x", 0, 3, 10, "expected a JSON value"},
        {"[1,\n 2 x]", 0, 4, 4, "expected ',' or ']' after an array element"},
        {"\"\xC3\xA9\xC3\xA9\\q\"", 0, 3, 13, "invalid escape \\q"},
        {"  ", 0, 3, 12, "empty text"},
        {"\"abc", 0, 3, 14, "unterminated string (started at line 3, column 10)"},
    };
    check_bad_cases(cases, sizeof(cases) / sizeof(cases[0]), origin);
}

static void strings_decode_escapes_and_surrogate_pairs_to_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *utf8;
    } cases[] = {
        {"\"\"", ""},
        {"\"plain\"", "plain"},
        {"\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", "\" \\ / \b \f \n \r \t"},
        {"\"\\u0041\\u00e9\\u00E9\"", "A\xC3\xA9\xC3\xA9"},
        {"\"\\u20AC\"", "\xE2\x82\xAC"},
        {"\"\\u07FF\\u0800\\uFFFF\"", "\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF"},
        {"\"\\uD83D\\uDE00\"", "\xF0\x9F\x98\x80"},
        {"\"\\ud800\\udc00\\uDBFF\\uDFFF\"", "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"},
        {"\"x\\u0001\\u001f\"", "x\x01\x1F"},
        {"\"\xC3\xA9 \xF0\x9F\x98\x80 \x7F\"", "\xC3\xA9 \xF0\x9F\x98\x80 \x7F"},
        {"\"\xEF\xBB\xBF\"", "\xEF\xBB\xBF"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *root = parse_ok(cases[i].json);
        assert_true(cJSON_IsString(root));
        assert_string_equal(root->valuestring, cases[i].utf8);
        cJSON_Delete(root);
    }
    cJSON *root = parse_ok("{\"\\u00e9t\\u00E9\":\"\\uD83D\\uDE00\"}");
    const cJSON *member = cJSON_GetObjectItemCaseSensitive(root, "\xC3\xA9t\xC3\xA9");
    assert_non_null(member);
    assert_string_equal(member->valuestring, "\xF0\x9F\x98\x80");
    cJSON_Delete(root);
}

static double number_of(const char *text)
{
    cJSON *root = parse_ok(text);
    assert_true(cJSON_IsNumber(root));
    double v = root->valuedouble;
    cJSON_Delete(root);
    return v;
}

static void numbers_are_read_by_value(void **state)
{
    (void)state;
    assert_true(number_of("0") == 0.0 && !signbit(number_of("0")));
    assert_true(number_of("-0") == 0.0 && signbit(number_of("-0")));
    assert_true(signbit(number_of("-0.0")));
    assert_true(number_of("7") == 7.0);
    assert_true(number_of("-42") == -42.0);
    assert_true(number_of("123456789012345") == 123456789012345.0);
    assert_true(number_of("9007199254740993") == 9007199254740992.0);
    assert_true(number_of("12345678901234567890") == 12345678901234567890.0);
    assert_true(number_of("1.5") == 1.5);
    assert_true(number_of("0.1") == 0.1);
    assert_true(number_of("-2.25e3") == -2250.0);
    assert_true(number_of("1E2") == 100.0);
    assert_true(number_of("1e+2") == 100.0);
    assert_true(number_of("1e-2") == 0.01);
    assert_true(number_of("0e0") == 0.0);
    assert_true(number_of("1.7976931348623157e308") == 1.7976931348623157e308);
    assert_true(number_of("1e-400") == 0.0); /* underflow rounds to zero, as strtod does */
    assert_true(number_of("4.9e-324") > 0.0);
    /* More digits than any buffer on the stack. */
    char digits[400] = "0.";
    memset(digits + 2, '0', 300);
    strcpy(digits + 302, "25");
    assert_true(number_of(digits) == 25e-302);
    memset(digits, '9', 300);
    digits[300] = '\0';
    assert_true(number_of(digits) == 1e300);

    cJSON *root = parse_ok(" [ 1 , -1.5e1 , 0.25 ] ");
    assert_int_equal(cJSON_GetArraySize(root), 3);
    assert_true(cJSON_GetArrayItem(root, 0)->valuedouble == 1.0);
    assert_int_equal(cJSON_GetArrayItem(root, 0)->valueint, 1);
    assert_true(cJSON_GetArrayItem(root, 1)->valuedouble == -15.0);
    assert_true(cJSON_GetArrayItem(root, 2)->valuedouble == 0.25);
    cJSON_Delete(root);
}

static void numbers_ignore_a_comma_decimal_locale(void **state)
{
    (void)state;
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8",
                                        "fr_FR.utf8"};
    const char *found = NULL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && found == NULL; i++) {
        found = setlocale(LC_NUMERIC, names[i]);
    }
    if (found == NULL || strtod("1.5", NULL) == 1.5) {
        /* Without such a locale the "C" behaviour is all that can be checked:
         * numbers_are_read_by_value does that. */
        skip();
    }
    assert_true(number_of("1.5") == 1.5);
    assert_true(number_of("-0.125e1") == -1.25);
    assert_true(number_of("2e-1") == 0.2);
    static const bad_case cases[] = {
        {"1,5", 0, 1, 2, "trailing text after the JSON value"},
    };
    CHECK_BAD(cases);
}

/* Runs even when an assertion fails, so that later tests see "C" again. */
static int restore_c_locale(void **state)
{
    (void)state;
    setlocale(LC_NUMERIC, "C");
    return 0;
}

static void literals_become_cjson_booleans_and_null(void **state)
{
    (void)state;
    cJSON *root = parse_ok("[true,false,null,{}, [] ,\"\"]");
    assert_true(cJSON_IsTrue(cJSON_GetArrayItem(root, 0)));
    assert_true(cJSON_IsFalse(cJSON_GetArrayItem(root, 1)));
    assert_true(cJSON_IsNull(cJSON_GetArrayItem(root, 2)));
    assert_true(cJSON_IsObject(cJSON_GetArrayItem(root, 3)));
    assert_true(cJSON_IsArray(cJSON_GetArrayItem(root, 4)));
    assert_true(cJSON_IsString(cJSON_GetArrayItem(root, 5)));
    cJSON_Delete(root);
}

static void text_need_not_end_with_nul(void **state)
{
    (void)state;
    /* Whatever follows len is not read: the digits after it are ignored. */
    const char buf[] = "[1,2]9999";
    cJSON *root = dynhcp_json_parse(buf, 5, start_of_text, NULL, NULL);
    assert_non_null(root);
    cJSON_Delete(root);
    root = parse_exact("1234", 2, start_of_text, NULL, NULL);
    assert_true(root->valuedouble == 12.0);
    cJSON_Delete(root);
    root = parse_exact("1.59", 3, start_of_text, NULL, NULL);
    assert_true(root->valuedouble == 1.5);
    cJSON_Delete(root);
    root = parse_exact("\"ab\"c", 4, start_of_text, NULL, NULL);
    assert_string_equal(root->valuestring, "ab");
    cJSON_Delete(root);
    root = parse_exact("truest", 4, start_of_text, NULL, NULL);
    assert_true(cJSON_IsTrue(root));
    cJSON_Delete(root);
}

static void valid_documents_read_as_cjson_reads_them(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{\"prompt\":\"1\",\"max_tokens\":1,\"temperature\":0.0,\"stream\":false}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":1,"
        "\"temperature\":0.0,\"stream\":false}",
        "{\"token_ids\":[1],\"stop_conditions\":{\"max_tokens\":1},"
        "\"sampling_options\":{\"temperature\":0.0}}",
        "{\"input\":[\"Write a haiku about artificial intelligence:\",\"The sky is\"]}",
        " {\n\t\"a\" : [ 1 , 2.5e-3 , -0 , true , false , null , { } , [ ] ] ,\r\n"
        " \"b\\n\\u00e9\" : \"\\\"q\\\"\" }\n",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        cJSON *mine = parse_ok(docs[i]);
        cJSON *theirs = cJSON_Parse(docs[i]);
        assert_non_null(theirs);
        assert_true(cJSON_Compare(mine, theirs, 1));
        cJSON_Delete(mine);
        cJSON_Delete(theirs);
    }
}

static void position_map_records_every_value_start(void **state)
{
    (void)state;
    const char *text = "{\n \"a\": [1, {\"b\": null}],\n\t\"\xC3\xA9\": \"x\"\n}";
    dynhcp_posmap map = {NULL, 0, 0};
    dynhcp_parse_error err = {{0, 0}, "", 0};
    cJSON *root = parse_exact(text, strlen(text), start_of_text, &map, &err);
    assert_non_null(root);
    assert_int_equal(map.count, 6);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "a");
    const cJSON *inner = cJSON_GetArrayItem(a, 1);
    struct {
        const cJSON *node;
        unsigned line, column;
    } want[] = {
        {root, 1, 1},
        {a, 2, 7},
        {cJSON_GetArrayItem(a, 0), 2, 8},
        {inner, 2, 11},
        {cJSON_GetObjectItemCaseSensitive(inner, "b"), 2, 17},
        {cJSON_GetObjectItemCaseSensitive(root, "\xC3\xA9"), 3, 7},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        dynhcp_pos pos = dynhcp_posmap_find(&map, want[i].node);
        if (pos.line != want[i].line || pos.column != want[i].column) {
            fail_msg("node %zu at %u:%u, want %u:%u", i, pos.line, pos.column, want[i].line,
                     want[i].column);
        }
    }
    cJSON_Delete(root);
    dynhcp_posmap_clear(&map);
}

static void position_map_honours_the_origin_and_appends(void **state)
{
    (void)state;
    dynhcp_posmap map = {NULL, 0, 0};
    cJSON *first = parse_ok("1");
    assert_int_equal(dynhcp_posmap_add(&map, first, start_of_text), 0);
    dynhcp_pos origin = {5, 20};
    cJSON *root = parse_exact("[true,\n  \"x\"]", 13, origin, &map, NULL);
    assert_non_null(root);
    assert_int_equal(map.count, 4);
    assert_ptr_equal(map.entries[0].node, first);
    dynhcp_pos pos = dynhcp_posmap_find(&map, root);
    assert_int_equal(pos.line, 5);
    assert_int_equal(pos.column, 20);
    pos = dynhcp_posmap_find(&map, cJSON_GetArrayItem(root, 0));
    assert_int_equal(pos.line, 5);
    assert_int_equal(pos.column, 21);
    pos = dynhcp_posmap_find(&map, cJSON_GetArrayItem(root, 1));
    assert_int_equal(pos.line, 6);
    assert_int_equal(pos.column, 3);
    cJSON_Delete(root);
    cJSON_Delete(first);
    dynhcp_posmap_clear(&map);
}

static void failed_parse_leaves_the_map_as_it_was(void **state)
{
    (void)state;
    dynhcp_posmap map = {NULL, 0, 0};
    cJSON *first = parse_ok("{}");
    dynhcp_pos where = {9, 9};
    assert_int_equal(dynhcp_posmap_add(&map, first, where), 0);
    static const char *const bad[] = {
        "[1, 2, {\"a\": [true, x]}]", "{\"a\":1,\"a\":2}", "[\"ok\", \"\\q\"]", "[1] 2",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dynhcp_parse_error err = {{0, 0}, "", 0};
        assert_null(parse_exact(bad[i], strlen(bad[i]), start_of_text, &map, &err));
        assert_int_equal(map.count, 1);
        assert_ptr_equal(map.entries[0].node, first);
        assert_int_equal(map.entries[0].pos.line, 9);
    }
    cJSON_Delete(first);
    dynhcp_posmap_clear(&map);
}

static void the_first_error_wins(void **state)
{
    (void)state;
    dynhcp_parse_error err = {{2, 3}, "earlier problem", 0};
    assert_null(parse_exact("[x]", 3, start_of_text, NULL, &err));
    assert_string_equal(err.message, "earlier problem");
    assert_int_equal(err.pos.line, 2);
    assert_null(dynhcp_json_parse("[x]", 3, start_of_text, NULL, NULL));
}

/* cJSON allocations fail from the Nth on, to check the out-of-memory path. */
static int allocations_left;

static void *failing_malloc(size_t size)
{
    if (allocations_left == 0) {
        return NULL;
    }
    allocations_left--;
    return malloc(size);
}

static void out_of_memory_is_a_clean_error(void **state)
{
    (void)state;
    cJSON_Hooks hooks = {failing_malloc, free};
    cJSON_InitHooks(&hooks);
    const char *text = "{\"a\":[1,\"two\",{\"b\":null,\"c\":true}],\"d\":\"\\u00e9\"}";
    int n = 0;
    for (;; n++) {
        allocations_left = n;
        dynhcp_posmap map = {NULL, 0, 0};
        dynhcp_parse_error err = {{0, 0}, "", 0};
        cJSON *root = parse_exact(text, strlen(text), start_of_text, &map, &err);
        if (root != NULL) {
            cJSON_Delete(root);
            dynhcp_posmap_clear(&map);
            break;
        }
        assert_string_equal(err.message, "out of memory");
        assert_int_equal(err.pos.line, 0);
        assert_int_equal(map.count, 0);
        dynhcp_posmap_clear(&map);
    }
    cJSON_InitHooks(NULL);
    assert_true(n > 10);
}

/* ---- numbers written for people (text.c) ---------------------------------- */

static void format_decimal_writes_exact_decimals(void **state)
{
    (void)state;
    char buf[DYNHCP_NUMBER_TEXT_SIZE];
    const struct {
        uint64_t value;
        unsigned scale;
        const char *text;
    } cases[] = {
        {3599000000000ull, 9, "3599"},  {1000000000000ull, 9, "1000"}, {2500000000ull, 9, "2.5"},
        {250000000ull, 9, "0.25"},      {1000000001ull, 9, "1.000000001"},
        {1ull, 9, "0.000000001"},       {0, 9, "0"},                   {86400000000000ull, 9, "86400"},
        {1234567ull, 6, "1.234567"},    {1230000ull, 6, "1.23"},       {42, 0, "42"},
        {UINT64_MAX, 0, "18446744073709551615"}, {UINT64_MAX, 19, "1.8446744073709551615"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_string_equal(dynhcp_format_decimal(buf, cases[i].value, cases[i].scale),
                            cases[i].text);
    }
}

/* Every value of the table is its own shortest spelling. */
static const struct {
    double value;
    const char *text;
} shortest[] = {
    {0.0, "0"}, {-0.0, "-0"}, {1.0, "1"}, {2.5, "2.5"}, {0.1, "0.1"}, {2.0000001, "2.0000001"},
    {-2.000000000000001, "-2.000000000000001"}, {3.0000000000000004, "3.0000000000000004"},
    {100.0, "100"}, {1e20, "100000000000000000000"}, {1e21, "1e+21"}, {1.5e300, "1.5e+300"},
    {0.000001, "0.000001"}, {1.25e-7, "1.25e-7"}, {5e-324, "5e-324"},
    {1.7976931348623157e308, "1.7976931348623157e+308"}, {123456.789, "123456.789"},
};

static void format_double_writes_the_shortest_round_trip(void **state)
{
    (void)state;
    char buf[DYNHCP_NUMBER_TEXT_SIZE];
    for (size_t i = 0; i < sizeof(shortest) / sizeof(shortest[0]); i++) {
        assert_string_equal(dynhcp_format_double(buf, shortest[i].value), shortest[i].text);
        assert_true(strtod(buf, NULL) == shortest[i].value);
    }
    assert_string_equal(dynhcp_format_double(buf, NAN), "nan");
    assert_string_equal(dynhcp_format_double(buf, -INFINITY), "-inf");
}

static void numbers_written_for_people_ignore_a_comma_decimal_locale(void **state)
{
    (void)state;
    if (setlocale(LC_ALL, "de_DE.UTF-8") == NULL && setlocale(LC_ALL, "de_DE.utf8") == NULL) {
        skip();
    }
    char texts[sizeof(shortest) / sizeof(shortest[0])][DYNHCP_NUMBER_TEXT_SIZE];
    for (size_t i = 0; i < sizeof(shortest) / sizeof(shortest[0]); i++) {
        dynhcp_format_double(texts[i], shortest[i].value);
    }
    char decimal[DYNHCP_NUMBER_TEXT_SIZE];
    dynhcp_format_decimal(decimal, 2500000000ull, 9);
    setlocale(LC_ALL, "C");
    for (size_t i = 0; i < sizeof(shortest) / sizeof(shortest[0]); i++) {
        assert_string_equal(texts[i], shortest[i].text);
    }
    assert_string_equal(decimal, "2.5");
}

static int restore_c_locale_all(void **state)
{
    (void)state;
    setlocale(LC_ALL, "C");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_or_blank_text_is_rejected),
        cmocka_unit_test(text_after_the_value_is_rejected),
        cmocka_unit_test(nul_bytes_inside_the_length_are_rejected),
        cmocka_unit_test(object_syntax_errors_say_what_was_expected),
        cmocka_unit_test(array_syntax_errors_say_what_was_expected),
        cmocka_unit_test(values_that_are_not_json_are_rejected_with_hints),
        cmocka_unit_test(misspelled_literals_are_rejected_at_the_first_wrong_letter),
        cmocka_unit_test(numbers_outside_the_json_grammar_are_rejected),
        cmocka_unit_test(raw_control_characters_in_strings_are_rejected),
        cmocka_unit_test(unterminated_strings_are_rejected_at_the_end),
        cmocka_unit_test(invalid_escapes_are_rejected_at_the_backslash),
        cmocka_unit_test(unicode_escapes_need_four_hex_digits),
        cmocka_unit_test(lone_surrogates_and_escaped_nul_are_rejected),
        cmocka_unit_test(invalid_utf8_in_strings_is_rejected_at_the_bad_byte),
        cmocka_unit_test(nesting_deeper_than_64_is_rejected_at_the_bracket),
        cmocka_unit_test(nesting_of_exactly_64_is_accepted),
        cmocka_unit_test(duplicate_keys_are_rejected_at_the_second_key),
        cmocka_unit_test(duplicate_keys_are_found_in_large_objects),
        cmocka_unit_test(columns_count_characters_and_tabs_as_one),
        cmocka_unit_test(positions_start_at_the_origin),
        cmocka_unit_test(strings_decode_escapes_and_surrogate_pairs_to_utf8),
        cmocka_unit_test(numbers_are_read_by_value),
        cmocka_unit_test_teardown(numbers_ignore_a_comma_decimal_locale, restore_c_locale),
        cmocka_unit_test(literals_become_cjson_booleans_and_null),
        cmocka_unit_test(text_need_not_end_with_nul),
        cmocka_unit_test(valid_documents_read_as_cjson_reads_them),
        cmocka_unit_test(position_map_records_every_value_start),
        cmocka_unit_test(position_map_honours_the_origin_and_appends),
        cmocka_unit_test(failed_parse_leaves_the_map_as_it_was),
        cmocka_unit_test(the_first_error_wins),
        cmocka_unit_test(out_of_memory_is_a_clean_error),
        cmocka_unit_test(format_decimal_writes_exact_decimals),
        cmocka_unit_test(format_double_writes_the_shortest_round_trip),
        cmocka_unit_test_teardown(numbers_written_for_people_ignore_a_comma_decimal_locale,
                                  restore_c_locale_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
