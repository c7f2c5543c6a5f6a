/* The model side of the port layer: th_load_tensor / th_infer / th_results of the reference
 * API, without its globals. firmware/model/tr_model_port.c implements it over generated code.
 */
#ifndef TR_MODEL_PORT_H
#define TR_MODEL_PORT_H

#include <stddef.h>
#include <stdint.h>

/* The benchmark id the `profile` command reports: kws01, vww01, ic01, ic02, ad01, ... */
const char *tr_model_id(void);

/* How many bytes `db` must deliver for one input (the `db load` maximum). */
size_t tr_model_input_bytes(void);

/* One-time set-up at boot; may print through tr_harness_print (the ad01 port prints
 * "Initialized"). */
void tr_model_init(void);

/* Convert the downloaded bytes (exactly tr_model_input_bytes()) into the model input. Untimed. */
void tr_model_load_input(const uint8_t *bytes);

/* One inference on the loaded input. */
void tr_model_infer(void);

/* Write the text between the brackets of m-results-[...] for the last inference into
 * `text` (capacity `capacity`, NUL-terminated); returns its length. */
size_t tr_model_results(char *text, size_t capacity);

#endif
