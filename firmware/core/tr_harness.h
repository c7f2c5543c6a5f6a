/* The DUT side of the MLPerf Tiny / EEMBC protocol (tiny_protocol.md §3), portable C99.
 *
 * A port calls tr_harness_init() once at boot and tr_harness_receive() for every byte the
 * host sends; everything else (commands, replies, timestamps, inference) happens inside those
 * calls, through the port layer (tr_port.h, tr_model_port.h).
 *
 * Replies are those of the reference firmware, with its memory-safety bugs fixed: a `db load`
 * beyond the input size, hex before `db load` or beyond the loaded size, an empty command and
 * an input of the wrong size before `infer` all get an e-[...] reply and change nothing.
 */
#ifndef TR_HARNESS_H
#define TR_HARNESS_H

#include <stddef.h>

#define TR_COMMAND_CHARS 80 /* characters kept per command; later ones are dropped */
#define TR_FIRMWARE_VERSION "ULPMark for tinyML Firmware V0.0.1"

#ifndef TR_VENDOR
#define TR_VENDOR "unspecified"
#endif
#ifndef TR_PULSE_HOLD_US
#define TR_PULSE_HOLD_US 1000
#endif
#ifndef TR_ENERGY_MODE
#define TR_ENERGY_MODE 0
#endif

/* The banner: timestamp mode, one timestamp, model init, m-init-done, m-ready. */
void tr_harness_init(void);

/* One byte from the host. Commands end with '%'. */
void tr_harness_receive(char byte);

/* Print text / a whole line (adds CR LF) through the port's serial output. */
void tr_harness_print(const char *text);
void tr_harness_line(const char *text);

#endif
