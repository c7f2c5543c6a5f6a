/* The mps2-an386 port: the harness on an emulated Cortex-M4 under QEMU.
 *
 * The host runs the image as
 *
 *   qemu-system-arm -M mps2-an386 -cpu cortex-m4 -display none -monitor none -nodefaults -nic none
 *       -semihosting-config enable=off -no-reboot -icount shift=3 -kernel tr-dut.elf
 *       -serial <uart0> -serial <uart1>
 *
 * where <uart0> carries the protocol (e.g. pty, stdio, unix:PATH, tcp:127.0.0.1:PORT,server=on,
 * wait=on) and <uart1> the energy event stream (null for performance builds). With pty QEMU
 * drops output and holds back input until it notices the pty was opened (it polls once a
 * second); socket backends connected before the core starts lose nothing. With -icount shift=3
 * every instruction takes 8 ns of virtual time (a core of 125 M instructions per second) and
 * TIMER0, the firmware's clock, counts 25 MHz ticks of that virtual time, so a measured
 * latency depends only on the instructions executed, not on the host. While the core waits
 * for input (WFI) virtual time follows the host's clock, so absolute timestamps differ from
 * run to run but the time between two of them within one command does not. A fault prints
 * e-[fault: <name>] and requests a system reset, which ends QEMU (-no-reboot). Without
 * semihosting and networking the image reaches nothing on the host but its two UARTs.
 *
 * Time base: TIMER0 counts down at 25 MHz; its wrap interrupt extends it to a 64-bit tick
 * count since reset. Performance builds give it a period of 25 * 2^27 ticks (134 s, a whole
 * number of microseconds; the wrap is the only interrupt besides UART0 receive, so timed runs
 * are undisturbed), and on every wake-up from WFI move it forward to the next whole
 * microsecond: that locks the timer's phase to the instruction stream, so the timestamps of a
 * command depend only on the instructions executed, never on when the host's bytes arrived
 * (the clock gains at most 1 us per wake-up).
 *
 * Energy builds: the timestamp pin is virtual. Its edges and the core's activity go out on
 * UART1 as one ASCII line per event, "<letter><ticks>\n", ticks being the decimal 64-bit
 * count of 25 MHz ticks since reset:
 *   L  the pin goes low             H  the pin goes high
 *   I  the core waits for input     B  input woke it; it is busy again
 *   T  heartbeat: virtual time has reached <ticks> (every 250000 ticks, 10 ms)
 * Here TIMER0 reloads every 250000 ticks and its wrap is the heartbeat, so heartbeat ticks are
 * exact multiples of 250000 on the same clock as every other event, and lines come out in
 * tick order (a wrap that is due is reported before any later event). Lines are written with
 * interrupts masked, so none splits another. An L line goes out just before the next line
 * (normally its H), so writing it does not lengthen the pulse.
 */
#include <stddef.h>
#include <stdint.h>

#include "mps2_an386.h"
#include "tr_harness.h"
#include "tr_port.h"

#define TICKS_PER_US (MPS2_SYSCLK_HZ / 1000000u)

#if TR_ENERGY_MODE
#define TIMER0_RELOAD (250000u - 1u) /* 10 ms periods: the heartbeat */
#else
#define TIMER0_RELOAD (25u * 134217728u - 1u) /* 25 * 2^27 ticks, a whole number of us */
#endif
#define TIMER0_PERIOD ((uint64_t)TIMER0_RELOAD + 1u)

static uint32_t timer0_wraps; /* completed TIMER0 periods; changed with interrupts masked */

/* -- serial ---------------------------------------------------------------------------------- */
static void uart_start(uint32_t base, uint32_t control)
{
    UART_BAUDDIV(base) = MPS2_SYSCLK_HZ / UART_BAUD_RATE;
    UART_CTRL(base) = control;
}

static void uart_put(uint32_t base, char c)
{
    while (UART_STATE(base) & UART_STATE_TX_FULL) {
    }
    UART_DATA(base) = (uint8_t)c;
}

void tr_port_serial_write(const char *data, size_t length)
{
    size_t i;
    for (i = 0; i < length; ++i) {
        uart_put(MPS2_UART0, data[i]);
    }
}

/* The byte itself is read by the main loop; the interrupt only ends a WFI. */
void mps2_uart0_rx_handler(void)
{
    UART_INTCLEAR(MPS2_UART0) = UART_INT_RX;
}

/* -- energy events --------------------------------------------------------------------------- */
#if TR_ENERGY_MODE
/* Decimal digits with 32-bit divisions (the core has UDIV), so an event line costs little. */
static size_t format_ticks(char *out, uint64_t value)
{
    char digits[20];
    size_t n = 0, i;
    uint32_t low;
    while (value > 0xFFFFFFFFu) {
        low = (uint32_t)(value % 1000000000u);
        value /= 1000000000u;
        for (i = 0; i < 9; ++i) {
            digits[n++] = (char)('0' + low % 10u);
            low /= 10u;
        }
    }
    low = (uint32_t)value;
    do {
        digits[n++] = (char)('0' + low % 10u);
        low /= 10u;
    } while (low != 0u);
    for (i = 0; i < n; ++i) {
        out[i] = digits[n - 1 - i];
    }
    return n;
}

static void write_line(char letter, uint64_t ticks)
{
    char digits[20];
    const size_t n = format_ticks(digits, ticks);
    size_t i;
    uart_put(MPS2_UART1, letter);
    for (i = 0; i < n; ++i) {
        uart_put(MPS2_UART1, digits[i]);
    }
    uart_put(MPS2_UART1, '\n');
}

/* The pin-low line waits for the next line: writing it takes microseconds, which would
 * otherwise lengthen the pulse it starts. */
