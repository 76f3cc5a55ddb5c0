/* fuzz_config.c: config-file bytes read as YAML and as JSON. */
#include <stdlib.h>

#include "fuzz_check.h"
#include "yaml_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dynhcp_posmap map = {NULL, 0, 0};
    dynhcp_parse_error err = {{0, 0}, "", 0};
    cJSON *root = dynhcp_yaml_parse((const char *)data, size, &map, &err);
    if (root != NULL) {
        /* SPEC 1.5: what the YAML reader accepts is plain JSON data. */
        fuzz_check_round_trip(root, "dynhcp_yaml_parse result printed as JSON");
        cJSON_Delete(root);
    } else if (err.message[0] == '\0') {
        abort(); /* a failure must say why */
    }
    dynhcp_posmap_clear(&map);

    fuzz_check_json(data, size);
    return 0;
}
