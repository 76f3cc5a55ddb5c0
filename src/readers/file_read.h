/* file_read.h: bounded, checked reading of payload and config files. Internal. */
#ifndef DYNHCP_FILE_READ_H
#define DYNHCP_FILE_READ_H

#include <stddef.h>

#include "text.h"

/* Payload and config files larger than this are refused. */
#define DYNHCP_FILE_MAX_BYTES (1024u * 1024u)

/*
 * Reads the whole file at path, which must be a regular file of at most
 * DYNHCP_FILE_MAX_BYTES bytes in well-formed UTF-8. A leading byte order mark is
 * dropped. Never blocks on a FIFO, never follows into a device. Returns a new
 * NUL-terminated buffer (free with dynhcp_free()) and its length, or NULL with err
 * set: a message such as "cannot open: No such file or directory", "not a
 * regular file", "larger than 1 MiB" or "invalid UTF-8" with the position.
 */
char *dynhcp_read_file(const char *path, size_t *len, dynhcp_parse_error *err);

/* The same without the UTF-8 and NUL checks, for callers whose parser makes
 * them anyway (the JSON reader): it saves a pass over the text. */
char *dynhcp_read_file_raw(const char *path, size_t *len, dynhcp_parse_error *err);

#endif
