/* Number formatting without printf, so a port needs no float-capable C library. */
#ifndef TR_FORMAT_H
#define TR_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* Decimal digits of `value` into `out` (at least 11 bytes); returns the length. */
size_t tr_format_u32(char *out, uint32_t value);

/* Signed decimal (at least 12 bytes). */
size_t tr_format_i32(char *out, int32_t value);

/* `value` with three decimals, exactly as printf("%0.3f", (double)value) prints it (correct
 * rounding, ties to even); `out` needs 24 bytes. Magnitudes of 2^53 and more, infinities and
 * NaNs print as "inf", "-inf" or "nan". Returns the length. */
size_t tr_format_fixed3(char *out, float value);

/* C atoi() with saturation at the int32 limits (atoi's overflow is undefined). */
int32_t tr_parse_int(const char *text);

#endif
