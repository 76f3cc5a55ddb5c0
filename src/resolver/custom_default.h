/* custom_default.h: custom default payloads (SPEC 1.1, source 4): checking
 * one, and the process-wide one that dynhc_set_custom_health_check_payload()
 * sets and every resolver reads. Both are kept as the caller's text, so that
 * a payload sent keeps the caller's spelling of every number ("0.0"), as the
 * other text sources do. Internal. */
#ifndef DYNHCP_CUSTOM_DEFAULT_H
#define DYNHCP_CUSTOM_DEFAULT_H

/* A copy of json_text when it is a JSON object: DYNHC_OK with *out set
 * (free with dynhcp_free()), DYNHC_ERR_JSON or DYNHC_ERR_NOMEM. */
int dynhcp_custom_default_accept(const char *json_text, char **out);

/* A copy of the process-wide custom default's text (free with
 * dynhcp_free()), or NULL when none is set (or out of memory: *nomem is
 * then set). Thread-safe. */
char *dynhcp_custom_default_copy(int *nomem);

#endif
