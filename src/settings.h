/* settings.h: the value rules of SPEC 1.2, shared by environment variables
 * and config-file strings. Internal. Each parser returns NULL on success or
 * a static text saying what was expected. Inputs are already trimmed. */
#ifndef DH_SETTINGS_H
#define DH_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "dynhc/resolver.h"

#define DH_NS_PER_SEC 1000000000ull
#define DH_NS_PER_MS 1000000ull
#define DH_DURATION_MAX_NS (24ull * 3600ull * DH_NS_PER_SEC)

/* The process environment as a dynhc_getenv_fn: getenv(name). */
const char *dh_process_getenv(const char *name, void *user_data);

/* true false 1 0 yes no on off, any case. */
const char *dh_parse_bool(const char *s, size_t len, int *out);

/* "30", "2.5", "500ms", "1m", "2h": positive, at most 24 h. */
const char *dh_parse_duration(const char *s, size_t len, uint64_t *ns);

/* Seconds given as a number (config files), same bounds as durations. */
const char *dh_duration_from_seconds(double seconds, uint64_t *ns);

const char *dh_parse_level(const char *s, size_t len, dynhc_level *out);
const char *dh_parse_model_type(const char *s, size_t len, dynhc_model_type *out);

/* The status-server and scheduler variables of SPEC 1.2. */
const char *dh_parse_port(const char *s, size_t len, int *out);          /* -1..65535 */
const char *dh_parse_http_path(const char *s, size_t len);               /* "/..." */
const char *dh_parse_start_status(const char *s, size_t len, int *ready); /* ready|notready */
/* A host name or IP address literal: no whitespace or control characters. */
const char *dh_parse_host(const char *s, size_t len);
/* DYN_LOG: error, warn, info or debug, any case; *out is a dynhc_log_level. */
const char *dh_parse_log_level(const char *s, size_t len, int *out);

#endif
