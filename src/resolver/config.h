/* config.h: the config source (SPEC 1.5), from a YAML/JSON file or from a
 * dynhc_config struct, as one cJSON mapping with positions. Internal. */
#ifndef DYNHCP_CONFIG_H
#define DYNHCP_CONFIG_H

#include <cjson/cJSON.h>

#include "diag.h"
#include "dynhc/resolver.h"
#include "text.h"

typedef struct dynhcp_config {
    char *source;   /* the file path, or "<config>" for values given in memory */
    char *base_dir; /* the folder that "@PATH" payloads are relative to */
    cJSON *root;    /* a mapping, possibly empty */
    dynhcp_posmap map; /* where each value stands in the file */
} dynhcp_config;

/* dynhcp_config_load_file() ran out of memory: no diagnostic was recorded. */
#define DYNHCP_CONFIG_NOMEM (-2)

/* Reads and parses a config file. Returns 0; -1 with an error recorded in
 * diags (a config file that cannot be read or parsed as a whole); or
 * DYNHCP_CONFIG_NOMEM, which is no fault of the file and records nothing. */
int dynhcp_config_load_file(dynhcp_config *c, const char *path, dynhcp_diags *diags);

/* Builds the config from in-memory values (strings kept as strings). Returns
 * 0, or -1 when out of memory. */
int dynhcp_config_from_struct(dynhcp_config *c, const dynhc_config *values);

/* The value of a top-level key; NULL when absent or null. */
const cJSON *dynhcp_config_get(const dynhcp_config *c, const char *key);

void dynhcp_config_free(dynhcp_config *c);

#endif
