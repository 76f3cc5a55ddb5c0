/* test_yaml_load.c: YAML config text to cJSON, SPEC 1.5 (core schema, aliases,
 * duplicate keys, first document only) and the positions of 1.6. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "yaml_load.h"

static cJSON *parse(const char *text, dynhcp_parse_error *err)
{
    memset(err, 0, sizeof(*err));
    return dynhcp_yaml_parse(text, strlen(text), NULL, err);
}

static void assert_error_at(const char *text, unsigned line, unsigned column, const char *message)
{
    dynhcp_parse_error err;
    cJSON *json = parse(text, &err);
    if (json != NULL) {
        char *printed = cJSON_PrintUnformatted(json);
        cJSON_Delete(json);
        fail_msg("accepted %s as %s", text, printed);
    }
    if (strcmp(err.message, message) != 0 || err.pos.line != line || err.pos.column != column) {
        fail_msg("%s: got %u:%u: %s, expected %u:%u: %s", text, err.pos.line, err.pos.column,
                 err.message, line, column, message);
    }
}

static void assert_json(const char *text, const char *expected)
{
    dynhcp_parse_error err;
    cJSON *json = parse(text, &err);
    if (json == NULL) {
        fail_msg("%s rejected: %u:%u: %s", text, err.pos.line, err.pos.column, err.message);
    }
    char *printed = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    if (strcmp(printed, expected) != 0) {
        fail_msg("%s gave %s, expected %s", text, printed, expected);
    }
    cJSON_free(printed);
}

/* head, then unit n times, then tail; caller frees. */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t h = strlen(head), u = strlen(unit), t = strlen(tail);
    char *s = malloc(h + u * n + t + 1);
    assert_non_null(s);
    memcpy(s, head, h);
    for (size_t i = 0; i < n; i++) {
        memcpy(s + h + i * u, unit, u);
    }
    memcpy(s + h + u * n, tail, t + 1);
    return s;
}

static void syntax_errors_carry_libyaml_line_and_column(void **state)
{
    (void)state;
    assert_error_at("a: [1, 2\nb: 3\n", 2, 2,
                    "did not find expected ',' or ']' (while parsing a flow sequence at line 1, "
                    "column 4)");
    assert_error_at("a: 1\n b: 2\n", 2, 3, "mapping values are not allowed in this context");
    assert_error_at("{a: 1} x\n", 1, 8, "did not find expected <document start>");
    assert_error_at("a: \"open\n", 2, 1,
                    "found unexpected end of stream (while scanning a quoted scalar at line 1, "
                    "column 4)");
}

static void tab_indentation_is_called_a_tab(void **state)
{
    (void)state;
    assert_error_at("health_check_payload:\n\tprompt: x\n", 2, 1,
                    "found character that cannot start any token (while scanning for the next "
                    "token at line 2, column 1); a tab cannot indent YAML: use spaces");
    assert_error_at("model: a\nhealth_check_payload:\n  prompt: x\n\tmax_tokens: 2\n", 4, 1,
                    "found a tab character that violates indentation (while scanning a plain "
                    "scalar at line 3, column 11); a tab cannot indent YAML: use spaces");
    /* A tab where YAML allows one is no error; an error elsewhere says nothing of tabs. */
    assert_json("a:\t1\n", "{\"a\":1}");
    assert_error_at("a: 1\n b: 2\n", 2, 3, "mapping values are not allowed in this context");
}

static void bytes_that_are_not_utf8_are_rejected_where_they_are(void **state)
{
    (void)state;
    assert_error_at("a: b\nc: \xff\n", 2, 4, "invalid leading UTF-8 octet (0xFF)");
    assert_error_at("a: \xc3\xa9\xc3\n", 1, 6, "invalid trailing UTF-8 octet (0x0A)");
    assert_error_at("a: \xc3", 1, 4, "incomplete UTF-8 octet sequence");
    assert_error_at("a: \x01\n", 1, 4, "control characters are not allowed (0x01)");
    assert_error_at("\xff\xfe" "a", 1, 1, "invalid leading UTF-8 octet (0xFF)");
}

