/* object_keys.h: the duplicate-key check of the JSON and YAML readers, on
 * the cJSON object they are building. Small objects are scanned; from a
 * threshold on, the keys are indexed, so that a big object stays linear.
 * Internal. */
#ifndef DYNHCP_OBJECT_KEYS_H
#define DYNHCP_OBJECT_KEYS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "table.h"

typedef struct dynhcp_object_keys {
    cJSON *object;
    size_t members; /* members added through dynhcp_object_keys_add() */
    dynhcp_table index;
} dynhcp_object_keys;

void dynhcp_object_keys_init(dynhcp_object_keys *k, cJSON *object);

/* Whether the object already has a member named key. */
int dynhcp_object_keys_has(const dynhcp_object_keys *k, const char *key);

/* Records member, just added to the object under a key it did not have.
 * Returns 0, or -1 when out of memory. */
int dynhcp_object_keys_add(dynhcp_object_keys *k, cJSON *member);

void dynhcp_object_keys_free(dynhcp_object_keys *k);

#endif
