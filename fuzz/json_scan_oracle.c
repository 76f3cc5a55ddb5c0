/* json_scan_oracle.c: the scanner against the strict reader (json_scan_oracle.h). */
#include "json_scan_oracle.h"

#include <stdio.h>
#include <string.h>

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

int json_scan_oracle(const char *text, size_t len, int *valid, char *detail, size_t size)
{
    long items;
    cli_json_shape shape = cli_json_scan(text, len, "choices", &items);
    dynhcp_parse_error err;
    memset(&err, 0, sizeof(err));
    cJSON *tree = dynhcp_json_parse(text, len, (dynhcp_pos){1, 1}, NULL, &err);
    *valid = tree != NULL;
    if (tree == NULL && (err.nomem || reader_only_refusal(err.message))) {
        return -1;
    }
    cli_json_shape expected = tree == NULL            ? CLI_JSON_INVALID
                              : cJSON_IsObject(tree)   ? CLI_JSON_OBJECT
                                                       : CLI_JSON_NOT_OBJECT;
    const cJSON *member =
        cJSON_IsObject(tree) ? cJSON_GetObjectItemCaseSensitive(tree, "choices") : NULL;
    long expected_items = cJSON_IsArray(member) ? (long)cJSON_GetArraySize(member) : -1;
    cJSON_Delete(tree);
    if (shape != expected || items != expected_items) {
        snprintf(detail, size, "scanner: shape %d items %ld; reader: shape %d items %ld (%s)",
                 (int)shape, items, (int)expected, expected_items, err.message);
        return 0;
    }
    return 1;
}
