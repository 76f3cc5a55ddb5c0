/* xorshift.h: the reproducible random numbers of the tests that check a
 * structure against a plain model (xorshift64: same seed, same run). */
#ifndef DYNHC_TEST_XORSHIFT_H
#define DYNHC_TEST_XORSHIFT_H

#include <stdint.h>

/* The next number of the sequence in *state, which must not be 0. */
static inline uint64_t xorshift64(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

#endif
