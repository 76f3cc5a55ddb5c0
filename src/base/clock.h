/* clock.h: Unix times. Internal. */
#ifndef DYNHCP_CLOCK_H
#define DYNHCP_CLOCK_H

#include <stdint.h>

/* CLOCK_REALTIME in nanoseconds since the Unix epoch (0 before it). */
uint64_t dynhcp_wall_now_ns(void);
/* The process's start in Unix time (ns): /proc/self/stat's start time after
 * /proc/stat's boot time, as Prometheus' client libraries read it;
 * fallback when /proc cannot tell. */
uint64_t dynhcp_process_start_wall_ns(uint64_t fallback);

#endif