static void infinity_and_nan_are_errors_at_the_scalar(void **state)
{
    (void)state;
    const char *words[] = {".inf", "-.inf", "+.inf", ".Inf", ".INF", "-.INF",
                           ".nan", ".NaN", ".NAN"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        char text[64], message[128];
        snprintf(text, sizeof(text), "a:\n  b: [1, %s]\n", words[i]);
        snprintf(message, sizeof(message),
                 "\"%s\" cannot be a number: JSON has no infinity or NaN", words[i]);
        assert_error_at(text, 2, 10, message);
    }
    assert_error_at("x: !!float .inf", 1, 4,
                    "\".inf\" cannot be a number: JSON has no infinity or NaN");
}

static void numbers_beyond_a_double_are_errors(void **state)
{
    (void)state;
    assert_error_at("a: 1e999", 1, 4, "\"1e999\" is out of the range of a double");
    assert_error_at("a: -1e309", 1, 4, "\"-1e309\" is out of the range of a double");
    char *big_hex = repeat("a: 0x", "f", 300, "");
    dynhcp_parse_error err;
    assert_null(parse(big_hex, &err));
    assert_non_null(strstr(err.message, "is out of the range of a double"));
    free(big_hex);
    char *big_octal = repeat("a: 0o", "7", 400, "");
    assert_null(parse(big_octal, &err));
    assert_non_null(strstr(err.message, "is out of the range of a double"));
    free(big_octal);
}

static void scalars_that_do_not_fit_their_tag_are_errors(void **state)
{
    (void)state;
    assert_error_at("a: !!int abc", 1, 4, "\"abc\" is not a valid !!int");
    assert_error_at("a: !!int 1.5", 1, 4, "\"1.5\" is not a valid !!int");
    assert_error_at("a: !!float abc", 1, 4, "\"abc\" is not a valid !!float");
    assert_error_at("a: !!float 0x10", 1, 4, "\"0x10\" is not a valid !!float");
    assert_error_at("a: !!bool yes", 1, 4, "\"yes\" is not a valid !!bool");
    assert_error_at("a: !!null 0", 1, 4, "\"0\" is not a valid !!null");
    assert_error_at("a: !!int \"\"", 1, 4, "\"\" is not a valid !!int");
}

static void collection_tags_on_the_wrong_node_are_errors(void **state)
{
    (void)state;
    assert_error_at("a: !!map 1", 1, 4, "tag !!map on a scalar");
    assert_error_at("a: !!seq x", 1, 4, "tag !!seq on a scalar");
    assert_error_at("a: !!seq {b: 1}", 1, 4, "tag !!seq on a mapping");
    assert_error_at("a: !!map [1]", 1, 4, "tag !!map on a sequence");
    assert_error_at("a: !!str [1]", 1, 4, "tag !!str on a sequence");
    assert_error_at("!!int\nb: 1\n", 1, 1, "tag !!int on a mapping");
}

static void duplicate_key_is_an_error_at_the_second_key(void **state)
{
    (void)state;
    assert_error_at("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n", 5, 3, "duplicate key \"c\"");
    assert_error_at("{x: 1, y: 2, x: 3}", 1, 14, "duplicate key \"x\"");
    assert_error_at("a: 1\n'a': 2\n", 2, 1, "duplicate key \"a\"");
    assert_error_at("1: a\n\"1\": b\n", 2, 1, "duplicate key \"1\"");
}

static void keys_that_are_not_scalars_are_errors(void **state)
{
    (void)state;
    assert_error_at("? [a]\n: 1\n", 1, 3, "mapping keys must be scalars");
    assert_error_at("{[a]: 1}", 1, 2, "mapping keys must be scalars");
    assert_error_at("x: 1\n? {a: 1}\n: 2\n", 2, 3, "mapping keys must be scalars");
}

/* A runtime's config may anchor a key or use an alias as one anywhere; the
 * key is the scalar's text, as for any key (SPEC 1.5 ignores unknown keys,
 * so such a file must load). */
