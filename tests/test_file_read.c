/* test_file_read.c: the file limits of SPEC 1.6 (size, kind, permissions,
 * UTF-8, byte order mark) for payload and config files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "file_read.h"

#include <dynhc/cjson.h>

static char dir[64];
static char path[128];

static int make_dir(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/dynhc-file-XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

/* Everything the tests made is one level deep: files, a FIFO, a folder. */
static int remove_dir(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    if (d == NULL) {
        return -1;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char entry[sizeof(dir) + sizeof(e->d_name) + 1];
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(entry, sizeof(entry), "%s/%s", dir, e->d_name);
            if (unlink(entry) != 0) {
                rmdir(entry);
            }
        }
    }
    closedir(d);
    return rmdir(dir);
}

static const char *in_dir(const char *name)
{
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

static const char *write_file(const char *name, const char *data, size_t len)
{
    FILE *f = fopen(in_dir(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static void assert_read_fails(const char *file, unsigned line, unsigned column, const char *message)
{
    dynhcp_parse_error err = {0};
    size_t len = 0;
    char *text = dynhcp_read_file(file, &len, &err);
    if (text != NULL) {
        free(text);
        fail_msg("%s was read", file);
    }
    if (strcmp(err.message, message) != 0 || err.pos.line != line || err.pos.column != column) {
        fail_msg("%s: got %u:%u: %s, expected %u:%u: %s", file, err.pos.line, err.pos.column,
                 err.message, line, column, message);
    }
}

static void missing_file_cannot_be_opened(void **state)
{
    (void)state;
    assert_read_fails(in_dir("absent.yaml"), 0, 0, "cannot open: No such file or directory");
}

static void directory_is_not_a_regular_file(void **state)
{
    (void)state;
    assert_int_equal(mkdir(in_dir("folder"), 0700), 0);
    assert_read_fails(path, 0, 0, "not a regular file (a directory)");
}

static void fifo_is_refused_without_blocking(void **state)
{
    (void)state;
    assert_int_equal(mkfifo(in_dir("fifo"), 0600), 0);
    assert_read_fails(path, 0, 0, "not a regular file (a FIFO)");
}

static void device_is_refused(void **state)
{
    (void)state;
    assert_read_fails("/dev/null", 0, 0, "not a regular file (a device)");
}

static void file_over_one_mebibyte_is_refused(void **state)
{
    (void)state;
    char *data = malloc(DYNHCP_FILE_MAX_BYTES + 1);
    assert_non_null(data);
    memset(data, 'a', DYNHCP_FILE_MAX_BYTES + 1);
    write_file("big", data, DYNHCP_FILE_MAX_BYTES + 1);
    free(data);
    assert_read_fails(path, 0, 0, "larger than the 1 MiB limit (1048577 bytes)");
}

static void file_of_exactly_one_mebibyte_is_read(void **state)
{
    (void)state;
    char *data = malloc(DYNHCP_FILE_MAX_BYTES);
    assert_non_null(data);
    memset(data, 'a', DYNHCP_FILE_MAX_BYTES);
    write_file("limit", data, DYNHCP_FILE_MAX_BYTES);
    free(data);
    dynhcp_parse_error err = {0};
    size_t len = 0;
    char *text = dynhcp_read_file(path, &len, &err);
    assert_non_null(text);
    assert_int_equal(len, DYNHCP_FILE_MAX_BYTES);
    assert_int_equal(text[len], '\0');
    free(text);
}

static void unreadable_file_cannot_be_opened(void **state)
{
    (void)state;
    if (geteuid() == 0) {
        skip(); /* root reads whatever the mode says */
    }
    write_file("secret", "a: 1\n", 5);
    assert_int_equal(chmod(path, 0), 0);
    assert_read_fails(path, 0, 0, "cannot open: Permission denied");
}

static void invalid_utf8_is_refused_at_the_bad_byte(void **state)
{
    (void)state;
    write_file("latin1", "a: 1\nb: caf\xe9\n", 13);
    assert_read_fails(path, 2, 7, "invalid UTF-8 (byte 0xE9)");
    write_file("overlong", "\xc0\xaf", 2);
    assert_read_fails(path, 1, 1, "invalid UTF-8 (byte 0xC0)");
}

static void nul_byte_is_refused_at_its_position(void **state)
{
    (void)state;
    write_file("nul", "a: 1\nb: \xc3\xa9\0\n", 11);
    assert_read_fails(path, 2, 5, "NUL byte in a text file");
}

static void invalid_utf8_before_a_nul_byte_is_reported_first(void **state)
{
    (void)state;
    write_file("both", "\xff\0", 2);
    assert_read_fails(path, 1, 1, "invalid UTF-8 (byte 0xFF)");
}

static void byte_order_mark_is_dropped_and_takes_no_column(void **state)
{
    (void)state;
    write_file("bom", "\xEF\xBB\xBF" "a: 1\n", 8);
    dynhcp_parse_error err = {0};
    size_t len = 0;
    char *text = dynhcp_read_file(path, &len, &err);
    assert_non_null(text);
    assert_int_equal(len, 5);
    assert_string_equal(text, "a: 1\n");
    free(text);
    write_file("bom-bad", "\xEF\xBB\xBF" "a: \xff", 7);
    assert_read_fails(path, 1, 4, "invalid UTF-8 (byte 0xFF)");
}

static void empty_file_is_read_as_empty_text(void **state)
{
    (void)state;
    write_file("empty", "", 0);
    dynhcp_parse_error err = {0};
    size_t len = 7;
    char *text = dynhcp_read_file(path, &len, &err);
    assert_non_null(text);
    assert_int_equal(len, 0);
    assert_string_equal(text, "");
    assert_string_equal(err.message, "");
    free(text);
}

static void text_file_is_read_whole_and_nul_terminated(void **state)
{
    (void)state;
    const char *content = "model: gpt2\nhealth_check_payload:\n  prompt: \"caf\xc3\xa9\"\n";
    write_file("config.yaml", content, strlen(content));
    dynhcp_parse_error err = {0};
    size_t len = 0;
    char *text = dynhcp_read_file(path, &len, &err);
    assert_non_null(text);
    assert_int_equal(len, strlen(content));
    assert_string_equal(text, content);
    free(text);
}

static void file_larger_than_fstat_says_is_read_whole(void **state)
{
    (void)state;
    /* Files under /proc report size 0 and still have content: the reader
     * must go on to the end, as it would for a file that grows. */
    dynhcp_parse_error err = {0};
    size_t len = 0;
    char *text = dynhcp_read_file("/proc/self/status", &len, &err);
    if (text == NULL && strncmp(err.message, "cannot open", 11) == 0) {
        skip();
    }
    assert_non_null(text);
    assert_true(len > 100);
    assert_non_null(strstr(text, "Name:"));
    assert_int_equal(strlen(text), len);
    free(text);
}

/* dynhc_document_read(): the config file's reader for a program's own
 * files, with the position of every value and of an error. */
static void document_gives_positions_and_errors_with_their_place(void **state)
{
    (void)state;
    dynhc_document *doc = NULL;
    dynhc_document_error err;
    const char yaml[] = "- targets: [a]\n  labels: {pool: x}\n";
    assert_int_equal(dynhc_document_read(write_file("t.yaml", yaml, strlen(yaml)), &doc, &err),
                     DYNHC_OK);
    const cJSON *root = dynhc_document_root(doc);
    assert_true(cJSON_IsArray(root));
    const cJSON *pool = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root->child, "labels"), "pool");
    unsigned line = 9, column = 9;
    dynhc_document_position(doc, pool, &line, &column);
    assert_int_equal(line, 2);
    assert_int_equal(column, 18);
    dynhc_document_position(doc, NULL, &line, &column);
    assert_int_equal(line, 0);
    assert_int_equal(column, 0);
    dynhc_document_free(doc);

    /* A .json name is strict JSON: a leading zero is an error at its place. */
    const char json[] = "[\n  {\"targets\": [01]}]";
    assert_int_equal(dynhc_document_read(write_file("t.json", json, strlen(json)), &doc, &err),
                     DYNHC_ERR_CONFIG);
    assert_null(doc);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 16);
    assert_non_null(strstr(err.message, "leading zero"));

    assert_int_equal(dynhc_document_read(in_dir("none.yaml"), &doc, &err), DYNHC_ERR_CONFIG);
    assert_int_equal(err.line, 0);
    assert_non_null(strstr(err.message, "cannot open"));
    assert_int_equal(dynhc_document_read(in_dir("none.yaml"), &doc, NULL), DYNHC_ERR_CONFIG);
    assert_int_equal(dynhc_document_read(NULL, &doc, &err), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_document_read("x.yaml", NULL, &err), DYNHC_ERR_INVALID_ARG);
    assert_null(dynhc_document_root(NULL));
    dynhc_document_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_file_cannot_be_opened),
        cmocka_unit_test(directory_is_not_a_regular_file),
        cmocka_unit_test(fifo_is_refused_without_blocking),
        cmocka_unit_test(device_is_refused),
        cmocka_unit_test(file_over_one_mebibyte_is_refused),
        cmocka_unit_test(unreadable_file_cannot_be_opened),
        cmocka_unit_test(invalid_utf8_is_refused_at_the_bad_byte),
        cmocka_unit_test(nul_byte_is_refused_at_its_position),
        cmocka_unit_test(invalid_utf8_before_a_nul_byte_is_reported_first),
        cmocka_unit_test(file_of_exactly_one_mebibyte_is_read),
        cmocka_unit_test(byte_order_mark_is_dropped_and_takes_no_column),
        cmocka_unit_test(empty_file_is_read_as_empty_text),
        cmocka_unit_test(text_file_is_read_whole_and_nul_terminated),
        cmocka_unit_test(file_larger_than_fstat_says_is_read_whole),
        cmocka_unit_test(document_gives_positions_and_errors_with_their_place),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
