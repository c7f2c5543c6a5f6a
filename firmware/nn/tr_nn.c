/* tiny-runner int8 inference kernels (see tr_nn.h). The arithmetic mirrors the TFLite
 * reference integer kernels operation for operation, so results are identical bit for bit;
 * the fixed-point helpers are those of gemmlowp, which TFLite's softmax uses. */
#include "tr_nn.h"

#include <stddef.h>

#define TR_INT32_MAX 2147483647
#define TR_INT32_MIN (-TR_INT32_MAX - 1)

static int32_t clamp(int32_t x, int32_t lo, int32_t hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* gemmlowp SaturatingRoundingDoublingHighMul: (a * b * 2 + 2^31) >> 32, saturated. */
static int32_t srdhm(int32_t a, int32_t b)
{
    int64_t ab;
    int32_t nudge;
    if (a == b && a == TR_INT32_MIN) {
        return TR_INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C division truncates, as gemmlowp's */
}

/* gemmlowp RoundingDivideByPOT: round half away from zero. */
static int32_t rdbpot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT for exponent >= 0. */
static int32_t sat_mul_pot(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return TR_INT32_MAX;
    }
    if (x < -threshold) {
        return TR_INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

int32_t tr_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift)
{
    /* TFLM's default "double rounding": a rounding doubling high multiply, then a rounding shift */
    const int32_t left_shift = shift > 0 ? shift : 0;
    const int32_t right_shift = shift > 0 ? 0 : -shift;
    return rdbpot(srdhm((int32_t)((uint32_t)x << left_shift), multiplier), right_shift);
}

/* An int32 accumulator to an int8 output: rescale, add the output zero point, clamp to the
 * fused activation's range (conv, depthwise conv and fully connected end alike). */
static int8_t requantize(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_offset, int32_t act_min,
                         int32_t act_max)
{
    return (int8_t)clamp(tr_multiply_by_quantized_multiplier(acc, multiplier, shift) + output_offset, act_min, act_max);
}

/* The average pool's division: round half away from zero, in C's truncating integer division. */
static int32_t rounded_average(int32_t sum, int32_t count)
{
    return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

void tr_conv2d(const tr_conv_params *p, const int8_t *input, int8_t *output)
{
    int32_t oy, ox, oc, fy, fx, ic;
    for (oy = 0; oy < p->out_h; ++oy) {
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            const int32_t in_x0 = ox * p->stride_w - p->pad_w;
            for (oc = 0; oc < p->out_c; ++oc) {
                int32_t acc = 0;
                for (fy = 0; fy < p->k_h; ++fy) {
                    const int32_t in_y = in_y0 + p->dilation_h * fy;
                    if (in_y < 0 || in_y >= p->in_h) {
                        continue;
                    }
                    for (fx = 0; fx < p->k_w; ++fx) {
                        const int32_t in_x = in_x0 + p->dilation_w * fx;
                        const int8_t *in_px;
                        const int8_t *w;
                        if (in_x < 0 || in_x >= p->in_w) {
                            continue;
                        }
                        in_px = input + ((size_t)in_y * p->in_w + in_x) * p->in_c;
                        w = p->filter + (((size_t)oc * p->k_h + fy) * p->k_w + fx) * p->in_c;
                        for (ic = 0; ic < p->in_c; ++ic) {
                            acc += w[ic] * (in_px[ic] + p->input_offset);
                        }
                    }
                }
                if (p->bias) {
                    acc += p->bias[oc];
                }
                output[((size_t)oy * p->out_w + ox) * p->out_c + oc] =
                    requantize(acc, p->multiplier[oc], p->shift[oc], p->output_offset, p->act_min, p->act_max);
            }
        }
    }
}

void tr_depthwise_conv2d(const tr_conv_params *p, const int8_t *input, int8_t *output)
{
    int32_t oy, ox, ic, m, fy, fx;
    for (oy = 0; oy < p->out_h; ++oy) {
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            const int32_t in_x0 = ox * p->stride_w - p->pad_w;
            for (ic = 0; ic < p->in_c; ++ic) {
                for (m = 0; m < p->depth_multiplier; ++m) {
                    const int32_t oc = ic * p->depth_multiplier + m;
                    int32_t acc = 0;
                    for (fy = 0; fy < p->k_h; ++fy) {
                        const int32_t in_y = in_y0 + p->dilation_h * fy;
                        if (in_y < 0 || in_y >= p->in_h) {
                            continue;
                        }
                        for (fx = 0; fx < p->k_w; ++fx) {
                            const int32_t in_x = in_x0 + p->dilation_w * fx;
                            if (in_x < 0 || in_x >= p->in_w) {
                                continue;
                            }
                            acc += p->filter[((size_t)fy * p->k_w + fx) * p->out_c + oc] *
                                   (input[((size_t)in_y * p->in_w + in_x) * p->in_c + ic] + p->input_offset);
                        }
                    }
                    if (p->bias) {
                        acc += p->bias[oc];
                    }
                    output[((size_t)oy * p->out_w + ox) * p->out_c + oc] =
                        requantize(acc, p->multiplier[oc], p->shift[oc], p->output_offset, p->act_min, p->act_max);
                }
            }
        }
    }
}

void tr_fully_connected(const tr_fc_params *p, const int8_t *input, int8_t *output)
{
    int32_t o, i;
    for (o = 0; o < p->out_n; ++o) {
        const int8_t *w = p->filter + (size_t)o * p->in_n;
        int32_t acc = 0;
        for (i = 0; i < p->in_n; ++i) {
            acc += (w[i] + p->filter_offset) * (input[i] + p->input_offset);
        }
        if (p->bias) {
            acc += p->bias[o];
        }
        output[o] = requantize(acc, p->multiplier, p->shift, p->output_offset, p->act_min, p->act_max);
    }
}

void tr_average_pool(const tr_pool_params *p, const int8_t *input, int8_t *output)
{
    int32_t oy, ox, c, fy, fx;
    for (oy = 0; oy < p->out_h; ++oy) {
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            const int32_t in_x0 = ox * p->stride_w - p->pad_w;
            const int32_t fy0 = in_y0 < 0 ? -in_y0 : 0;
            const int32_t fx0 = in_x0 < 0 ? -in_x0 : 0;
            const int32_t fy1 = p->k_h < p->in_h - in_y0 ? p->k_h : p->in_h - in_y0;
            const int32_t fx1 = p->k_w < p->in_w - in_x0 ? p->k_w : p->in_w - in_x0;
            for (c = 0; c < p->c; ++c) {
                int32_t acc = 0;
                int32_t count = 0;
                for (fy = fy0; fy < fy1; ++fy) {
                    for (fx = fx0; fx < fx1; ++fx) {
                        acc += input[((size_t)(in_y0 + fy) * p->in_w + (in_x0 + fx)) * p->c + c];
                        ++count;
                    }
                }
                acc = count == 0 ? 0 : rounded_average(acc, count);
                output[((size_t)oy * p->out_w + ox) * p->c + c] = (int8_t)clamp(acc, p->act_min, p->act_max);
            }
        }
    }
}

