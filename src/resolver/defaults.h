/* defaults.h: the built-in payload table (SPEC 1.3) and the process-wide
 * custom default. Internal. */
#ifndef DYNHCP_DEFAULTS_H
#define DYNHCP_DEFAULTS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "dynhc/resolver.h"

/* Room enough for any built-in payload text. */
#define DYNHCP_DEFAULT_PAYLOAD_MAX 320

/* Writes the built-in payload's compact JSON text into buf; returns its
 * length, or 0 for an unknown type or level or a buffer too small. */
size_t dynhcp_default_payload_text(dynhc_model_type type, dynhc_level level, long long bos_token_id,
                                   char *buf, size_t size);

/* A new cJSON object holding the built-in payload; NULL when out of memory. */
cJSON *dynhcp_default_payload(dynhc_model_type type, dynhc_level level, long long bos_token_id);

#endif
