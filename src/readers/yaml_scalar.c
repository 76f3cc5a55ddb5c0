/* yaml_scalar.c: see yaml_scalar.h. */
#include "yaml_scalar.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "text.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *const dynhcp_yaml_tag_names[TAG_MAP + 1] = {
    "", "!", "!!str", "!!null", "!!bool", "!!int", "!!float", "!!seq", "!!map",
};

tag_kind dynhcp_yaml_tag_kind(const char *tag)
{
    static const char core_prefix[] = "tag:yaml.org,2002:"; /* what "!!" expands to */
    const char *t = tag;
    if (t != NULL && strcmp(t, "!") == 0) {
        return TAG_BANG;
    }
    if (t == NULL || strncmp(t, core_prefix, sizeof(core_prefix) - 1) != 0) {
        return TAG_NONE;
    }
    for (size_t k = TAG_STR; k < COUNT(dynhcp_yaml_tag_names); k++) {
        if (strcmp(t + sizeof(core_prefix) - 1, dynhcp_yaml_tag_names[k] + 2) == 0) {
            return (tag_kind)k;
        }
    }
    return TAG_NONE;
}

static int equals(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t skip_digits(const char *s, size_t i, size_t len)
{
    while (i < len && is_digit(s[i])) {
        i++;
    }
    return i;
}

/* Whether s[2..len) are all digits below radix, after a "0x"/"0o" prefix. */
static int is_radix(const char *s, size_t len, char prefix, int radix)
{
    if (len < 3 || s[0] != '0' || s[1] != prefix) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        int d = dynhcp_hex_value(s[i]);
        if (d < 0 || d >= radix) {
            return 0;
        }
    }
    return 1;
}

/* [-+]?[0-9]+ is FORM_INT; [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
 * otherwise FORM_FLOAT; anything else FORM_STRING. */
static plain_form decimal_form(const char *s, size_t len)
{
    size_t i = (len > 0 && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    size_t end = skip_digits(s, i, len);
    plain_form form = FORM_INT;
    if (end < len && s[end] == '.') {
        size_t frac_end = skip_digits(s, end + 1, len);
        if (end == i && frac_end == end + 1) {
            return FORM_STRING; /* a dot without digits */
        }
        form = FORM_FLOAT;
        end = frac_end;
    } else if (end == i) {
        return FORM_STRING;
    }
    if (end < len && (s[end] == 'e' || s[end] == 'E')) {
        size_t exp_start = end + 1;
        if (exp_start < len && (s[exp_start] == '-' || s[exp_start] == '+')) {
            exp_start++;
        }
        end = skip_digits(s, exp_start, len);
        if (end == exp_start) {
            return FORM_STRING;
        }
        form = FORM_FLOAT;
    }
    return end == len ? form : FORM_STRING;
}

plain_form dynhcp_yaml_classify(const char *s, size_t len)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    static const char *const trues[] = {"true", "True", "TRUE"};
    static const char *const falses[] = {"false", "False", "FALSE"};
    static const char *const inf_nan[] = {".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"};
    for (size_t i = 0; i < COUNT(nulls); i++) {
        if (equals(s, len, nulls[i])) {
            return FORM_NULL;
        }
    }
    for (size_t i = 0; i < COUNT(trues); i++) {
        if (equals(s, len, trues[i])) {
            return FORM_TRUE;
        }
        if (equals(s, len, falses[i])) {
            return FORM_FALSE;
        }
    }
    for (size_t i = 0; i < COUNT(inf_nan); i++) {
        /* Only the infinities take a sign. */
        int signed_inf = inf_nan[i][1] == 'i' || inf_nan[i][1] == 'I';
        signed_inf = signed_inf && len > 0 && (s[0] == '-' || s[0] == '+');
        if (equals(s + signed_inf, len - (size_t)signed_inf, inf_nan[i])) {
            return FORM_INF_NAN;
        }
    }
    if (is_radix(s, len, 'x', 16)) {
        return FORM_HEX;
    }
    if (is_radix(s, len, 'o', 8)) {
        return FORM_OCTAL;
    }
    return decimal_form(s, len);
}

int dynhcp_yaml_form_fits(plain_form form, tag_kind kind)
{
    switch (kind) {
    case TAG_NULL: return form == FORM_NULL;
    case TAG_BOOL: return form == FORM_TRUE || form == FORM_FALSE;
    case TAG_INT: return form == FORM_INT || form == FORM_HEX || form == FORM_OCTAL;
    case TAG_FLOAT: return form == FORM_INT || form == FORM_FLOAT || form == FORM_INF_NAN;
    default: return 1;
    }
}

/* Digits after "0x" or "0o" to the nearest double. Once 61 or more
 * significant bits are held, further digits only shift the exponent and
 * leave a sticky bit below the rounding point, so the final conversion
 * rounds as if every bit had been kept. */
double dynhcp_yaml_radix_value(const char *digits, size_t n, unsigned bits)
{
    uint64_t m = 0;
    int exponent = 0;
    uint64_t sticky = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = (uint64_t)dynhcp_hex_value(digits[i]);
        if ((m >> (64 - bits)) == 0) {
            m = (m << bits) | d;
        } else {
            exponent += exponent < 4096 ? (int)bits : 0; /* past any double */
            sticky |= d != 0;
        }
    }
    return ldexp((double)(m | sticky), exponent);
}
