/* The model side of the port layer over code from `tiny-runner codegen` (tr_model.h), with
 * the input conversions and result formats of the reference ports (tiny_protocol.md §3.6-3.7):
 *   kws01        input bytes are the int8 tensor; results print as 0.<3 truncated digits>
 *   vww01        pixel - 128; results "%0.3f," each (the reference's trailing comma)
 *   ic01, ic02   pixel - 128; results "%0.3f" comma-separated
 *   ad01         640 little-endian float32 quantised half away from zero; the result is the
 *                mean squared error of the dequantised reconstruction against the float input
 *   other ids    input bytes are the int8 tensor; results "%0.3f" comma-separated
 * Float arithmetic is float32 in the reference's order (build with -ffp-contract=off so no
 * fused multiply-add changes a result digit).
 */
#include "tr_model_port.h"

#include <string.h>

#include "tr_format.h"
#include "tr_harness.h"
#include "tr_model.h"

#if defined(TR_MODEL_BENCHMARK_AD01)
static float input_floats[TR_MODEL_INPUT_BYTES];
#endif

static union {
    int8_t bytes[TR_MODEL_ARENA_BYTES];
    int64_t align;
} arena;

const char *tr_model_id(void)
{
    return TR_MODEL_ID;
}

size_t tr_model_input_bytes(void)
{
    return TR_MODEL_DB_BYTES;
}

void tr_model_init(void)
{
#if defined(TR_MODEL_BENCHMARK_AD01)
    tr_harness_line("Initialized");
#endif
}

static float dequantize(int8_t value)
{
    return ((float)value - (float)TR_MODEL_OUTPUT_ZERO_POINT) * TR_MODEL_OUTPUT_SCALE;
}

#if defined(TR_MODEL_BENCHMARK_AD01)
static int8_t quantize(float value)
{
    const float scaled = value / TR_MODEL_INPUT_SCALE;
    float whole, fraction;
    int32_t q;
    if (!(scaled > -1024.0f)) { /* far outside int8 (or NaN): saturate before converting */
        return -128;
    }
    if (scaled > 1024.0f) {
        return 127;
    }
    /* round half away from zero, exactly: a float's fractional part is exact */
    whole = (float)(int32_t)scaled;
    fraction = scaled - whole;
    q = (int32_t)whole;
    if (fraction >= 0.5f) {
        ++q;
    } else if (fraction <= -0.5f) {
        --q;
    }
    q += TR_MODEL_INPUT_ZERO_POINT;
    return (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
}
#endif

void tr_model_load_input(const uint8_t *bytes)
{
    int8_t *input = arena.bytes + TR_MODEL_INPUT_OFFSET;
    size_t i;
#if defined(TR_MODEL_BENCHMARK_AD01)
    for (i = 0; i < TR_MODEL_INPUT_BYTES; ++i) {
        const uint32_t bits = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 |
                              (uint32_t)bytes[4 * i + 2] << 16 | (uint32_t)bytes[4 * i + 3] << 24;
        memcpy(&input_floats[i], &bits, sizeof bits);
        input[i] = quantize(input_floats[i]);
    }
#elif defined(TR_MODEL_BENCHMARK_VWW01) || defined(TR_MODEL_BENCHMARK_IC01) || defined(TR_MODEL_BENCHMARK_IC02)
    for (i = 0; i < TR_MODEL_INPUT_BYTES; ++i) {
        input[i] = (int8_t)((int32_t)bytes[i] - 128);
    }
#else
    for (i = 0; i < TR_MODEL_INPUT_BYTES; ++i) {
        input[i] = (int8_t)bytes[i];
    }
#endif
}

void tr_model_infer(void)
{
    tr_model_invoke(arena.bytes);
}

size_t tr_model_results(char *text, size_t capacity)
{
    const int8_t *output = arena.bytes + TR_MODEL_OUTPUT_OFFSET;
    char value[24];
    size_t n = 0, length, i;
#if defined(TR_MODEL_BENCHMARK_AD01)
    float sum = 0.0f;
    for (i = 0; i < TR_MODEL_OUTPUT_BYTES; ++i) {
        const float diff = dequantize(output[i]) - input_floats[i];
        sum += diff * diff;
    }
    length = tr_format_fixed3(value, sum / (float)TR_MODEL_OUTPUT_BYTES);
    if (length < capacity) {
        memcpy(text, value, length + 1);
        n = length;
    }
#else
    for (i = 0; i < TR_MODEL_OUTPUT_BYTES; ++i) {
        const float probability = dequantize(output[i]);
#if defined(TR_MODEL_BENCHMARK_KWS01)
        /* the KWS port prints three truncated digits from integer arithmetic */
        value[0] = '0';
        value[1] = '.';
        value[2] = (char)('0' + (int32_t)(probability * 10.0f) % 10);
        value[3] = (char)('0' + (int32_t)(probability * 100.0f) % 10);
        value[4] = (char)('0' + (int32_t)(probability * 1000.0f) % 10);
        value[5] = '\0';
        length = 5;
#else
        length = tr_format_fixed3(value, probability);
#endif
#if defined(TR_MODEL_BENCHMARK_VWW01)
        value[length++] = ','; /* the reference loop prints a comma after every value */
        value[length] = '\0';
#else
        if (i + 1 < TR_MODEL_OUTPUT_BYTES) {
            value[length++] = ',';
            value[length] = '\0';
        }
#endif
        if (n + length >= capacity) {
            break;
        }
        memcpy(text + n, value, length + 1);
        n += length;
    }
#endif
    text[n] = '\0';
    return n;
}
