/* diag.h: the list of diagnostics a resolution collects. Internal. */
#ifndef DYNHCP_DIAG_H
#define DYNHCP_DIAG_H

#include <stddef.h>

#include "dynhc/common.h"
#include "text.h"

/* Where a diagnostic sorts: its source's rank, the position in it (the
 * anchor, for a file named there), then its own position. */
typedef struct dynhcp_diag_key {
    unsigned group;
    dynhcp_pos at;
    dynhcp_pos pos;
} dynhcp_diag_key;

typedef struct dynhcp_diags {
    dynhc_diag *items;
    dynhcp_diag_key *keys; /* parallel to items, for dynhcp_diags_sort */
    size_t count;
    size_t capacity;
    int strict;   /* record warnings as errors */
    int errors;   /* how many errors were recorded */
    int nomem;    /* a diagnostic was lost to an allocation failure */
    /* What the next diagnostics sort by (dynhcp_diags_group). */
    unsigned group;
    dynhcp_pos anchor;
} dynhcp_diags;

/* The next diagnostics belong to source rank group; inside it they sort by
 * their own position, or, when anchor is not {0,0} (a file named at that
 * position of the group's file), by anchor and then their own position. */
void dynhcp_diags_group(dynhcp_diags *d, unsigned group, dynhcp_pos anchor);

/* Orders the diagnostics by group, then position (none first), keeping the
 * order they were recorded in among equals. */
void dynhcp_diags_sort(dynhcp_diags *d);

/* Records a diagnostic (source and message copied). A warning is recorded as
 * an error when d->strict is set. Allocation failure sets d->nomem. */
void dynhcp_diags_add(dynhcp_diags *d, dynhc_severity severity, const char *source, dynhcp_pos pos,
                      const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

void dynhcp_diags_free(dynhcp_diags *d);

#endif
