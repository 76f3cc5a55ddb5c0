/*
 * dynhc/compat.h: the seed-compatible entry points, with the signatures that
 * programs written against the original payload helpers call.
 */
#ifndef DYNHC_COMPAT_H
#define DYNHC_COMPAT_H

#include "common.h"
#include "resolver.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Resolves the payload with the process environment, the config values in
 * config (NULL: none; else initialised with DYNHC_CONFIG_INIT) and
 * model_type (NULL: the config's model_type, else "generate"). Returns
 * compact JSON text, freed with dynhc_free(), or NULL when payloads are
 * disabled, the model type is unknown, config's size is not valid (see
 * dynhc_config), or on error.
 * Warnings go to stderr, and so does the reason for a NULL other than
 * "disabled" (an unknown model type, out of memory). Thread-safe, but it
 * reads the process environment, so do not call setenv() concurrently.
 */
DYNHC_NODISCARD DYNHC_API char *dynhc_get_health_check_payload(const dynhc_config *config,
                                                               const char *model_type);

/*
 * Sets the process-wide custom default payload (source 4 for every resolver
 * that has no custom default of its own): JSON object text, copied. NULL
 * clears it. Returns DYNHC_OK, DYNHC_ERR_JSON (not a valid JSON object;
 * nothing changes) or DYNHC_ERR_NOMEM. Thread-safe.
 */
DYNHC_API int dynhc_set_custom_health_check_payload(const char *json);

#ifdef __cplusplus
}
#endif

#endif
