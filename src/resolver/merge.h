/* merge.h: RFC 7396 JSON Merge Patch. Internal. */
#ifndef DYNHCP_MERGE_H
#define DYNHCP_MERGE_H

#include <cjson/cJSON.h>

/*
 * Applies patch to target and returns the merged document. target is
 * consumed (it becomes the result or is freed); patch is only read. Returns
 * NULL when out of memory (target is then freed).
 */
cJSON *dynhcp_merge_patch(cJSON *target, const cJSON *patch);

#endif
