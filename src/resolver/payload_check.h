/* payload_check.h: does a payload fit its model type? (SPEC 1.6). Internal. */
#ifndef DYNHCP_PAYLOAD_CHECK_H
#define DYNHCP_PAYLOAD_CHECK_H

#include <cjson/cJSON.h>

#include "diag.h"
#include "dynhc/resolver.h"
#include "text.h"

/* Budgets above this draw a warning: a health check should be cheap. */
#define DYNHCP_LARGE_TOKEN_BUDGET 256

/*
 * Checks the shape and sampling parameters of an object payload, raising a
 * warning per problem at the offending value's position (from map, which may
 * be NULL). The payload is never changed. Returns how many warnings it raised.
 */
int dynhcp_payload_check(const cJSON *payload, dynhc_model_type type, const char *source,
                         const dynhcp_posmap *map, dynhcp_diags *diags);

/* max_tokens or max_completion_tokens (stop_conditions.max_tokens for
 * tokens); 0 when absent, not a positive integer, or for embeddings. */
long long dynhcp_payload_token_budget(const cJSON *payload, dynhc_model_type type);

#endif
