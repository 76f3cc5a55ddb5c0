/* resolve_internal.h: one resolution's state, shared by the parts of
 * dynhc_resolver_resolve(): resolve.c (the whole), resolve_context.c (what
 * the parts share), resolve_settings.c (scalar settings), resolve_payload.c
 * (payload sources) and resolve_check.c (the other settings, for dynhc
 * validate). Internal. */
#ifndef DYNHCP_RESOLVE_INTERNAL_H
#define DYNHCP_RESOLVE_INTERNAL_H

#include <stddef.h>

#include "resolver_internal.h"

#define ENV_PAYLOAD "DYN_HEALTH_CHECK_PAYLOAD"

typedef struct ctx {
    const dynhc_resolver *r;
    dynhc_result *res;
    dynhcp_diags *diags;
    const dynhcp_config *config; /* NULL: no config source */
    int nomem;
} ctx;

static const dynhcp_pos dynhcp_no_pos = {0, 0}; /* no position: the whole source */

/*
 * The order of diagnostics (dynhcp_diags_sort): sources in precedence order, the
 * runtime first; the environment's variables in the order of SPEC 1.2's
 * table; the config file; the custom default. Inside one, by position.
 */
enum { GROUP_RUNTIME = 0, GROUP_ENV = 1, GROUP_CONFIG = 100, GROUP_CUSTOM, GROUP_DEFAULT };

/* The diagnostics group of an environment variable (SPEC 1.2's order). */
unsigned dynhcp_resolve_env_group(const char *name);
/* An environment value, trimmed; NULL when unset or blank (SPEC 1.2). */
const char *dynhcp_resolve_env_get(ctx *c, const char *name, size_t *len);
/* Where setting which came from; name is static, or the config's source. */
void dynhcp_resolve_set_origin(ctx *c, dynhc_setting which, const char *kind,
                               const char *name);
/* Why s[0..len) is not UTF-8 (the message in why_buf), or NULL. */
const char *dynhcp_resolve_utf8_problem(const char *s, size_t len, dynhcp_parse_error *why_buf);

/* The parts: every scalar setting (resolve_settings.c); the payload, from
 * the highest source or merged (resolve_payload.c); the other settings
 * dynhc validate checks (resolve_check.c). */
void dynhcp_resolve_settings(ctx *c);
void dynhcp_resolve_replace(ctx *c);
void dynhcp_resolve_merge(ctx *c);
void dynhcp_resolve_check_system(ctx *c);

#endif