static char held_letter; /* 0: nothing held */
static uint64_t held_ticks;

static void flush_held(void)
{
    if (held_letter != 0) {
        write_line(held_letter, held_ticks);
        held_letter = 0;
    }
}

/* One event line on UART1, after any held one; the caller has masked interrupts. */
static void event_line(char letter, uint64_t ticks)
{
    flush_held();
    write_line(letter, ticks);
}

static void event_hold(char letter, uint64_t ticks)
{
    flush_held();
    held_letter = letter;
    held_ticks = ticks;
}
#endif

/* -- time base ------------------------------------------------------------------------------- */
/* Count a completed TIMER0 period (interrupts masked; the period's reload has happened). */
static void timer0_wrapped(void)
{
    TIMER_INTSTATUS(MPS2_TIMER0) = 1u;
    ++timer0_wraps;
#if TR_ENERGY_MODE
    event_line('T', (uint64_t)timer0_wraps * TIMER0_PERIOD);
#endif
}

/* 25 MHz ticks since reset; consistent across a wrap whose interrupt has not run yet. */
static uint64_t ticks(void)
{
    const uint32_t mask = mps2_irq_save();
    uint32_t value = TIMER_VALUE(MPS2_TIMER0);
    uint64_t now;
    if (TIMER_INTSTATUS(MPS2_TIMER0) & 1u) {
        value = TIMER_VALUE(MPS2_TIMER0); /* the wrap came before this read */
        if (value != 0u) {                /* 0: still holding for the tick before the reload */
            timer0_wrapped();
        }
    }
    now = (uint64_t)timer0_wraps * TIMER0_PERIOD + (TIMER0_RELOAD - value);
    mps2_irq_restore(mask);
    return now;
}

void mps2_timer0_handler(void)
{
    while (TIMER_VALUE(MPS2_TIMER0) == 0u) { /* at most one tick until the reload */
    }
    (void)ticks();
}

static void time_base_start(void)
{
    TIMER_CTRL(MPS2_TIMER0) = 0u;
    TIMER_RELOAD(MPS2_TIMER0) = TIMER0_RELOAD; /* also loads VALUE */
    TIMER_INTSTATUS(MPS2_TIMER0) = 1u;
    TIMER_CTRL(MPS2_TIMER0) = TIMER_CTRL_EN | TIMER_CTRL_IRQ_EN;
    mps2_irq_enable(MPS2_IRQ_TIMER0);
}

/* Performance builds: move TIMER0 forward to the next whole microsecond (interrupts masked).
 * Writing VALUE restarts the current tick, so later reads fall at fixed points of the tick
 * grid. It moves at least one tick, so a tick passing during the write never turns it back. */
static void time_base_align(void)
{
#if !TR_ENERGY_MODE
    const uint32_t value = TIMER_VALUE(MPS2_TIMER0);
    const uint32_t advance = TICKS_PER_US - (TIMER0_RELOAD - value) % TICKS_PER_US;
    if (value > 2u * TICKS_PER_US) { /* left alone in the last 2 us before a wrap */
        TIMER_VALUE(MPS2_TIMER0) = value - advance;
    }
#endif
}

uint32_t tr_port_timer_us(void)
{
    return (uint32_t)(ticks() / TICKS_PER_US);
}

void tr_port_delay_us(uint32_t us)
{
    const uint64_t end = ticks() + (uint64_t)us * TICKS_PER_US;
    while (ticks() < end) {
    }
}

/* An event stamped now; ticks() reports a due heartbeat first, keeping lines in order. */
static void event_now(char letter)
{
#if TR_ENERGY_MODE
    const uint32_t mask = mps2_irq_save();
    const uint64_t now = ticks();
    if (letter == 'L') {
        event_hold(letter, now);
    } else {
        event_line(letter, now);
    }
    mps2_irq_restore(mask);
#else
    (void)letter;
#endif
}

void tr_port_timestamp_pin(int level)
{
    event_now(level ? 'H' : 'L');
}

/* -- main loop ------------------------------------------------------------------------------- */
static int input_ready(void)
{
    return (UART_STATE(MPS2_UART0) & UART_STATE_RX_FULL) != 0u;
}

/* Sleep until UART0 has a byte. The check and the WFI run with interrupts masked, so a byte
 * arriving in between still ends the WFI; other wake-ups (the heartbeat) sleep again. */
static void wait_for_input(void)
{
    const uint32_t mask = mps2_irq_save();
    if (!input_ready()) {
        event_now('I');
        while (!input_ready()) {
            __asm__ volatile("wfi");
            __asm__ volatile("cpsie i\n\tisb\n\tcpsid i" : : : "memory"); /* run the handlers */
        }
        time_base_align();
        event_now('B');
    }
    mps2_irq_restore(mask);
}

#ifdef TR_QEMU_FAULT_TEST
/* A call into the system region, which never executes: proves the fault path end to end. */
static void provoke_fault(void)
{
    void (*const invalid)(void) = (void (*)(void))0xFFFFFFF1u;
    invalid();
}
#endif

int main(void)
{
#if TR_ENERGY_MODE
    uart_start(MPS2_UART1, UART_CTRL_TX_EN); /* before the first heartbeat */
#endif
    uart_start(MPS2_UART0, UART_CTRL_TX_EN | UART_CTRL_RX_EN | UART_CTRL_RX_INT_EN);
    mps2_irq_enable(MPS2_IRQ_UART0_RX);
    time_base_start();
    tr_harness_init();
#ifdef TR_QEMU_FAULT_TEST
    provoke_fault();
#endif
    for (;;) {
        wait_for_input();
        tr_harness_receive((char)UART_DATA(MPS2_UART0));
    }
}
