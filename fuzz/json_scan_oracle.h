/* json_scan_oracle.h: the CLI's JSON scanner of answers (src/cli/json_scan.c)
 * against the library's strict reader (src/readers/json_text.c) on the same
 * bytes, for fuzz_json_scan and test_json_scan. */
#ifndef DYNHCP_JSON_SCAN_ORACLE_H
#define DYNHCP_JSON_SCAN_ORACLE_H

#include <stddef.h>

/*
 * Scans text[0..len) and reads it strictly: 1 when both find it valid or
 * not alike, of the same shape, with the same length of the top-level
 * "choices" array; 0 when they disagree (detail says how); -1 when the
 * reader refused it for a reason JSON allows and the scanner does not check
 * (duplicate names, invalid UTF-8 and lone surrogates, \u0000, nesting past
 * 64, numbers out of a double's range, memory). *valid: the reader took it.
 */
int json_scan_oracle(const char *text, size_t len, int *valid, char *detail, size_t size);

#endif
