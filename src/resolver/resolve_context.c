/* resolve_context.c: what the parts of a resolution share: the order of
 * diagnostics, environment lookups, origins, the UTF-8 rule. */
#include <string.h>

#include "resolve_internal.h"

unsigned dynhcp_resolve_env_group(const char *name)
{
    static const char *const order[] = {
        "DYN_HEALTH_CHECK_PAYLOAD",          "DYN_HEALTH_CHECK_PAYLOAD_DISABLED",
        "DYN_HEALTH_CHECK_LEVEL",            "DYN_HEALTH_CHECK_ENABLED",
        "DYN_HEALTH_CHECK_INTERVAL",         "DYN_CANARY_WAIT_TIME",
        "DYN_HEALTH_CHECK_REQUEST_TIMEOUT",  "DYN_HEALTH_CHECK_STALL_TIMEOUT",
        "DYN_SYSTEM_STARTING_HEALTH_STATUS",
        "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "DYN_SYSTEM_HOST",
        "DYN_SYSTEM_PORT",                   "DYN_SYSTEM_HEALTH_PATH",
        "DYN_SYSTEM_LIVE_PATH",              "DYN_LOG",
    };
    unsigned i = 0;
    while (i < sizeof(order) / sizeof(order[0]) && strcmp(order[i], name) != 0) {
        i++;
    }
    return GROUP_ENV + i;
}

/* An environment value, trimmed; NULL when unset or blank (SPEC 1.2). */
const char *dynhcp_resolve_env_get(ctx *c, const char *name, size_t *len)
{
    const char *raw = c->r->getenv_fn(name, c->r->getenv_user_data);
    if (raw == NULL) {
        return NULL;
    }
    const char *value = dynhcp_trim(raw, len);
    return *len > 0 ? value : NULL;
}

/* name is static, or the config's source (kept in the result). */
void dynhcp_resolve_set_origin(ctx *c, dynhc_setting which, const char *kind, const char *name)
{
    c->res->origin_kind[which] = kind;
    c->res->origin_name[which] = name;
}

/* Text that is not UTF-8 is refused as such: no setting is spelt that way,
 * and saying which byte is wrong beats "expected minimal, ...". why_buf holds
 * that message. */
const char *dynhcp_resolve_utf8_problem(const char *s, size_t len, dynhcp_parse_error *why_buf)
{
    memset(why_buf, 0, sizeof(*why_buf));
    return dynhcp_utf8_check(s, len, why_buf) != 0 ? why_buf->message : NULL;
}
