/* compat.c: the seed's dynhc_get_health_check_payload() on the resolver's
 * public API. Its companion, dynhc_set_custom_health_check_payload(), sets
 * the process-wide default every resolver reads (custom_default.c). */
#include "dynhc/compat.h"

#include "dynhc/resolver.h"

#include <stdio.h>

#include "alloc.h"

char *dynhc_get_health_check_payload(const dynhc_config *config, const char *model_type)
{
    dynhc_resolver *r = dynhc_resolver_new();
    if (r == NULL) {
        fprintf(stderr, "dynhc: error: %s\n", dynhc_strerror(DYNHC_ERR_NOMEM));
        return NULL;
    }
    char *text = NULL;
    dynhc_result *res = NULL;
    int status = config != NULL ? dynhc_resolver_set_config(r, config) : DYNHC_OK;
    if (status == DYNHC_OK && model_type != NULL) {
        status = dynhc_resolver_set_model_type(r, model_type);
    }
    if (status == DYNHC_OK) {
        status = dynhc_resolver_resolve(r, &res);
    }
    if (status == DYNHC_OK && (text = dynhcp_strdup(dynhc_result_text(res))) == NULL) {
        status = DYNHC_ERR_NOMEM;
    }
    if (status == DYNHC_ERR_INVALID_ARG) {
        fprintf(stderr, "dynhc: error: invalid dynhc_config: initialise it with "
                        "DYNHC_CONFIG_INIT\n");
    } else if (status == DYNHC_ERR_UNKNOWN_MODEL_TYPE) {
        fprintf(stderr, "dynhc: error: unknown model type \"%s\"\n", model_type);
    } else if (status == DYNHC_ERR_NOMEM) {
        fprintf(stderr, "dynhc: error: %s\n", dynhc_strerror(status));
    }
    /* The seed wrote its warnings to the log; stderr is the closest here. */
    for (size_t i = 0; i < dynhc_result_diag_count(res); i++) {
        char line[1024];
        dynhc_diag_format(dynhc_result_diag(res, i), line, sizeof(line));
        fprintf(stderr, "%s\n", line);
    }
    dynhc_result_free(res);
    dynhc_resolver_free(r);
    return text;
}