static void keys_with_anchors_and_aliases_are_their_text(void **state)
{
    (void)state;
    assert_json("a: &k b\n*k : c\n", "{\"a\":\"b\",\"b\":\"c\"}");
    assert_json("&k a: b\n", "{\"a\":\"b\"}");
    assert_json("&k a: b\nc: *k\n", "{\"a\":\"b\",\"c\":\"a\"}");
    assert_json("x: &n 1.50\ny: {*n : 2}\n", "{\"x\":1.5,\"y\":{\"1.50\":2}}");
    /* An anchored key aliased as a value is the scalar the schema makes of it. */
    assert_json("&k 1: x\nv: *k\n", "{\"1\":\"x\",\"v\":1}");
    assert_json("&k !!int abc: x\nv: *k\n", "{\"abc\":\"x\",\"v\":\"abc\"}");
    assert_json("other:\n  &a key: 1\n  x: *a\nmodel: m\n",
                "{\"other\":{\"key\":1,\"x\":\"key\"},\"model\":\"m\"}");
}

static void alias_keys_follow_the_key_rules(void **state)
{
    (void)state;
    assert_error_at("a: &k b\nb: 1\n*k : 2\n", 3, 1, "duplicate key \"b\"");
    assert_error_at("a: &m {x: 1}\n*m : 2\n", 2, 1,
                    "mapping keys must be scalars (the alias *m names a mapping)");
    assert_error_at("a: &s [1]\n*s : 2\n", 2, 1,
                    "mapping keys must be scalars (the alias *s names a sequence)");
    assert_error_at("*nope : 1\n", 1, 1, "undefined alias \"nope\"");
    /* A redefined anchor means its latest node, for keys too. */
    assert_json("&k a: 1\nc:\n  &k b: 2\n  d: {*k : 3}\n",
                "{\"a\":1,\"c\":{\"b\":2,\"d\":{\"b\":3}}}");
}

static void undefined_alias_is_an_error(void **state)
{
    (void)state;
    assert_error_at("a: 1\nb: *nope\n", 2, 4, "undefined alias \"nope\"");
    /* An anchor is defined once its node is complete: no cycles. */
    assert_error_at("a: &x [1, *x]\n", 1, 11, "undefined alias \"x\"");
}

static void nesting_deeper_than_64_is_an_error_at_the_opening_node(void **state)
{
    (void)state;
    char *deep = repeat("", "[", 65, "]");
    dynhcp_parse_error err;
    assert_null(parse(deep, &err));
    assert_string_equal(err.message, "nesting deeper than 64 levels");
    assert_int_equal(err.pos.line, 1);
    assert_int_equal(err.pos.column, 65);
    free(deep);
    char *deep_map = repeat("", "{a: ", 65, "1");
    assert_null(parse(deep_map, &err));
    assert_string_equal(err.message, "nesting deeper than 64 levels");
    assert_int_equal(err.pos.column, 4 * 64 + 1);
    free(deep_map);
}

static void nesting_of_64_is_accepted(void **state)
{
    (void)state;
    char *text = repeat("", "[", 64, "");
    char *closed = repeat(text, "]", 64, "");
    dynhcp_parse_error err;
    cJSON *json = parse(closed, &err);
    assert_non_null(json);
    cJSON_Delete(json);
    free(text);
    free(closed);
}

static void alias_that_would_nest_too_deep_is_an_error(void **state)
{
    (void)state;
    /* The anchored node is 2 levels deep; used at depth 64 it would reach 65. */
    char *head = repeat("a: &x [[1]]\nb: ", "[", 62, "*x");
    dynhcp_parse_error err;
    assert_null(parse(head, &err));
    assert_string_equal(err.message, "nesting deeper than 64 levels");
    assert_int_equal(err.pos.line, 2);
    assert_int_equal(err.pos.column, 4 + 62);
    free(head);
}

static void billion_laughs_stops_at_the_node_bound(void **state)
{
    (void)state;
    const char *text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                       "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                       "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    clock_t start = clock();
    dynhcp_parse_error err;
    assert_null(parse(text, &err));
    assert_string_equal(err.message, "alias expansion produces more than 100000 nodes");
    /* The root, a to d and e's sequence make 12 346 nodes; each *d copies
     * 11 111, so the eighth would pass 100 000. */
    assert_int_equal(err.pos.line, 5);
    assert_int_equal(err.pos.column, 8 + 4 * 7);
    assert_true((double)(clock() - start) / CLOCKS_PER_SEC < 10.0);
}

static void more_than_100000_plain_nodes_are_an_error(void **state)
{
    (void)state;
    char *text = repeat("[", "0,", DYNHCP_YAML_MAX_NODES, "0]");
    dynhcp_parse_error err;
    assert_null(parse(text, &err));
    assert_string_equal(err.message, "more than 100000 nodes");
    free(text);
}

