/* resolver_internal.h: the resolver and result objects, shared by
 * resolver.c (settings), resolve.c (the precedence rules) and result.c
 * (reading a result). Internal. */
#ifndef DYNHCP_RESOLVER_INTERNAL_H
#define DYNHCP_RESOLVER_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "diag.h"
#include "dynhc/resolver.h"
#include "settings.h"

#define DYNHCP_DEFAULT_MARKER_KEY "_health_check"
#define DYNHCP_DEFAULT_INTERVAL_NS (10ull * DYNHCP_NS_PER_SEC)
#define DYNHCP_DEFAULT_TIMEOUT_NS (3ull * DYNHCP_NS_PER_SEC)

struct dynhc_resolver {
    dynhc_getenv_fn getenv_fn;
    void *getenv_user_data;
    /* The runtime payload: at most one of the three is set. */
    char *payload_text;
    char *payload_file;
    cJSON *payload_json;
    /* The config source: a file read at resolve time, or values given in memory. */
    char *config_file;
    dynhcp_config config_values;
    int has_config_values;
    char *custom_default; /* JSON object text, checked */
    int model_type; /* -1: unset */
    int level;      /* -1: unset */
    long long bos_token_id;
    char *marker_key; /* NULL: no marker */
    int strict;
    int merge;
    int check_all;
    int disabled;        /* -1: unset */
    int enabled;         /* -1: unset */
    int enabled_default;
    uint64_t interval_ns; /* 0: unset */
    uint64_t timeout_ns;  /* 0: unset */
};

/* One past the last dynhc_setting. */
#define DYNHCP_SETTING_COUNT ((int)DYNHC_SETTING_TIMEOUT + 1)

struct dynhc_result {
    atomic_uint refs; /* results are immutable once returned, so only this changes */
    int status;
    cJSON *payload;
    char *text; /* malloc'd */
    size_t text_len;
    dynhc_source source;
    char *origin;
    dynhc_model_type model_type;
    dynhc_level level;
    long long token_budget;
    char *model_name;
    int enabled;
    uint64_t interval_ns;
    uint64_t timeout_ns;
    int merged;              /* the payload merges several sources */
    char *marker_key;        /* NULL: no marker */
    /* Where each setting came from: a kind ("runtime", "environment",
     * "config", "default") and a name (static, or config_source). */
    const char *origin_kind[DYNHCP_SETTING_COUNT];
    const char *origin_name[DYNHCP_SETTING_COUNT];
    char *config_source;
    dynhcp_diags diags;
};

#endif
