/* config.h: the config source (SPEC 1.5), from a YAML/JSON file or from a
 * dynhc_config struct, as one cJSON mapping with positions. Internal. */
#ifndef DH_CONFIG_H
#define DH_CONFIG_H

#include <cjson/cJSON.h>

#include "diag.h"
#include "dynhc/resolver.h"
#include "text.h"

typedef struct dh_config {
    char *source;   /* the file path, or "<config>" for values given in memory */
    char *base_dir; /* the folder that "@PATH" payloads are relative to */
    cJSON *root;    /* a mapping, possibly empty */
    dh_posmap map;  /* where each value stands in the file */
} dh_config;

/* dh_config_load_file() ran out of memory: no diagnostic was recorded. */
#define DH_CONFIG_NOMEM (-2)

/* Reads and parses a config file. Returns 0; -1 with an error recorded in
 * diags (a config file that cannot be read or parsed as a whole); or
 * DH_CONFIG_NOMEM, which is no fault of the file and records nothing. */
int dh_config_load_file(dh_config *c, const char *path, dh_diags *diags);

/* Builds the config from in-memory values (strings kept as strings). Returns
 * 0, or -1 when out of memory. */
int dh_config_from_struct(dh_config *c, const dynhc_config *values);

/* The value of a top-level key; NULL when absent or null. */
const cJSON *dh_config_get(const dh_config *c, const char *key);

void dh_config_free(dh_config *c);

#endif
