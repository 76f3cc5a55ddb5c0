/* clock.h: Unix times, and the monotonic clock for threads that wait.
 * Internal. */
#ifndef DYNHCP_CLOCK_H
#define DYNHCP_CLOCK_H

#include <pthread.h>
#include <stdint.h>

/* CLOCK_REALTIME in nanoseconds since the Unix epoch (0 before it). */
uint64_t dynhcp_wall_now_ns(void);
/* The process's start in Unix time (ns): /proc/self/stat's start time after
 * /proc/stat's boot time, as Prometheus' client libraries read it;
 * fallback when /proc cannot tell. */
uint64_t dynhcp_process_start_wall_ns(uint64_t fallback);

/* Initialises cond so that timed waits run on CLOCK_MONOTONIC: changing
 * the wall clock neither delays nor hastens them. 0, or an error number. */
int dynhcp_cond_init_monotonic(pthread_cond_t *cond);

#endif
