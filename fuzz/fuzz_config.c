/* fuzz_config.c: config-file bytes read as YAML and as JSON, and resolved as
 * a config file (the payload it gives must have a text that reads back to
 * its tree). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dynhc/cjson.h>
#include <dynhc/dynhc.h>

#include "fuzz_check.h"
#include "yaml_load.h"

static const char *no_env(const char *name, void *user_data)
{
    (void)name;
    (void)user_data;
    return NULL;
}

/* The bytes as a config file: one unlinked temporary file per process,
 * rewritten for each input and opened through /proc/self/fd. */
static void resolve_as_config_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        char name[] = "/tmp/dynhc_fuzz_config_XXXXXX";
        fd = mkstemp(name);
        if (fd < 0) {
            return;
        }
        unlink(name);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) {
        return;
    }
    dynhc_resolver *r = dynhc_resolver_new();
    dynhc_result *res = NULL;
    if (r != NULL && dynhc_resolver_set_getenv(r, no_env, NULL) == DYNHC_OK &&
        dynhc_resolver_set_config_file(r, path) == DYNHC_OK &&
        dynhc_resolver_resolve(r, &res) == DYNHC_OK) {
        const char *text = dynhc_result_text(res);
        const cJSON *payload = dynhc_result_payload(res);
        if (text == NULL || payload == NULL) {
            abort(); /* DYNHC_OK means a payload */
        }
        fuzz_check_text_matches(text, payload, "config file payload's dynhc_result_text");
    }
    dynhc_result_free(res);
    dynhc_resolver_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dynhcp_posmap map = {NULL, 0, 0};
    dynhcp_parse_error err = {{0, 0}, "", 0};
    cJSON *root = dynhcp_yaml_parse((const char *)data, size, &map, &err);
    if (root != NULL) {
        /* SPEC 1.5: what the YAML reader accepts is plain JSON data. */
        fuzz_check_round_trip(root, "dynhcp_yaml_parse result printed as JSON");
        cJSON_Delete(root);
        resolve_as_config_file(data, size);
    } else if (err.message[0] == '\0') {
        abort(); /* a failure must say why */
    }
    dynhcp_posmap_clear(&map);

    fuzz_check_json(data, size);
    return 0;
}
