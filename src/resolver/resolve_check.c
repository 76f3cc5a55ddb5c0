/* resolve_check.c: the settings of the scheduler and the status server, for
 * dynhc validate, by the same rules (settings.c) as when those parts read
 * them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolve_internal.h"
#include "system_settings.h"

static void check_endpoint_list(ctx *c, const char *name, const char *raw)
{
    dynhcp_diags_group(c->diags, dynhcp_resolve_env_group(name), dynhcp_no_pos);
    dynhcp_parse_error err = {{0, 0}, "", 0};
    dynhcp_posmap map = {NULL, 0, 0};
    cJSON *list = NULL;
    if (dynhcp_parse_endpoint_names(raw, &list, &map, &err) != 0) {
        if (dynhcp_parse_error_is_nomem(&err)) {
            c->nomem = 1;
        } else {
            dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, name, err.pos, "%s; ignored",
                             err.message);
        }
    }
    cJSON_Delete(list);
    dynhcp_posmap_clear(&map);
}

static void warn_system_setting(ctx *c, const char *name, const char *text, size_t len,
                                const char *why)
{
    char quoted[96];
    dynhcp_diags_group(c->diags, dynhcp_resolve_env_group(name), dynhcp_no_pos);
    dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, name, dynhcp_no_pos,
                     "invalid value %s: %s; ignored",
                     dynhcp_quote(quoted, sizeof(quoted), text, len), why);
}

/* The variables of the scheduler and the status server, by the same rules
 * (settings.c) as when they read them: a value validate passes is one they
 * accept. */
void dynhcp_resolve_check_system(ctx *c)
{
    enum { STALL, START, HOST, PORT, HEALTH, LIVE, LOG, COUNT };
    static const char *const names[COUNT] = {
        "DYN_HEALTH_CHECK_STALL_TIMEOUT", "DYN_SYSTEM_STARTING_HEALTH_STATUS",
        "DYN_SYSTEM_HOST",                "DYN_SYSTEM_PORT",
        "DYN_SYSTEM_HEALTH_PATH",         "DYN_SYSTEM_LIVE_PATH",
        "DYN_LOG"};
    const char *valid[COUNT] = {NULL};
    size_t valid_len[COUNT] = {0};
    for (size_t i = 0; i < COUNT; i++) {
        size_t len;
        const char *text = dynhcp_resolve_env_get(c, names[i], &len);
        if (text == NULL) {
            continue;
        }
        int ignored;
        uint64_t ignored_ns;
        dynhcp_parse_error why_buf;
        const char *why = dynhcp_resolve_utf8_problem(text, len, &why_buf);
        if (why == NULL) {
            why = i == STALL  ? dynhcp_parse_duration(text, len, &ignored_ns)
                  : i == START ? dynhcp_parse_start_status(text, len, &ignored)
                  : i == HOST ? dynhcp_parse_host(text, len, NULL)
                  : i == PORT ? dynhcp_parse_port(text, len, &ignored)
                  : i == LOG  ? dynhcp_parse_log_level(text, len, &ignored)
                              : dynhcp_parse_status_path(text, len);
        }
        if (why != NULL) {
            warn_system_setting(c, names[i], text, len, why);
        } else {
            valid[i] = text;
            valid_len[i] = len;
        }
    }
    int live_gives_way;
    const char *clash = dynhcp_status_paths_clash(valid[HEALTH], valid_len[HEALTH], valid[LIVE],
                                                  valid_len[LIVE], DYNHCP_DEFAULT_HEALTH_PATH,
                                                  DYNHCP_DEFAULT_LIVE_PATH, &live_gives_way);
    if (clash != NULL) {
        size_t which = live_gives_way ? LIVE : HEALTH;
        warn_system_setting(c, names[which], valid[which], valid_len[which], clash);
    }
    size_t len;
    const char *name = "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS";
    const char *raw = c->r->getenv_fn(name, c->r->getenv_user_data);
    if (raw != NULL && dynhcp_trim(raw, &len) != NULL && len > 0) {
        check_endpoint_list(c, name, raw);
    }
}

