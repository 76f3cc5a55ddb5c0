/* sized.h: reading the caller-allocated structs that can grow
 * (dynhc_config, dynhc_endpoint_options): their first member is
 * `size_t size`, the caller's sizeof, so that a struct gains fields at the
 * end without breaking programs built against an older header. Internal. */
#ifndef DYNHCP_SIZED_H
#define DYNHCP_SIZED_H

#include <stddef.h>
#include <string.h>

#include "dynhc/common.h"

/*
 * Copies the caller's struct in (whose first member is its size) into out,
 * this version's struct of out_size bytes: the fields inside the caller's
 * size, zero for the fields it does not know (an older caller). Returns
 * DYNHC_ERR_INVALID_ARG, copying nothing, when the size is below min_size
 * (0: DYNHC_*_INIT forgotten; min_size is the first published struct's
 * size), or when a newer caller's struct sets a field this version does not
 * know (a byte past out_size that is not zero): such a setting would be
 * ignored silently otherwise.
 */
static inline int dynhcp_copy_sized(void *out, size_t out_size, const void *in, size_t min_size)
{
    size_t size;
    memcpy(&size, in, sizeof(size));
    if (size < min_size) {
        return DYNHC_ERR_INVALID_ARG;
    }
    const unsigned char *bytes = in;
    for (size_t i = out_size; i < size; i++) {
        if (bytes[i] != 0) {
            return DYNHC_ERR_INVALID_ARG;
        }
    }
    memset(out, 0, out_size);
    memcpy(out, in, size < out_size ? size : out_size);
    return DYNHC_OK;
}

/* A field added to such a struct goes at its end and is 8 bytes wide (a
 * pointer, size_t, uint64_t, double): an older library checks the bytes of
 * the fields it does not know, and padding after a narrower field need not
 * be zero in a struct on the stack. */

/* The size of the first published version of struct type, whose last
 * field was last_field. */
#define DYNHCP_SIZE_UP_TO(type, last_field)                                                        \
    (offsetof(type, last_field) + sizeof(((type *)0)->last_field))

#endif
