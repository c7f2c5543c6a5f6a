/* The fixed-point steps of firmware/nn/tr_nn.c one at a time, for comparison with a reference
 * of TFLM's arithmetic. Reads lines "<step> <int> ..." from stdin and prints one integer per
 * line:
 *   srdhm a b            saturating rounding doubling high multiply
 *   rdbpot x exponent    rounding divide by a power of two
 *   satpot x exponent    saturating multiply by a power of two
 *   mbqm x mult shift    multiply by a quantised multiplier
 *   requant acc mult shift offset min max    accumulator -> int8 output
 *   average sum count    the average pool's rounding division
 * The kernels' helpers are static, so the source is compiled in. */
#include <stdio.h>
#include <string.h>

#include "tr_nn.c"

int main(void)
{
    char step[16];
    long long a, b, c, d, e, f;
    while (scanf("%15s", step) == 1) {
        long long out;
        if (strcmp(step, "srdhm") == 0 && scanf("%lld %lld", &a, &b) == 2) {
            out = srdhm((int32_t)a, (int32_t)b);
        } else if (strcmp(step, "rdbpot") == 0 && scanf("%lld %lld", &a, &b) == 2) {
            out = rdbpot((int32_t)a, (int32_t)b);
        } else if (strcmp(step, "satpot") == 0 && scanf("%lld %lld", &a, &b) == 2) {
            out = sat_mul_pot((int32_t)a, (int32_t)b);
        } else if (strcmp(step, "mbqm") == 0 && scanf("%lld %lld %lld", &a, &b, &c) == 3) {
            out = tr_multiply_by_quantized_multiplier((int32_t)a, (int32_t)b, (int32_t)c);
        } else if (strcmp(step, "requant") == 0 && scanf("%lld %lld %lld %lld %lld %lld", &a, &b, &c, &d, &e, &f) == 6) {
            out = requantize((int32_t)a, (int32_t)b, (int32_t)c, (int32_t)d, (int32_t)e, (int32_t)f);
        } else if (strcmp(step, "average") == 0 && scanf("%lld %lld", &a, &b) == 2) {
            out = rounded_average((int32_t)a, (int32_t)b);
        } else {
            fprintf(stderr, "bad line at step '%s'\n", step);
            return 2;
        }
        printf("%lld\n", out);
    }
    return 0;
}