static void nul_character_in_a_string_is_an_error(void **state)
{
    (void)state;
    assert_error_at("a: \"x\\0y\"", 1, 4, "a string cannot contain a NUL character");
    assert_error_at("\"k\\0\": 1", 1, 1, "a string cannot contain a NUL character");
}

static void failed_parse_restores_the_position_map(void **state)
{
    (void)state;
    dynhcp_posmap map = {0};
    cJSON *kept = cJSON_CreateNull();
    dynhcp_pos somewhere = {7, 7};
    assert_int_equal(dynhcp_posmap_add(&map, kept, somewhere), 0);
    dynhcp_parse_error err = {0};
    const char *text = "a: [1, 2, {b: c}]\nd: .nan\n";
    assert_null(dynhcp_yaml_parse(text, strlen(text), &map, &err));
    assert_int_equal(map.count, 1);
    assert_int_equal(dynhcp_posmap_find(&map, kept).line, 7);
    dynhcp_posmap_clear(&map);
    cJSON_Delete(kept);
}

static long allocations_left;

static void *failing_malloc(size_t size)
{
    return allocations_left-- == 0 ? NULL : malloc(size);
}

static void every_cjson_allocation_failure_is_out_of_memory(void **state)
{
    (void)state;
    const char *text = "a: &x {k: [1, \"s\", 0x1F]}\nb: *x\nc: [true, null, 1.5]\n";
    cJSON_Hooks hooks = {failing_malloc, free};
    for (long n = 0;; n++) {
        dynhcp_posmap map = {0};
        dynhcp_parse_error err = {0};
        allocations_left = n;
        cJSON_InitHooks(&hooks);
        cJSON *json = dynhcp_yaml_parse(text, strlen(text), &map, &err);
        cJSON_InitHooks(NULL);
        if (json != NULL) {
            assert_true(n > 10);
            cJSON_Delete(json);
            dynhcp_posmap_clear(&map);
            break;
        }
        assert_string_equal(err.message, "out of memory");
        assert_int_equal(map.count, 0);
        dynhcp_posmap_clear(&map);
    }
}

static void null_spellings_are_null(void **state)
{
    (void)state;
    assert_json("[null, Null, NULL, ~]", "[null,null,null,null]");
    assert_json("-\n- ''\n", "[null,\"\"]");
    assert_json("a:\nb: ~\n", "{\"a\":null,\"b\":null}");
    assert_json("[nULL, none, nil]", "[\"nULL\",\"none\",\"nil\"]");
}

static void bool_spellings_are_booleans(void **state)
{
    (void)state;
    assert_json("[true, True, TRUE, false, False, FALSE]", "[true,true,true,false,false,false]");
    assert_json("[tRUE, fAlse]", "[\"tRUE\",\"fAlse\"]");
}

static void yaml_1_1_booleans_stay_strings(void **state)
{
    (void)state;
    assert_json("[yes, no, on, off, y, n, Yes, ON, Off]",
                "[\"yes\",\"no\",\"on\",\"off\",\"y\",\"n\",\"Yes\",\"ON\",\"Off\"]");
}

static void decimal_hex_and_octal_integers_are_numbers(void **state)
{
    (void)state;
    assert_json("[0, 42, -7, +12, 007, 0x1F, 0xff, 0o17, 0o0]", "[0,42,-7,12,7,31,255,15,0]");
}

static void decimal_floats_are_numbers(void **state)
{
    (void)state;
    assert_json("[1.5, -0.25, .5, +.5, 1., 1e3, 2E-2, 1.5e+2, -.5e1]",
                "[1.5,-0.25,0.5,0.5,1,1000,0.02,150,-5]");
    assert_json("1e-400", "0");
}

static void other_plain_scalars_are_strings(void **state)
{
    (void)state;
    assert_json("[0x, 0o8, 0X1F, -0x1, 1_000, inf, nan, ., +, 1e, 12abc, 1.2.3, +.nan, .infx]",
                "[\"0x\",\"0o8\",\"0X1F\",\"-0x1\",\"1_000\",\"inf\",\"nan\",\".\",\"+\",\"1e\","
                "\"12abc\",\"1.2.3\",\"+.nan\",\".infx\"]");
    assert_json("2001-12-14", "\"2001-12-14\"");
}

