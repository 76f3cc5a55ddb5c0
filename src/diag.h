/* diag.h: the list of diagnostics a resolution collects. Internal. */
#ifndef DH_DIAG_H
#define DH_DIAG_H

#include <stddef.h>

#include "dynhc/common.h"
#include "text.h"

typedef struct dh_diags {
    dynhc_diag *items;
    size_t count;
    size_t capacity;
    int strict;   /* record warnings as errors */
    int errors;   /* how many errors were recorded */
    int nomem;    /* a diagnostic was lost to an allocation failure */
} dh_diags;

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
