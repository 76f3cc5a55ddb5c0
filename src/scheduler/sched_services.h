/* sched_services.h: what the layers above the scheduler (the status server)
 * use of it besides the public API: its log sink and its uptime. The
 * scheduler's objects and lock stay behind sched_internal.h. Internal. */
#ifndef DYNHCP_SCHED_SERVICES_H
#define DYNHCP_SCHED_SERVICES_H

#include <stdint.h>

#include "dynhc/sched.h"

/* Logs through the scheduler's sink (formatted like printf). Any thread. */
void dynhcp_sched_log(const dynhc_sched *s, dynhc_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Nanoseconds since the scheduler was created (or its clock set), on its
 * clock, as the status JSON's uptime. Any thread; calls the clock. */
uint64_t dynhcp_sched_uptime_ns(dynhc_sched *s);

#endif
