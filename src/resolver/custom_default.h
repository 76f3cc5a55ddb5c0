/* custom_default.h: custom default payloads (SPEC 1.1, source 4): parsing
 * one, and the process-wide one that dynhc_set_custom_health_check_payload()
 * sets and every resolver reads. Internal. */
#ifndef DYNHCP_CUSTOM_DEFAULT_H
#define DYNHCP_CUSTOM_DEFAULT_H

#include <cjson/cJSON.h>

/* Parses a custom default payload: DYNHC_OK with *out set, DYNHC_ERR_JSON
 * (not a JSON object) or DYNHC_ERR_NOMEM. */
int dynhcp_custom_default_parse(const char *json_text, cJSON **out);

/* A deep copy of the process-wide custom default, or NULL when none is set
 * (or out of memory: *nomem is then set). Thread-safe. */
cJSON *dynhcp_custom_default_copy(int *nomem);

#endif
