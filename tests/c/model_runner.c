/* Host runner for generated model code: reads TR_MODEL_INPUT_BYTES per inference from stdin
 * and writes TR_MODEL_OUTPUT_BYTES to stdout until end of input. */
#include <stdio.h>

#include "tr_model.h"

static int8_t arena[TR_MODEL_ARENA_BYTES] __attribute__((aligned(16)));

int main(void)
{
    while (fread(arena + TR_MODEL_INPUT_OFFSET, 1, TR_MODEL_INPUT_BYTES, stdin) == TR_MODEL_INPUT_BYTES) {
        tr_model_invoke(arena);
        fwrite(arena + TR_MODEL_OUTPUT_OFFSET, 1, TR_MODEL_OUTPUT_BYTES, stdout);
    }
    return 0;
}
