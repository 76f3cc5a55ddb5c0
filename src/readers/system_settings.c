/* system_settings.c: the value rules of the scheduler's and the status
 * server's variables (DYN_SYSTEM_*, DYN_LOG): see system_settings.h. */
#include "system_settings.h"

#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "json_text.h"
#include "text.h"

const char *dynhcp_parse_port(const char *s, size_t len, int *out)
{
    static const char expected[] = "expected a port from 0 to 65535, or -1 for off";
    if (len == 2 && s[0] == '-' && s[1] == '1') {
        *out = -1;
        return NULL;
    }
    if (len == 0 || len > 5) {
        return expected;
    }
    int port = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return expected;
        }
        port = port * 10 + (s[i] - '0');
    }
    if (port > 65535) {
        return expected;
    }
    *out = port;
    return NULL;
}

const char *dynhcp_parse_status_path(const char *s, size_t len)
{
    if (len == 0 || s[0] != '/') {
        return "expected a path starting with '/'";
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7F || c == '?' || c == '#') {
            return "expected a path without spaces, control characters, '?' or '#'";
        }
    }
    if (len == strlen(DYNHCP_METRICS_PATH) && memcmp(s, DYNHCP_METRICS_PATH, len) == 0) {
        return "reserved for the metrics";
    }
    return NULL;
}

const char *dynhcp_status_paths_clash(const char *health, size_t health_len, const char *live,
                                      size_t live_len, const char *health_now, const char *live_now,
                                      int *live_gives_way)
{
    /* Judged together, so that moving both at once works in either order. */
    *live_gives_way = 1;
    if (live != NULL &&
        (health != NULL ? live_len == health_len && memcmp(live, health, live_len) == 0
                        : dynhcp_equals(live, live_len, health_now))) {
        return "same as the health path";
    }
    if (health != NULL && live == NULL && dynhcp_equals(health, health_len, live_now)) {
        *live_gives_way = 0;
        return "same as the live path";
    }
    return NULL;
}

int dynhcp_parse_endpoint_names(const char *raw, cJSON **list, dynhcp_posmap *map,
                                dynhcp_parse_error *err)
{
    *list = NULL;
    size_t len;
    const char *text = dynhcp_trim(raw, &len);
    if (len == 0) {
        return 0;
    }
    if (dynhcp_utf8_check(raw, strlen(raw), err) != 0) {
        return -1;
    }
    cJSON *parsed =
        dynhcp_json_parse(text, len, dynhcp_pos_at(raw, (size_t)(text - raw)), map, err);
    if (parsed == NULL) {
        return -1;
    }
    const cJSON *bad = cJSON_IsArray(parsed) && parsed->child != NULL ? NULL : parsed;
    for (const cJSON *item = bad == NULL ? parsed->child : NULL; item != NULL; item = item->next) {
        if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
            bad = item;
            break;
        }
    }
    if (bad != NULL) {
        dynhcp_parse_error_set(err, dynhcp_posmap_find(map, bad), "%s",
                               bad == parsed ? "expected a JSON array of endpoint names such as "
                                               "[\"generate\"]"
                                             : "endpoint names must be non-empty strings");
        cJSON_Delete(parsed);
        return -1;
    }
    *list = parsed;
    return 0;
}

const char *dynhcp_parse_start_status(const char *s, size_t len, int *ready)
{
    if (dynhcp_equals_nocase(s, len, "ready")) {
        *ready = 1;
        return NULL;
    }
    if (dynhcp_equals_nocase(s, len, "notready")) {
        *ready = 0;
        return NULL;
    }
    return "expected ready or notready";
}

const char *dynhcp_parse_log_level(const char *s, size_t len, int *out)
{
    /* In the order of dynhc_log_level. */
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (dynhcp_equals_nocase(s, len, names[i])) {
            *out = i;
            return NULL;
        }
    }
    return "expected error, warn, info or debug";
}

const char *dynhcp_parse_host(const char *s, size_t len, struct sockaddr_storage *addr)
{
    static const char expected[] = "expected an IPv4 or IPv6 address, or localhost";
    char text[INET6_ADDRSTRLEN];
    if (len == 0 || len >= sizeof(text)) {
        return expected;
    }
    memcpy(text, s, len);
    text[len] = '\0';
    if (dynhcp_equals_nocase(s, len, "localhost")) {
        memcpy(text, "127.0.0.1", sizeof("127.0.0.1"));
    }
    struct sockaddr_storage parsed;
    memset(&parsed, 0, sizeof(parsed));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&parsed;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&parsed;
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
    } else {
        return expected;
    }
    if (addr != NULL) {
        *addr = parsed;
    }
    return NULL;
}
