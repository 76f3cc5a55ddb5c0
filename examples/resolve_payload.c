/* resolve_payload.c: resolve the health-check payload for a chat model the
 * way a serving runtime would at start-up, and print where it came from.
 *
 *   ./resolve_payload [config.yaml]
 */
#include <stdio.h>

#include <dynhc/dynhc.h>

int main(int argc, char **argv)
{
    dynhc_resolver *resolver = dynhc_resolver_new();
    if (resolver == NULL) {
        return 1;
    }
    dynhc_resolver_set_model_type(resolver, "chat");
    if (argc > 1) {
        dynhc_resolver_set_config_file(resolver, argv[1]);
    }

    dynhc_result *result = NULL;
    int status = dynhc_resolver_resolve(resolver, &result);
    for (size_t i = 0; i < dynhc_result_diag_count(result); i++) {
        char line[512];
        dynhc_diag_format(dynhc_result_diag(result, i), line, sizeof(line));
        fprintf(stderr, "%s\n", line);
    }
    if (status == DYNHC_OK) {
        printf("payload %s\nfrom %s, token budget %lld\n", dynhc_result_text(result),
               dynhc_source_name(dynhc_result_source(result)),
               dynhc_result_token_budget(result));
    } else {
        printf("no payload: %s\n", dynhc_strerror(status));
    }
    dynhc_result_free(result);
    dynhc_resolver_free(resolver);
    return status == DYNHC_OK || status == DYNHC_DISABLED ? 0 : 1;
}
