/* Host runner for generated model code; runs one inference per input read from stdin until end
 * of input. Built two ways:
 *   default               reads TR_MODEL_INPUT_BYTES of int8 tensor per inference and writes the
 *                         TR_MODEL_OUTPUT_BYTES of the output tensor
 *   -DTR_RUNNER_DB_INPUT  reads TR_MODEL_DB_BYTES per inference, the bytes `db` delivers, and
 *                         converts them with the firmware's port layer (tr_model_port.c, the
 *                         ad01 float quantisation included); writes the input tensor, the output
 *                         tensor, then the text the firmware prints inside m-results-[...] and a
 *                         newline
 */
#include <stdio.h>

#if defined(TR_RUNNER_DB_INPUT)
/* Compiled in rather than linked, so that the runner reads the output tensor in the port's own
 * arena: the port layer's interface gives out only the formatted results. */
#include "tr_model_port.c"

void tr_harness_line(const char *text)
{
    (void)text; /* tr_model_init's greeting; the runner does not call it */
}

static uint8_t download[TR_MODEL_DB_BYTES];
static char results[8192];

int main(void)
{
    while (fread(download, 1, sizeof download, stdin) == sizeof download) {
        tr_model_load_input(download);
        tr_model_infer();
        fwrite(arena.bytes + TR_MODEL_INPUT_OFFSET, 1, TR_MODEL_INPUT_BYTES, stdout);
        fwrite(arena.bytes + TR_MODEL_OUTPUT_OFFSET, 1, TR_MODEL_OUTPUT_BYTES, stdout);
        tr_model_results(results, sizeof results);
        fputs(results, stdout);
        fputc('\n', stdout);
    }
    return 0;
}
#else
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
#endif
