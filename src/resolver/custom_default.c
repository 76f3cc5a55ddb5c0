/* custom_default.c: see custom_default.h. */
#include "custom_default.h"

#include <pthread.h>
#include <string.h>

#include "dynhc/compat.h"
#include "json_text.h"

static pthread_mutex_t process_lock = PTHREAD_MUTEX_INITIALIZER;
static cJSON *process_default; /* guarded by process_lock */

int dynhcp_custom_default_parse(const char *json_text, cJSON **out)
{
    dynhcp_pos origin = {1, 1};
    dynhcp_parse_error err = {{0, 0}, "", 0};
    cJSON *parsed = dynhcp_json_parse(json_text, strlen(json_text), origin, NULL, &err);
    if (parsed == NULL) {
        return dynhcp_parse_error_is_nomem(&err) ? DYNHC_ERR_NOMEM : DYNHC_ERR_JSON;
    }
    if (!cJSON_IsObject(parsed)) {
        cJSON_Delete(parsed);
        return DYNHC_ERR_JSON;
    }
    *out = parsed;
    return DYNHC_OK;
}

int dynhc_set_custom_health_check_payload(const char *json)
{
    cJSON *parsed = NULL;
    if (json != NULL) {
        int status = dynhcp_custom_default_parse(json, &parsed);
        if (status != DYNHC_OK) {
            return status;
        }
    }
    pthread_mutex_lock(&process_lock);
    cJSON *old = process_default;
    process_default = parsed;
    pthread_mutex_unlock(&process_lock);
    cJSON_Delete(old);
    return DYNHC_OK;
}

cJSON *dynhcp_custom_default_copy(int *nomem)
{
    pthread_mutex_lock(&process_lock);
    cJSON *copy = process_default != NULL ? cJSON_Duplicate(process_default, 1) : NULL;
    *nomem = process_default != NULL && copy == NULL;
    pthread_mutex_unlock(&process_lock);
    return copy;
}