static void quoted_and_block_scalars_are_strings(void **state)
{
    (void)state;
    assert_json("[\"true\", '1', \"null\", '', \"~\", '.inf']",
                "[\"true\",\"1\",\"null\",\"\",\"~\",\".inf\"]");
    assert_json("a: |\n  12\nb: >\n  true\n", "{\"a\":\"12\\n\",\"b\":\"true\\n\"}");
}

static void core_tags_are_honoured(void **state)
{
    (void)state;
    assert_json("[!!str 123, !!str true, !!str ~, !!str 1.5]", "[\"123\",\"true\",\"~\",\"1.5\"]");
    assert_json("a: !!str\n", "{\"a\":\"\"}");
    assert_json("[!!int \"12\", !!int 0x10, !!float 1, !!float \"2.5\"]", "[12,16,1,2.5]");
    assert_json("[!!bool \"true\", !!null \"\", !!null ~]", "[true,null,null]");
    assert_json("a: !!seq [1]\nb: !!map {c: 1}\n", "{\"a\":[1],\"b\":{\"c\":1}}");
    assert_json("!<tag:yaml.org,2002:str> 5", "\"5\"");
}

static void other_tags_are_ignored(void **state)
{
    (void)state;
    assert_json("[!foo 12, !foo \"12\", !!binary abc, !!timestamp 2001-12-14]",
                "[12,\"12\",\"abc\",\"2001-12-14\"]");
    assert_json("[! 12, ! [1], ! {a: 1}]", "[\"12\",[1],{\"a\":1}]");
}

static void keys_are_their_text(void **state)
{
    (void)state;
    assert_json("1: a\ntrue: b\n~: c\nnull: d\n0x10: e\n'q': f\n!!int 7: g\n",
                "{\"1\":\"a\",\"true\":\"b\",\"~\":\"c\",\"null\":\"d\",\"0x10\":\"e\","
                "\"q\":\"f\",\"7\":\"g\"}");
    assert_json("a: {k: 1}\nb: {k: 2}\n", "{\"a\":{\"k\":1},\"b\":{\"k\":2}}");
}

static void block_and_flow_styles_give_the_same_tree(void **state)
{
    (void)state;
    const char *expected = "{\"model\":\"gpt2\",\"payload\":{\"messages\":[{\"role\":\"user\","
                           "\"content\":\"Hi\"}],\"max_tokens\":1,\"stream\":false}}";
    assert_json("model: gpt2\n"
                "payload:\n"
                "  messages:\n"
                "    - role: user\n"
                "      content: Hi\n"
                "  max_tokens: 1\n"
                "  stream: false\n",
                expected);
    assert_json("{model: gpt2, payload: {messages: [{role: user, content: Hi}], "
                "max_tokens: 1, stream: false}}",
                expected);
}

static void aliases_are_expanded_as_copies(void **state)
{
    (void)state;
    assert_json("base: &b {x: 1, y: [1, two]}\ncopy: *b\n",
                "{\"base\":{\"x\":1,\"y\":[1,\"two\"]},\"copy\":{\"x\":1,\"y\":[1,\"two\"]}}");
    assert_json("[&v 1, *v, &v 2, *v]", "[1,1,2,2]");
    assert_json("- &n ~\n- *n\n- &t yes\n- *t\n", "[null,null,\"yes\",\"yes\"]");
}

static void merge_key_is_an_ordinary_key(void **state)
{
    (void)state;
    assert_json("a: &a {x: 1}\nb:\n  <<: *a\n  y: 2\n",
                "{\"a\":{\"x\":1},\"b\":{\"<<\":{\"x\":1},\"y\":2}}");
}

static void only_the_first_document_is_read(void **state)
{
    (void)state;
    assert_json("a: 1\n---\nb: 2\n", "{\"a\":1}");
    assert_json("--- 1\n...\n--- [unclosed\n", "1");
    assert_json("a: 1\n---\nb: .inf\n", "{\"a\":1}");
    assert_json("--- x\n--- *undefined\n", "\"x\"");
    assert_json("a: 1\n...\nfoo: [\n", "{\"a\":1}");
}

