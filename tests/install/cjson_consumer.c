/* cjson_consumer.c: a program that works on the payload as a cJSON tree
 * through the optional <dynhc/cjson.h>, built against the installed package
 * (find_package(dynhc COMPONENTS cjson) and dynhc::cjson, or pkg-config
 * dynhc libcjson). Prints the payload's "prompt" after giving it as a tree. */
#include <stdio.h>

#include <cjson/cJSON.h>
#include <dynhc/cjson.h>
#include <dynhc/dynhc.h>

int main(void)
{
    dynhc_resolver *r = dynhc_resolver_new();
    cJSON *mine = cJSON_CreateObject();
    if (r == NULL || mine == NULL || cJSON_AddStringToObject(mine, "prompt", "tree") == NULL ||
        dynhc_resolver_set_payload_json(r, mine) != DYNHC_OK) {
        return 1;
    }
    cJSON_Delete(mine); /* dynhc made its own copy */
    dynhc_result *res = NULL;
    int status = dynhc_resolver_resolve(r, &res);
    const cJSON *payload = dynhc_result_payload(res);
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(payload, "prompt");
    const cJSON *marker = cJSON_GetObjectItemCaseSensitive(payload, "_health_check");
    int ok = status == DYNHC_OK && cJSON_IsString(prompt) && cJSON_IsTrue(marker);
    if (ok) {
        printf("prompt=%s\n", prompt->valuestring);
    }
    dynhc_result_free(res);
    dynhc_resolver_free(r);
    return ok ? 0 : 1;
}
