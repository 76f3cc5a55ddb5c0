/* merge.c: RFC 7396 JSON Merge Patch on cJSON trees. */
#include "merge.h"

#include <string.h>

/* Merges the object patch into the object target in place; members keep
 * their order. Returns 0, or -1 when out of memory. */
static int merge_into(cJSON *target, const cJSON *patch)
{
    const cJSON *member;
    cJSON_ArrayForEach(member, patch) {
        cJSON *existing = cJSON_GetObjectItemCaseSensitive(target, member->string);
        if (cJSON_IsNull(member)) {
            cJSON_Delete(cJSON_DetachItemViaPointer(target, existing));
            continue;
        }
        if (cJSON_IsObject(member) && cJSON_IsObject(existing)) {
            if (merge_into(existing, member) != 0) {
                return -1;
            }
            continue;
        }
        /* A patch object over a non-object starts from {} so that its nulls vanish. */
        cJSON *value = cJSON_IsObject(member) ? cJSON_CreateObject() : cJSON_Duplicate(member, 1);
        if (value == NULL || (cJSON_IsObject(member) && merge_into(value, member) != 0)) {
            cJSON_Delete(value);
            return -1;
        }
        if (existing != NULL && value->string == NULL) {
            /* cJSON_ReplaceItemViaPointer keeps the replacement's key, and a
             * new object has none (cJSON_ReplaceItemInObject would copy it
             * but not notice when the copy fails). */
            size_t size = strlen(member->string) + 1;
            if ((value->string = cJSON_malloc(size)) == NULL) {
                cJSON_Delete(value);
                return -1;
            }
            memcpy(value->string, member->string, size);
        }
        int added = existing != NULL ? cJSON_ReplaceItemViaPointer(target, existing, value)
                                     : cJSON_AddItemToObject(target, member->string, value);
        if (!added) {
            cJSON_Delete(value);
            return -1;
        }
    }
    return 0;
}

cJSON *dynhcp_merge_patch(cJSON *target, const cJSON *patch)
{
    if (!cJSON_IsObject(patch)) {
        cJSON_Delete(target);
        return cJSON_Duplicate(patch, 1);
    }
    if (!cJSON_IsObject(target)) {
        cJSON_Delete(target);
        target = cJSON_CreateObject();
    }
    if (target == NULL || merge_into(target, patch) != 0) {
        cJSON_Delete(target);
        return NULL;
    }
    return target;
}
