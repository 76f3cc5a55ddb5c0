/* settings.h: the value rules of SPEC 1.2, shared by environment variables
 * and config-file strings. Internal. Each parser returns NULL on success or
 * a static text saying what was expected. Inputs are already trimmed. */
#ifndef DYNHCP_SETTINGS_H
#define DYNHCP_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "dynhc/resolver.h"

#define DYNHCP_NS_PER_SEC 1000000000ull
#define DYNHCP_NS_PER_MS 1000000ull
#define DYNHCP_DURATION_MAX_NS (24ull * 3600ull * DYNHCP_NS_PER_SEC)

/* The process environment as a dynhc_getenv_fn: getenv(name). */
const char *dynhcp_process_getenv(const char *name, void *user_data);

/* true false 1 0 yes no on off, any case. */
const char *dynhcp_parse_bool(const char *s, size_t len, int *out);

/* "30", "2.5", "500ms", "1m", "2h": positive, at most 24 h. */
const char *dynhcp_parse_duration(const char *s, size_t len, uint64_t *ns);

/* Seconds given as a number (config files), same bounds as durations. */
const char *dynhcp_duration_from_seconds(double seconds, uint64_t *ns);

const char *dynhcp_parse_level(const char *s, size_t len, dynhc_level *out);
const char *dynhcp_parse_model_type(const char *s, size_t len, dynhc_model_type *out);

#endif
