/* fuzz_check.c: properties of the JSON reader checked on every fuzz input. */
#include "fuzz_check.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_text.h"

void fuzz_broken(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz property broken: %s: %s\n", what, detail);
    abort();
}

static size_t count_nodes(const cJSON *node)
{
    size_t n = 1;
    for (const cJSON *c = node->child; c != NULL; c = c->next) {
        n += count_nodes(c);
    }
    return n;
}

/* Whether a and b hold the same data. Not cJSON_Compare: it compares every
 * object member twice, which takes 2^depth steps on nested objects. b has no
 * duplicate keys (it was read by the strict reader), so with equal sizes one
 * direction is enough. */
static int same_tree(const cJSON *a, const cJSON *b)
{
    if ((a->type & 0xFF) != (b->type & 0xFF)) {
        return 0;
    }
    if (cJSON_IsNumber(a)) {
        /* cJSON prints 15 significant digits when they read back within
         * this tolerance (its compare_double), so printing may lose an ulp. */
        double x = a->valuedouble, y = b->valuedouble;
        double scale = fabs(x) > fabs(y) ? fabs(x) : fabs(y);
        return fabs(x - y) <= scale * DBL_EPSILON;
    }
    if (cJSON_IsString(a)) {
        return strcmp(a->valuestring, b->valuestring) == 0;
    }
    if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) {
        return 0;
    }
    const cJSON *bc = b->child;
    for (const cJSON *ac = a->child; ac != NULL; ac = ac->next, bc = bc->next) {
        const cJSON *other = cJSON_IsObject(a) ? cJSON_GetObjectItemCaseSensitive(b, ac->string)
                                               : bc;
        if (other == NULL || !same_tree(ac, other)) {
            return 0;
        }
    }
    return 1;
}

void fuzz_check_round_trip(const cJSON *root, const char *what)
{
    char *printed = cJSON_PrintUnformatted(root);
    if (printed == NULL) {
        return; /* out of memory: nothing to compare */
    }
    dynhcp_pos origin = {1, 1};
    dynhcp_parse_error err = {{0, 0}, "", 0};
    cJSON *again = dynhcp_json_parse(printed, strlen(printed), origin, NULL, &err);
    if (again == NULL) {
        fprintf(stderr, "printed: %.300s\nat %u:%u\n", printed, err.pos.line, err.pos.column);
        fuzz_broken(what, err.message);
    }
    if (!same_tree(root, again)) {
        fprintf(stderr, "printed: %.300s\n", printed);
        fuzz_broken(what, "the printed tree reads back different");
    }
    cJSON_Delete(again);
    cJSON_free(printed);
}

/* How many steps cJSON_Compare takes on node, up to limit: it compares
 * every object member from both sides, so each level of objects doubles. */
static size_t compare_cost(const cJSON *node, size_t limit)
{
    size_t cost = 1;
    for (const cJSON *c = node->child; c != NULL && cost < limit; c = c->next) {
        size_t child = compare_cost(c, limit);
        cost += cJSON_IsObject(node) ? (child < limit ? 2 * child : limit) : child;
    }
    return cost < limit ? cost : limit;
}

void fuzz_check_text_matches(const char *text, const cJSON *tree, const char *what)
{
    cJSON *again = cJSON_ParseWithOpts(text, NULL, 1);
    if (again == NULL) {
        fprintf(stderr, "text: %.300s\n", text);
        fuzz_broken(what, "the text does not parse with cJSON_Parse");
    }
    /* cJSON_Compare where it finishes; on deeply nested objects (2^depth
     * steps) the linear comparison, both ways, which also sees a member
     * given twice. */
    int equal = compare_cost(tree, 1u << 20) < (1u << 20)
                    ? cJSON_Compare(again, tree, 1)
                    : same_tree(again, tree) && same_tree(tree, again);
    if (!equal) {
        char *printed = cJSON_PrintUnformatted(tree);
        fprintf(stderr, "text: %.300s\ntree: %.300s\n", text, printed ? printed : "?");
        cJSON_free(printed);
        fuzz_broken(what, "the text reads back different from the tree");
    }
    cJSON_Delete(again);
    /* The strict reader takes it too: no member twice, valid UTF-8. */
    dynhcp_pos origin = {1, 1};
    dynhcp_parse_error err = {{0, 0}, "", 0};
    cJSON *strict = dynhcp_json_parse(text, strlen(text), origin, NULL, &err);
    if (strict == NULL) {
        fprintf(stderr, "text: %.300s\nat %u:%u\n", text, err.pos.line, err.pos.column);
        fuzz_broken(what, err.message);
    }
    if (!same_tree(strict, tree) || !same_tree(tree, strict)) {
        fprintf(stderr, "text: %.300s\n", text);
        fuzz_broken(what, "the text read strictly differs from the tree");
    }
    cJSON_Delete(strict);
}

void fuzz_check_json(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    dynhcp_posmap map = {NULL, 0, 0};
    dynhcp_pos origin = {1, 1};
    /* One entry already there: the reader must append after it and, on
     * failure, leave it alone. */
    if (dynhcp_posmap_add(&map, NULL, origin) != 0) {
        return;
    }
    dynhcp_parse_error err = {{0, 0}, "", 0};
    cJSON *root = dynhcp_json_parse(text, size, origin, &map, &err);
    if (root == NULL) {
        if (err.message[0] == '\0') {
            fuzz_broken("dynhcp_json_parse", "failed without a message");
        }
        if (map.count != 1 || map.entries[0].node != NULL) {
            fuzz_broken("dynhcp_json_parse", "a failure changed the position map");
        }
        if (strcmp(err.message, "out of memory") != 0) {
            /* The same text placed at line 7, column 3 of a larger file. (Not
             * the same message: some quote a position.) */
            dynhcp_pos shifted = {7, 3};
            dynhcp_parse_error err2 = {{0, 0}, "", 0};
            if (dynhcp_json_parse(text, size, shifted, NULL, &err2) != NULL ||
                err2.pos.line != err.pos.line + 6 ||
                err2.pos.column != err.pos.column + (err.pos.line == 1 ? 2 : 0)) {
                fuzz_broken("dynhcp_json_parse", "the origin does not shift the error alone");
            }
        }
    } else {
        if (err.message[0] != '\0') {
            fuzz_broken("dynhcp_json_parse", "succeeded with an error message");
        }
        if (map.count != 1 + count_nodes(root) || map.entries[1].node != root) {
            fuzz_broken("dynhcp_json_parse", "the position map does not hold one entry per node");
        }
        for (size_t i = 1; i < map.count; i++) {
            if (map.entries[i].pos.line < 1 || map.entries[i].pos.column < 1) {
                fuzz_broken("dynhcp_json_parse", "a node has no position");
            }
        }
        fuzz_check_round_trip(root, "dynhcp_json_parse round trip");
        cJSON_Delete(root);
    }
    dynhcp_posmap_clear(&map);
}
