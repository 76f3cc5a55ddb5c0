/* custom_default.c: see custom_default.h. */
#include "custom_default.h"

#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "dynhc/compat.h"
#include "json_text.h"

static pthread_mutex_t process_lock = PTHREAD_MUTEX_INITIALIZER;
static char *process_default; /* guarded by process_lock */

int dynhcp_custom_default_accept(const char *json_text, char **out)
{
    dynhcp_pos origin = {1, 1};
    dynhcp_parse_error err = {{0, 0}, "", 0};
    cJSON *parsed = dynhcp_json_parse(json_text, strlen(json_text), origin, NULL, &err);
    if (parsed == NULL) {
        return dynhcp_parse_error_is_nomem(&err) ? DYNHC_ERR_NOMEM : DYNHC_ERR_JSON;
    }
    int is_object = cJSON_IsObject(parsed);
    cJSON_Delete(parsed);
    if (!is_object) {
        return DYNHC_ERR_JSON;
    }
    return (*out = dynhcp_strdup(json_text)) != NULL ? DYNHC_OK : DYNHC_ERR_NOMEM;
}

int dynhc_set_custom_health_check_payload(const char *json)
{
    char *text = NULL;
    if (json != NULL) {
        int status = dynhcp_custom_default_accept(json, &text);
        if (status != DYNHC_OK) {
            return status;
        }
    }
    pthread_mutex_lock(&process_lock);
    char *old = process_default;
    process_default = text;
    pthread_mutex_unlock(&process_lock);
    dynhcp_free(old);
    return DYNHC_OK;
}

char *dynhcp_custom_default_copy(int *nomem)
{
    pthread_mutex_lock(&process_lock);
    char *copy = process_default != NULL ? dynhcp_strdup(process_default) : NULL;
    *nomem = process_default != NULL && copy == NULL;
    pthread_mutex_unlock(&process_lock);
    return copy;
}
