/* The port layer: what a target provides so the protocol core can run on it.
 *
 * A port implements the four platform functions below and feeds every received byte to
 * tr_harness_receive() (from its main loop or a UART interrupt). The model side (load input,
 * run inference, report results) is declared in tr_model_port.h; the generic implementation in
 * firmware/model runs code from `tiny-runner codegen`, and a port may replace it with a
 * vendor library.
 *
 * Build-time choices (compiler -D flags):
 *   TR_ENERGY_MODE=1      energy build: timestamps are pulses on the timestamp pin and the
 *                         banner says m-timestamp-mode-energy (default: performance build,
 *                         timestamps are m-lap-us-<n> lines)
 *   TR_VENDOR="name"      the vendor string in `name` replies (default "unspecified")
 *   TR_PULSE_HOLD_US=n    how long an energy-mode timestamp holds the pin low (default 1000)
 */
#ifndef TR_PORT_H
#define TR_PORT_H

#include <stddef.h>
#include <stdint.h>

/* Send bytes to the host; returns once they are queued or sent. */
void tr_port_serial_write(const char *data, size_t length);

/* A free-running microsecond counter; it may wrap at 2^32 (the host handles one wrap). */
uint32_t tr_port_timer_us(void);

/* Drive the timestamp pin: 0 pulls it low, 1 releases it high (its idle level). Energy
 * builds only; a performance build never calls it. */
void tr_port_timestamp_pin(int level);

/* Busy-wait at least `us` microseconds (the hold time of a timestamp pulse). */
void tr_port_delay_us(uint32_t us);

#endif
