/* diag.h: the list of diagnostics a resolution collects. Internal. */
#ifndef DH_DIAG_H
#define DH_DIAG_H

#include <stddef.h>

#include "dynhc/common.h"
#include "text.h"

/* Where a diagnostic sorts: its source's rank, the position in it (the
 * anchor, for a file named there), then its own position. */
typedef struct dh_diag_key {
    unsigned group;
    dh_pos at;
    dh_pos pos;
} dh_diag_key;

typedef struct dh_diags {
    dynhc_diag *items;
    dh_diag_key *keys; /* parallel to items, for dh_diags_sort */
    size_t count;
    size_t capacity;
    int strict;   /* record warnings as errors */
    int errors;   /* how many errors were recorded */
    int nomem;    /* a diagnostic was lost to an allocation failure */
    /* What the next diagnostics sort by (dh_diags_group). */
    unsigned group;
    dh_pos anchor;
} dh_diags;

/* The next diagnostics belong to source rank group; inside it they sort by
 * their own position, or, when anchor is not {0,0} (a file named at that
 * position of the group's file), by anchor and then their own position. */
void dh_diags_group(dh_diags *d, unsigned group, dh_pos anchor);

/* Orders the diagnostics by group, then position (none first), keeping the
 * order they were recorded in among equals. */
void dh_diags_sort(dh_diags *d);

/* Records a diagnostic (source and message copied). A warning is recorded as
 * an error when d->strict is set. Allocation failure sets d->nomem. */
void dh_diags_add(dh_diags *d, dynhc_severity severity, const char *source, dh_pos pos,
                  const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

void dh_diags_free(dh_diags *d);

#endif
