/* fuzz_json_scan.c: the CLI's scanner of check answers (src/cli/json_scan.c)
 * against the library's strict JSON reader (src/readers/json_text.c) on the
 * same bytes: both must find the same text valid, the same shape, and the
 * same length of the top-level "choices" array. The reader refuses a few
 * things JSON allows and the scanner takes (duplicate names, invalid UTF-8
 * and lone surrogates, \u0000, nesting past 64, numbers out of a double's
 * range): on those the scanner is not compared. */
#include <stdio.h>
#include <string.h>

#include "fuzz_check.h"
#include "json_scan.h"
#include "json_text.h"

static int reader_only_refusal(const char *message)
{
    static const char *const reasons[] = {"duplicate key", "invalid UTF-8", "surrogate",
                                          "\\u0000", "nesting deeper", "out of range"};
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (strstr(message, reasons[i]) != NULL) {
            return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    long items;
    cli_json_shape shape = cli_json_scan(text, size, "choices", &items);
    dynhcp_parse_error err;
    memset(&err, 0, sizeof(err));
    cJSON *tree = dynhcp_json_parse(text, size, (dynhcp_pos){1, 1}, NULL, &err);
    if (tree == NULL && (err.nomem || reader_only_refusal(err.message))) {
        return 0;
    }
    cli_json_shape expected = tree == NULL            ? CLI_JSON_INVALID
                              : cJSON_IsObject(tree)   ? CLI_JSON_OBJECT
                                                       : CLI_JSON_NOT_OBJECT;
    const cJSON *member =
        cJSON_IsObject(tree) ? cJSON_GetObjectItemCaseSensitive(tree, "choices") : NULL;
    long expected_items = cJSON_IsArray(member) ? (long)cJSON_GetArraySize(member) : -1;
    if (shape != expected || items != expected_items) {
        fprintf(stderr, "scanner: shape %d items %ld; reader: shape %d items %ld (%s)\n",
                (int)shape, items, (int)expected, expected_items, err.message);
        fuzz_broken("cli_json_scan", "disagrees with the strict reader");
    }
    cJSON_Delete(tree);
    return 0;
}
