/* defaults.h: the built-in payload table (SPEC 1.3) and the process-wide
 * custom default. Internal. */
#ifndef DH_DEFAULTS_H
#define DH_DEFAULTS_H

#include <cjson/cJSON.h>

#include "dynhc/resolver.h"

/* A new cJSON object holding the built-in payload; NULL when out of memory. */
cJSON *dh_default_payload(dynhc_model_type type, dynhc_level level, long long bos_token_id);

/* A deep copy of the process-wide custom default, or NULL when none is set
 * (or out of memory: *nomem is then set). Thread-safe. */
cJSON *dh_custom_default_copy(int *nomem);

#endif
