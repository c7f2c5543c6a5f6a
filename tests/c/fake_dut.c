/* The protocol core on the host with a scripted port and a fake model, for tests/test_harness_core.py.
 *
 *   fake_dut [TIMER_START [EARLY_BYTES]]
 *
 * Feeds EARLY_BYTES to the core before it boots (they must be ignored), boots, then feeds all of
 * stdin. Serial output goes to stdout; pin changes and delays appear inline as <pin N> and
 * <hold N>. The timer starts at TIMER_START and advances only with inferences, 250 us each.
 * The fake model takes FAKE_INPUT_BYTES bytes; its result is "<inferences so far>,<input sum>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_format.h"
#include "tr_harness.h"
#include "tr_model_port.h"
#include "tr_port.h"

#ifndef FAKE_INPUT_BYTES
#define FAKE_INPUT_BYTES 10
#endif

static uint32_t timer_us;
static uint32_t inferences;
static uint32_t input_sum;

void tr_port_serial_write(const char *data, size_t length)
{
    fwrite(data, 1, length, stdout);
}

uint32_t tr_port_timer_us(void)
{
    return timer_us;
}

void tr_port_timestamp_pin(int level)
{
    printf("<pin %d>", level);
}

void tr_port_delay_us(uint32_t us)
{
    printf("<hold %u>", (unsigned)us);
}

const char *tr_model_id(void)
{
    return "fake01";
}

size_t tr_model_input_bytes(void)
{
    return FAKE_INPUT_BYTES;
}

void tr_model_init(void)
{
}

void tr_model_load_input(const uint8_t *bytes)
{
    size_t i;
    input_sum = 0;
    for (i = 0; i < FAKE_INPUT_BYTES; ++i) {
        input_sum += bytes[i];
    }
}

void tr_model_infer(void)
{
    ++inferences;
    timer_us += 250;
}

size_t tr_model_results(char *text, size_t capacity)
{
    char count[12], sum[12];
    tr_format_u32(count, inferences);
    tr_format_u32(sum, input_sum);
    if (strlen(count) + strlen(sum) + 2 > capacity) {
        text[0] = '\0';
        return 0;
    }
    strcpy(text, count);
    strcat(text, ",");
    strcat(text, sum);
    return strlen(text);
}

int main(int argc, char **argv)
{
    int c;
    if (argc > 1) {
        timer_us = (uint32_t)strtoul(argv[1], NULL, 10);
    }
    if (argc > 2) {
        const char *early = argv[2];
        while (*early) {
            tr_harness_receive(*early++);
        }
    }
    tr_harness_init();
    while ((c = getchar()) != EOF) {
        tr_harness_receive((char)c);
    }
    return 0;
}