/* YAML allows only a comment after "..." on its line (l-document-suffix). */
static void text_after_an_explicit_document_end_is_an_error(void **state)
{
    (void)state;
    const char *message = "text after the document end marker \"...\" (only a comment may "
                          "follow it on its line)";
    assert_error_at("a: 1\n... x\n", 2, 5, message);
    assert_error_at("--- 1\n...\t [2]\n", 2, 6, message);
    assert_error_at("\xEF\xBB\xBF" "a: \xC3\xA9\n... x\n", 2, 5, message);
    assert_json("a: 1\n...   # done\nb: [\n", "{\"a\":1}");
    assert_json("a: 1\n...\t\n", "{\"a\":1}");
    assert_json("a: 1\r\n...\r\nb: [\r\n", "{\"a\":1}");
    assert_json("a: 1\n...", "{\"a\":1}");
    assert_json("a: 1\n...\n--- x\n", "{\"a\":1}");
}

static void empty_text_and_empty_documents_are_null(void **state)
{
    (void)state;
    const char *texts[] = {"", "\n", "# only a comment\n", "---\n", "--- \n...\n"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        assert_json(texts[i], "null");
    }
    dynhcp_parse_error err = {0};
    cJSON *json = dynhcp_yaml_parse(NULL, 0, NULL, &err);
    assert_true(cJSON_IsNull(json));
    cJSON_Delete(json);
}

static void text_need_not_be_nul_terminated(void **state)
{
    (void)state;
    const char text[] = {'a', ':', ' ', '1', '2', 'x'};
    dynhcp_parse_error err = {0};
    cJSON *json = dynhcp_yaml_parse(text, 5, NULL, &err);
    assert_non_null(json);
    assert_true(cJSON_GetObjectItem(json, "a")->valuedouble == 12);
    cJSON_Delete(json);
}

static void byte_order_mark_is_skipped_and_takes_no_column(void **state)
{
    (void)state;
    assert_json("\xEF\xBB\xBF" "a: 1\n", "{\"a\":1}");
    assert_error_at("\xEF\xBB\xBF" "a: .inf\n", 1, 4,
                    "\".inf\" cannot be a number: JSON has no infinity or NaN");
    assert_error_at("\xEF\xBB\xBF" "a: \xff\n", 1, 4, "invalid leading UTF-8 octet (0xFF)");
}

static void assert_pos(const dynhcp_posmap *map, const cJSON *node, unsigned line, unsigned column)
{
    assert_non_null(node);
    dynhcp_pos pos = dynhcp_posmap_find(map, node);
    if (pos.line != line || pos.column != column) {
        fail_msg("node at %u:%u, expected %u:%u", pos.line, pos.column, line, column);
    }
}

static void positions_are_recorded_for_nested_values(void **state)
{
    (void)state;
    const char *text = "server:\n  name: x\n  ports: [80, 443]\ncopy: &c {k: v}\nagain: *c\n";
    dynhcp_posmap map = {0};
    dynhcp_parse_error err = {0};
    cJSON *json = dynhcp_yaml_parse(text, strlen(text), &map, &err);
    assert_non_null(json);
    const cJSON *server = cJSON_GetObjectItem(json, "server");
    const cJSON *ports = cJSON_GetObjectItem(server, "ports");
    assert_pos(&map, json, 1, 1);
    assert_pos(&map, server, 2, 3);
    assert_pos(&map, cJSON_GetObjectItem(server, "name"), 2, 9);
    assert_pos(&map, ports, 3, 10);
    assert_pos(&map, cJSON_GetArrayItem(ports, 0), 3, 11);
    assert_pos(&map, cJSON_GetArrayItem(ports, 1), 3, 15);
    assert_pos(&map, cJSON_GetObjectItem(cJSON_GetObjectItem(json, "copy"), "k"), 4, 14);
    /* A copy made by an alias is where the alias is. */
    const cJSON *again = cJSON_GetObjectItem(json, "again");
    assert_pos(&map, again, 5, 8);
    assert_pos(&map, cJSON_GetObjectItem(again, "k"), 5, 8);
    assert_int_equal(map.count, 10);
    cJSON_Delete(json);
    dynhcp_posmap_clear(&map);
}

static double number_of(const char *text)
{
    dynhcp_parse_error err;
    cJSON *json = parse(text, &err);
    if (!cJSON_IsNumber(json)) {
        fail_msg("%s is not a number: %s", text, err.message);
    }
    double value = json->valuedouble;
    cJSON_Delete(json);
    return value;
}

