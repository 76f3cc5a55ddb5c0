/* object_keys.c: see object_keys.h. */
#include "object_keys.h"

#include <string.h>

/* Below this many members a scan beats hashing. */
#define INDEX_THRESHOLD 16

static const char *member_key(const void *member)
{
    return ((const cJSON *)member)->string;
}

void dynhcp_object_keys_init(dynhcp_object_keys *k, cJSON *object)
{
    dynhcp_table index = DYNHCP_TABLE_INIT(member_key);
    k->object = object;
    k->members = 0;
    k->index = index;
}

int dynhcp_object_keys_has(const dynhcp_object_keys *k, const char *key)
{
    if (k->members >= INDEX_THRESHOLD) {
        return dynhcp_table_find(&k->index, key) != NULL;
    }
    for (const cJSON *m = k->object->child; m != NULL; m = m->next) {
        if (strcmp(m->string, key) == 0) {
            return 1;
        }
    }
    return 0;
}

int dynhcp_object_keys_add(dynhcp_object_keys *k, cJSON *member)
{
    size_t members = k->members + 1;
    if (members < INDEX_THRESHOLD) {
        k->members = members;
        return 0;
    }
    if (dynhcp_table_reserve(&k->index, members) != 0) {
        return -1;
    }
    if (members == INDEX_THRESHOLD) {
        /* The object's members so far, this one included. */
        for (cJSON *m = k->object->child; m != NULL; m = m->next) {
            dynhcp_table_insert(&k->index, m);
        }
    } else {
        dynhcp_table_insert(&k->index, member);
    }
    k->members = members;
    return 0;
}

void dynhcp_object_keys_free(dynhcp_object_keys *k)
{
    dynhcp_table_free(&k->index);
}
