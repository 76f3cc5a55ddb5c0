/* system_settings.h: the rules of the variables that belong to the scheduler
 * and the status server (SPEC 1.2: DYN_SYSTEM_*, DYN_LOG). Internal. Each
 * parser returns NULL on success or a static text saying what was expected;
 * inputs are already trimmed. */
#ifndef DYNHCP_SYSTEM_SETTINGS_H
#define DYNHCP_SYSTEM_SETTINGS_H

#include <stddef.h>

#include <sys/socket.h>

struct cJSON;
struct dynhcp_posmap;
struct dynhcp_parse_error;

/* The status-server and scheduler variables of SPEC 1.2: the one rule for
 * each, used by the server and the scheduler when they read them and by
 * `dynhc validate` when it checks them, so that validate passes exactly
 * what the running parts accept. */
const char *dynhcp_parse_port(const char *s, size_t len, int *out);           /* -1..65535 */
const char *dynhcp_parse_start_status(const char *s, size_t len, int *ready); /* ready|notready */

/* The address the status server binds: an IPv4 or IPv6 literal (without
 * brackets), or localhost (127.0.0.1). addr (may be NULL) gets it, port 0. */
const char *dynhcp_parse_host(const char *s, size_t len, struct sockaddr_storage *addr);

/* The status server's paths: its defaults, and /metrics, which no other
 * path may take. */
#define DYNHCP_DEFAULT_HEALTH_PATH "/health"
#define DYNHCP_DEFAULT_LIVE_PATH "/live"
#define DYNHCP_METRICS_PATH "/metrics"
/* A health or live path: starts with '/', no spaces, control characters,
 * '?' or '#', and not DYNHCP_METRICS_PATH. */
const char *dynhcp_parse_status_path(const char *s, size_t len);

/* The health and live paths must differ. Given the values of the two
 * variables (NULL when unset or refused) and the paths otherwise in use,
 * says which variable gives way when they would clash: NULL when none;
 * else the reason, with *live_gives_way saying whose (the live path, unless
 * only the health path was given). */
const char *dynhcp_status_paths_clash(const char *health, size_t health_len, const char *live,
                                      size_t live_len, const char *health_now, const char *live_now,
                                      int *live_gives_way);

/* DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS: raw, the variable's whole value,
 * as a non-empty JSON array of non-empty strings. 0 with *list set (free it
 * with cJSON_Delete; NULL when the value is blank), or -1 with err set
 * (positions in raw; err->nomem for an allocation failure). map (may be
 * NULL) gets the positions of the list's items. */
int dynhcp_parse_endpoint_names(const char *raw, struct cJSON **list, struct dynhcp_posmap *map,
                                struct dynhcp_parse_error *err);
/* DYN_LOG: error, warn, info or debug, any case; *out is a dynhc_log_level. */
const char *dynhcp_parse_log_level(const char *s, size_t len, int *out);

#endif
