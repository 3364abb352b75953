/* json_get.c — getters for fields of JSON objects from outside (see json_get.h). */
#include "util/json_get.h"

#include <stdlib.h>

#include "util/util.h"

bool json_get_str(json_t *o, const char *key, char *dst, size_t dstlen)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) return false;
    str_copy(dst, dstlen, json_string_value(v));
    return true;
}

const char *json_get_string(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

const char *json_get_text(json_t *o, const char *key, char *buf, size_t buflen)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v)) { str_fmt(buf, buflen, "%lld", (long long)json_integer_value(v)); return buf; }
    if (json_is_real(v)) { str_fmt(buf, buflen, "%g", json_real_value(v)); return buf; }
    if (json_is_boolean(v)) { str_copy(buf, buflen, json_is_true(v) ? "1" : "0"); return buf; }
    return NULL;
}

void json_text(json_t *v, char *dst, size_t dstlen)
{
    dst[0] = 0;
    if (json_is_string(v)) str_copy(dst, dstlen, json_string_value(v));
    else if (json_is_integer(v)) str_fmt(dst, dstlen, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) str_fmt(dst, dstlen, "%.0f", json_real_value(v));
}

long json_get_int(json_t *o, const char *key, long dflt, long min, long max)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        return x < min || x > max ? dflt : (long)x;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        long x = strtol(s, &end, 10);
        if (end != s && *end == 0 && x >= min && x <= max) return x;
    }
    return dflt;
}

int json_get_small_int(json_t *o, const char *key, int dflt)
{
    return (int)json_get_int(o, key, dflt, -999999999L, 999999999L);
}