void tr_add(const tr_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    int32_t i;
    for (i = 0; i < p->n; ++i) {
        const int32_t shifted1 = (int32_t)((uint32_t)(p->input1_offset + input1[i]) << p->left_shift);
        const int32_t shifted2 = (int32_t)((uint32_t)(p->input2_offset + input2[i]) << p->left_shift);
        const int32_t scaled1 = tr_multiply_by_quantized_multiplier(shifted1, p->input1_multiplier, p->input1_shift);
        const int32_t scaled2 = tr_multiply_by_quantized_multiplier(shifted2, p->input2_multiplier, p->input2_shift);
        const int32_t sum = scaled1 + scaled2;
        const int32_t out = tr_multiply_by_quantized_multiplier(sum, p->output_multiplier, p->output_shift) + p->output_offset;
        output[i] = (int8_t)clamp(out, p->act_min, p->act_max);
    }
}

/* -- softmax: gemmlowp fixed point, as TFLite's reference int8 softmax ---------------------- */

/* exp(a) for a in [-1/4, 0), Q0.31 in and out. */
static int32_t exp_quarter(int32_t a)
{
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t one_third = 715827883;
    const int32_t x = a + (1 << 28);
    const int32_t x2 = srdhm(x, x);
    const int32_t x3 = srdhm(x2, x);
    const int32_t x4 = srdhm(x2, x2);
    const int32_t x4_over_4 = rdbpot(x4, 2);
    const int32_t poly = rdbpot(srdhm(x4_over_4 + x3, one_third) + x2, 1);
    return constant_term + srdhm(constant_term, x + poly);
}

/* exp(a) for a <= 0, a in Q5.26, result Q0.31. */
static int32_t exp_negative(int32_t a)
{
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t one_quarter = 1 << 24;
    const int32_t a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
    const int32_t remainder = a_mod_quarter_minus_quarter - a;
    int32_t result = exp_quarter(sat_mul_pot(a_mod_quarter_minus_quarter, 5));
    int32_t exponent;
    for (exponent = -2; exponent <= 4; ++exponent) {
        if (remainder & (1 << (26 + exponent))) {
            result = srdhm(result, multipliers[exponent + 2]);
        }
    }
    return a == 0 ? TR_INT32_MAX : result;
}

/* 1 / (1 + x) for x in [0, 1), Q0.31 in and out (Newton-Raphson). */
static int32_t one_over_one_plus_x(int32_t a)
{
    const int64_t sum = (int64_t)a + TR_INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t c48_17 = 1515870810;  /* 48/17 in Q2.29 */
    const int32_t cneg32_17 = -1010580540; /* -32/17 in Q2.29 */
    int32_t x = c48_17 + srdhm(half_denominator, cneg32_17);
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = srdhm(half_denominator, x);
        const int32_t one_minus = (1 << 29) - half_denominator_times_x;
        x = x + sat_mul_pot(srdhm(x, one_minus), 2);
    }
    return sat_mul_pot(x, 1);
}

static int32_t count_leading_zeros(uint32_t x)
{
    int32_t n = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
}

void tr_softmax(const tr_softmax_params *p, const int8_t *input, int8_t *output)
{
    int32_t r, c;
    for (r = 0; r < p->rows; ++r) {
        const int8_t *in = input + (size_t)r * p->depth;
        int8_t *out = output + (size_t)r * p->depth;
        int32_t max_in_row = -128;
        int32_t sum_of_exps = 0; /* Q12.19 */
        int32_t headroom_plus_one, num_bits_over_unit, shifted_scale;
        for (c = 0; c < p->depth; ++c) {
            max_in_row = in[c] > max_in_row ? in[c] : max_in_row;
        }
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t rescaled = srdhm((int32_t)((uint32_t)diff << p->input_left_shift), p->input_multiplier);
                sum_of_exps += rdbpot(exp_negative(rescaled), 12);
            }
        }
        headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
        num_bits_over_unit = 12 - headroom_plus_one;
        shifted_scale = one_over_one_plus_x(
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31)));
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t rescaled = srdhm((int32_t)((uint32_t)diff << p->input_left_shift), p->input_multiplier);
                const int32_t unsat = rdbpot(srdhm(shifted_scale, exp_negative(rescaled)), num_bits_over_unit + 31 - 8);
                out[c] = (int8_t)clamp(unsat - 128, -128, 127);
            } else {
                out[c] = -128;
            }
        }
    }
}
