/* Number formatting for the protocol core (see tr_format.h). */
#include "tr_format.h"

#include <string.h>

/* digits[0..n) hold a number's digits least significant first; write them the right way round */
static size_t put_reversed(char *out, const char *digits, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        out[i] = digits[n - 1 - i];
    }
    out[n] = '\0';
    return n;
}

static size_t format_u64(char *out, uint64_t value)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + (int)(value % 10u));
        value /= 10u;
    } while (value != 0u);
    return put_reversed(out, digits, n);
}

size_t tr_format_u32(char *out, uint32_t value)
{
    /* 32-bit division: a Cortex-M divides these in hardware, and the first timestamp of a
     * timed run is printed inside the window */
    char digits[10];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + (int)(value % 10u));
        value /= 10u;
    } while (value != 0u);
    return put_reversed(out, digits, n);
}

size_t tr_format_i32(char *out, int32_t value)
{
    if (value < 0) {
        out[0] = '-';
        return 1 + tr_format_u32(out + 1, (uint32_t)(-(int64_t)value));
    }
    return tr_format_u32(out, (uint32_t)value);
}

size_t tr_format_fixed3(char *out, float value)
{
    uint32_t bits;
    uint32_t exponent_bits, fraction;
    uint64_t scaled, thousandths;
    int exponent;
    size_t n = 0;
    memcpy(&bits, &value, sizeof bits);
    exponent_bits = (bits >> 23) & 0xffu;
    fraction = bits & 0x7fffffu;
    if (exponent_bits == 0xffu && fraction != 0u) {
        memcpy(out, "nan", 4);
        return 3;
    }
    if (bits >> 31) {
        out[n++] = '-';
    }
    /* value = mantissa * 2^exponent exactly; thousandths = value * 1000 rounded half to even */
    if (exponent_bits == 0u) {
        scaled = (uint64_t)fraction * 1000u;
        exponent = -149;
    } else {
        scaled = ((uint64_t)fraction | 0x800000u) * 1000u; /* < 2^34 */
        exponent = (int)exponent_bits - 150;
    }
    if (exponent_bits == 0xffu || exponent > 29) {
        memcpy(out + n, "inf", 4);
        return n + 3;
    }
    if (exponent >= 0) {
        thousandths = scaled << exponent;
    } else if (exponent <= -35) {
        thousandths = 0; /* below half a thousandth: scaled < 2^34 <= 2^(-exponent - 1) */
    } else {
        const int shift = -exponent;
        const uint64_t remainder = scaled & (((uint64_t)1 << shift) - 1u);
        const uint64_t half = (uint64_t)1 << (shift - 1);
        thousandths = scaled >> shift;
        if (remainder > half || (remainder == half && (thousandths & 1u))) {
            ++thousandths;
        }
    }
    n += format_u64(out + n, thousandths / 1000u);
    out[n++] = '.';
    out[n++] = (char)('0' + (int)(thousandths / 100u % 10u));
    out[n++] = (char)('0' + (int)(thousandths / 10u % 10u));
    out[n++] = (char)('0' + (int)(thousandths % 10u));
    out[n] = '\0';
    return n;
}

int32_t tr_parse_int(const char *text)
{
    int64_t value = 0;
    int negative = 0;
    while (*text == ' ' || (*text >= '\t' && *text <= '\r')) {
        ++text;
    }
    if (*text == '+' || *text == '-') {
        negative = *text == '-';
        ++text;
    }
    while (*text >= '0' && *text <= '9') {
        if (value <= 2147483648LL) {
            value = value * 10 + (*text - '0');
        }
        ++text;
    }
    if (negative) {
        value = -value;
    }
    if (value > 2147483647LL) {
        return 2147483647;
    }
    if (value < -2147483647LL - 1) {
        return -2147483647 - 1;
    }
    return (int32_t)value;
}
