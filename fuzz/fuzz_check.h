/* fuzz_check.h: what the harnesses share: the libFuzzer entry point and the
 * properties checked on every tree the readers build. A broken property
 * aborts, which libFuzzer (or tests/fuzz_replay.c) reports as a crash. */
#ifndef DYNHCP_FUZZ_CHECK_H
#define DYNHCP_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Defined by each harness; called by libFuzzer or tests/fuzz_replay.c. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Says which property broke (what, and detail) and aborts. */
void fuzz_broken(const char *what, const char *detail);

/*
 * Runs dynhcp_json_parse on data[0..size) and checks: success and error exclude
 * each other; a failure leaves the position map as it was; a success records
 * one position per node; positions follow the origin; the tree printed by
 * cJSON reads back to an equal tree.
 */
void fuzz_check_json(const uint8_t *data, size_t size);

/* Checks that cJSON's printing of root is valid strict JSON that reads back
 * to an equal tree (so root has no duplicate keys, no NaN or infinity and
 * nests at most 64 deep). */
void fuzz_check_round_trip(const cJSON *root, const char *what);

/* Checks that text (a result's dynhc_result_text) is strict JSON that
 * cJSON_Parse reads back to a tree equal (cJSON_Compare) to tree (the
 * result's dynhc_result_payload). */
void fuzz_check_text_matches(const char *text, const cJSON *tree, const char *what);

#endif
