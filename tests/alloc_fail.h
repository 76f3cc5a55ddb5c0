/* alloc_fail.h: a counting allocator for allocation-failure ("torture")
 * tests, in the manner of jansson's test_chaos.c and curl's torture mode.
 *
 * alloc_fail_install() puts one allocator behind dynhc (dynhc_set_allocator)
 * and cJSON (cJSON_InitHooks), so that every allocation either library makes
 * is counted and can be made to fail. libyaml's own allocations (its parser
 * state, tokens and events) go straight to the C library and cannot be
 * hooked; neither can the C library's (strerror_r, newlocale, stdio).
 *
 * Every block carries a header naming the family that allocated it (dynhc or
 * cJSON); freeing a block through the other family (dynhc_free() on cJSON
 * memory, cJSON_free() on dynhc memory), a block that never came from here,
 * or one freed twice aborts the program with a message. Blocks are counted
 * while live, so a test can check that what a call allocated is all freed.
 *
 * Typical use, one allocation failing at a time:
 *
 *     static unsigned long body(void *user, unsigned long n, alloc_fail_mode mode)
 *     {
 *         ... set up, unarmed ...
 *         alloc_fail_start(n, mode);
 *         int status = call_under_test(...);
 *         unsigned long injected = alloc_fail_stop();
 *         ... status is OK or DYNHC_ERR_NOMEM; the objects still work ...
 *         ... free everything the body made ...
 *         return injected;
 *     }
 *     alloc_fail_loop("what", ALLOC_FAIL_ONCE, body, &data);
 *
 * alloc_fail_loop() calls body for N = 1, 2, ... until a run in which no
 * failure was injected (the call completed on its own), and fails the test
 * when a run leaves more blocks live than it found.
 *
 * Environment: DYNHC_TEST_ALLOC_FAIL_STEP=k tries only N = 1, 1+k, 1+2k, ...
 * (for slow runners such as valgrind); DYNHC_TEST_ALLOC_FAIL_VERBOSE=1 prints
 * every N before it runs, so that a crash can be tied to its N.
 *
 * Thread safety: counting and failing are atomic, so threads may allocate
 * while a failure is armed (which allocation fails is then a matter of
 * timing). alloc_fail_install() and alloc_fail_loop() belong to the main
 * thread.
 */
#ifndef DYNHCP_TEST_ALLOC_FAIL_H
#define DYNHCP_TEST_ALLOC_FAIL_H

#include <stddef.h>

typedef enum alloc_fail_mode {
    /* Only allocation N fails; the ones after it succeed: recovery paths. */
    ALLOC_FAIL_ONCE,
    /* Allocation N and every later one fail: cleanup under lasting pressure. */
    ALLOC_FAIL_FROM
} alloc_fail_mode;

/*
 * Installs the counting allocator for dynhc and cJSON. Call it first in
 * main(), before any dynhc or cJSON object exists: a block allocated before
 * it and freed after aborts (it has no header). Installing twice is a no-op.
 * There is no uninstall: blocks live at exit would then be freed wrongly.
 */
void alloc_fail_install(void);

/* Arms: counting restarts, and allocation number n (1-based) from now fails,
 * with every later one too in ALLOC_FAIL_FROM. n = 0 counts only. */
void alloc_fail_start(unsigned long n, alloc_fail_mode mode);

/* Disarms (allocations succeed again; the count stops) and returns how many
 * allocations were failed since alloc_fail_start(). */
unsigned long alloc_fail_stop(void);

/* Allocations attempted (malloc, calloc, realloc, failed ones included)
 * between the last alloc_fail_start() and alloc_fail_stop(). */
unsigned long alloc_fail_count(void);

/* Failures injected since the last alloc_fail_start(). */
unsigned long alloc_fail_injected(void);

/* Blocks live now: both families, only dynhc's, only cJSON's. */
long alloc_fail_live(void);
long alloc_fail_live_dynhc(void);
long alloc_fail_live_cjson(void);

/*
 * One run of a torture loop: sets up, arms with alloc_fail_start(n, mode)
 * around the calls under test, disarms with alloc_fail_stop(), checks,
 * frees what it made, and returns what alloc_fail_stop() returned.
 */
typedef unsigned long (*alloc_fail_body)(void *user, unsigned long n, alloc_fail_mode mode);

/*
 * Runs body for N = 1, 2, ... (stepped by DYNHC_TEST_ALLOC_FAIL_STEP) until
 * a run injects no failure, and fails the cmocka test when a run returns
 * with a different number of live blocks than it started with (a leak, or a
 * free of something the run did not allocate). Returns the number of
 * allocations of that last, clean run (> 0 unless the calls never allocate).
 */
unsigned long alloc_fail_loop(const char *name, alloc_fail_mode mode, alloc_fail_body body,
                              void *user);

/* "NAME: N=5 (once)" for the run in progress, for failure messages;
 * static storage, overwritten by the next run. */
const char *alloc_fail_where(void);

#endif