static void large_integers_round_to_the_nearest_double(void **state)
{
    (void)state;
    assert_true(number_of("9007199254740993") == 9007199254740992.0); /* 2^53 + 1: tie, even */
    assert_true(number_of("0x20000000000001") == 9007199254740992.0);
    assert_true(number_of("0x20000000000003") == 9007199254740996.0); /* tie, to even */
    assert_true(number_of("0x200000000000010000000001") == ldexp(9007199254740994.0, 40));
    assert_true(number_of("0o400000000000000001") == 9007199254740992.0);
    assert_true(number_of("0xffffffffffffffffff") == ldexp(1.0, 72));
    assert_true(number_of("123456789012345678901234567890") == 123456789012345678901234567890.0);
}

static void numbers_ignore_the_process_locale(void **state)
{
    (void)state;
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") == NULL &&
        setlocale(LC_NUMERIC, "de_DE.utf8") == NULL) {
        skip();
    }
    double half = number_of("0.5");
    double scaled = number_of("1.25e2");
    setlocale(LC_NUMERIC, "C");
    assert_true(half == 0.5);
    assert_true(scaled == 125.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(syntax_errors_carry_libyaml_line_and_column),
        cmocka_unit_test(tab_indentation_is_called_a_tab),
        cmocka_unit_test(bytes_that_are_not_utf8_are_rejected_where_they_are),
        cmocka_unit_test(infinity_and_nan_are_errors_at_the_scalar),
        cmocka_unit_test(numbers_beyond_a_double_are_errors),
        cmocka_unit_test(scalars_that_do_not_fit_their_tag_are_errors),
        cmocka_unit_test(collection_tags_on_the_wrong_node_are_errors),
        cmocka_unit_test(duplicate_key_is_an_error_at_the_second_key),
        cmocka_unit_test(keys_that_are_not_scalars_are_errors),
        cmocka_unit_test(keys_with_anchors_and_aliases_are_their_text),
        cmocka_unit_test(alias_keys_follow_the_key_rules),
        cmocka_unit_test(text_after_an_explicit_document_end_is_an_error),
        cmocka_unit_test(undefined_alias_is_an_error),
        cmocka_unit_test(nesting_deeper_than_64_is_an_error_at_the_opening_node),
        cmocka_unit_test(alias_that_would_nest_too_deep_is_an_error),
        cmocka_unit_test(billion_laughs_stops_at_the_node_bound),
        cmocka_unit_test(more_than_100000_plain_nodes_are_an_error),
        cmocka_unit_test(nul_character_in_a_string_is_an_error),
        cmocka_unit_test(failed_parse_restores_the_position_map),
        cmocka_unit_test(every_cjson_allocation_failure_is_out_of_memory),
        cmocka_unit_test(nesting_of_64_is_accepted),
        cmocka_unit_test(null_spellings_are_null),
        cmocka_unit_test(bool_spellings_are_booleans),
        cmocka_unit_test(yaml_1_1_booleans_stay_strings),
        cmocka_unit_test(decimal_hex_and_octal_integers_are_numbers),
        cmocka_unit_test(decimal_floats_are_numbers),
        cmocka_unit_test(other_plain_scalars_are_strings),
        cmocka_unit_test(quoted_and_block_scalars_are_strings),
        cmocka_unit_test(core_tags_are_honoured),
        cmocka_unit_test(other_tags_are_ignored),
        cmocka_unit_test(keys_are_their_text),
        cmocka_unit_test(block_and_flow_styles_give_the_same_tree),
        cmocka_unit_test(aliases_are_expanded_as_copies),
        cmocka_unit_test(merge_key_is_an_ordinary_key),
        cmocka_unit_test(only_the_first_document_is_read),
        cmocka_unit_test(empty_text_and_empty_documents_are_null),
        cmocka_unit_test(text_need_not_be_nul_terminated),
        cmocka_unit_test(byte_order_mark_is_skipped_and_takes_no_column),
        cmocka_unit_test(positions_are_recorded_for_nested_values),
        cmocka_unit_test(large_integers_round_to_the_nearest_double),
        cmocka_unit_test(numbers_ignore_the_process_locale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
