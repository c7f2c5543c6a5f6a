/* tiny-runner int8 inference kernels: bit-exact with the TFLM reference kernels.
 *
 * Tensors are NHWC int8 with batch 1. Quantised multipliers follow TFLite: a real multiplier
 * M is stored as (multiplier, shift) with M = multiplier * 2^(shift - 31).
 */
#ifndef TR_NN_H
#define TR_NN_H

#include <stdint.h>

typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_h, pad_w; /* top and left padding */
    int32_t depth_multiplier; /* depthwise only */
    int32_t input_offset; /* -input zero point */
    int32_t output_offset; /* output zero point */
    int32_t act_min, act_max;
    const int8_t *filter; /* conv: [out_c][k_h][k_w][in_c]; depthwise: [1][k_h][k_w][out_c] */
    const int32_t *bias; /* may be NULL */
    const int32_t *multiplier; /* per output channel */
    const int32_t *shift;
} tr_conv_params;

typedef struct {
    int32_t in_n, out_n;
    int32_t input_offset, filter_offset, output_offset;
    int32_t multiplier, shift;
    int32_t act_min, act_max;
    const int8_t *filter; /* [out_n][in_n] */
    const int32_t *bias;
} tr_fc_params;

typedef struct {
    int32_t in_h, in_w, c, out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, pad_h, pad_w;
    int32_t act_min, act_max;
} tr_pool_params;

typedef struct {
    int32_t n;
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} tr_add_params;

typedef struct {
    int32_t rows, depth;
    int32_t input_multiplier, input_left_shift, diff_min;
} tr_softmax_params;

int32_t tr_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift);

void tr_conv2d(const tr_conv_params *p, const int8_t *input, int8_t *output);
void tr_depthwise_conv2d(const tr_conv_params *p, const int8_t *input, int8_t *output);
void tr_fully_connected(const tr_fc_params *p, const int8_t *input, int8_t *output);
void tr_average_pool(const tr_pool_params *p, const int8_t *input, int8_t *output);
void tr_add(const tr_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void tr_softmax(const tr_softmax_params *p, const int8_t *input, int8_t *output);

#endif
