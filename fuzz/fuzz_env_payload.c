/* fuzz_env_payload.c: a payload given in DYN_HEALTH_CHECK_PAYLOAD, resolved
 * through the public API in replace and in merge mode (each result's text
 * must read back to its tree), and the same bytes read by the JSON reader. */
#include <stdlib.h>
#include <string.h>

#include <dynhc/cjson.h>
#include <dynhc/dynhc.h>

#include "fuzz_check.h"

static const char *fuzz_getenv(const char *name, void *user_data)
{
    return strcmp(name, "DYN_HEALTH_CHECK_PAYLOAD") == 0 ? user_data : NULL;
}

/* Uses everything the result offers, so that the sanitizers see it read. */
static void read_result(const dynhc_result *res)
{
    const char *text = dynhc_result_text(res);
    const cJSON *payload = dynhc_result_payload(res);
    if ((text == NULL) != (payload == NULL)) {
        abort();
    }
    if (payload != NULL) {
        fuzz_check_round_trip(payload, "resolved payload");
        fuzz_check_text_matches(text, payload, "dynhc_result_text");
    }
    const char *origin = dynhc_result_origin(res);
    if (origin != NULL) {
        (void)strlen(origin);
    }
    for (size_t i = 0; i < dynhc_result_diag_count(res); i++) {
        char line[512];
        if (dynhc_diag_format(dynhc_result_diag(res, i), line, sizeof(line)) < 0) {
            abort();
        }
    }
    char *explain = dynhc_result_explain(res);
    dynhc_free(explain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An environment value is a C string: it ends at the first NUL. */
    char *value = malloc(size + 1);
    if (value == NULL) {
        return 0;
    }
    memcpy(value, data, size);
    value[size] = '\0';
    /* Replace mode keeps the payload's own text; merge mode prints the
     * merged tree: both texts must read back to the result's tree. */
    for (int merge = 0; merge < 2; merge++) {
        dynhc_resolver *r = dynhc_resolver_new();
        if (r != NULL && dynhc_resolver_set_getenv(r, fuzz_getenv, value) == DYNHC_OK &&
            dynhc_resolver_set_merge(r, merge) == DYNHC_OK) {
            dynhc_result *res = NULL;
            int status = dynhc_resolver_resolve(r, &res);
            if (res != NULL) {
                if (dynhc_result_status(res) != status) {
                    abort();
                }
                read_result(res);
            }
            dynhc_result_free(res);
        }
        dynhc_resolver_free(r);
    }
    free(value);

    fuzz_check_json(data, size);
    return 0;
}
