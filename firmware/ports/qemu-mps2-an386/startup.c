/* Start-up for the mps2-an386 port: the vector table, the reset handler and the fault exit.
 *
 * A fault (or any interrupt without a handler) prints one line, e-[fault: <name>], on UART0
 * and requests a system reset (SYSRESETREQ); QEMU runs with -no-reboot, so the reset ends it.
 * QEMU runs without semihosting: a guest must not reach the host's files or commands.
 */
#include <stddef.h>
#include <stdint.h>

#include "mps2_an386.h"

#define AIRCR_SYSRESETREQ ((0x05FAu << 16) | (1u << 2)) /* the register's write key, and the request */
#define CPACR_CP10_CP11_FULL (0xFu << 20)

/* Linker script symbols (link.ld) */
extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[], __stack_top[];

int main(void);
void mps2_reset_handler(void);
void mps2_fault_handler(void);

static void fault_print(const char *text)
{
    for (; *text != '\0'; ++text) {
        while (UART_STATE(MPS2_UART0) & UART_STATE_TX_FULL) {
        }
        UART_DATA(MPS2_UART0) = (uint8_t)*text;
    }
}

/* The exception's name, or "IRQ <n>" for a device interrupt, from the IPSR number. */
static const char *exception_name(uint32_t number, char *buffer)
{
    static const char *const names[16] = {
        NULL, "Reset", "NMI", "HardFault", "MemManage", "BusFault", "UsageFault", NULL,
        NULL, NULL, NULL, "SVCall", "DebugMonitor", NULL, "PendSV", "SysTick",
    };
    char digits[4];
    size_t n = 0, i = 0;
    uint32_t irq;
    if (number < 16) {
        return names[number] != NULL ? names[number] : "reserved exception";
    }
    irq = number - 16;
    do {
        digits[n++] = (char)('0' + irq % 10u);
        irq /= 10u;
    } while (irq != 0u && n < sizeof digits);
    buffer[i++] = 'I';
    buffer[i++] = 'R';
    buffer[i++] = 'Q';
    buffer[i++] = ' ';
    while (n > 0) {
        buffer[i++] = digits[--n];
    }
    buffer[i] = '\0';
    return buffer;
}

/* The last byte has left the UART once TX is no longer full; then reset, which ends QEMU. */
static void system_reset(void)
{
    while (UART_STATE(MPS2_UART0) & UART_STATE_TX_FULL) {
    }
    __asm__ volatile("dsb" : : : "memory");
    SCB_AIRCR = AIRCR_SYSRESETREQ;
    __asm__ volatile("dsb" : : : "memory");
}

void mps2_fault_handler(void)
{
    char buffer[12];
    uint32_t ipsr;
    __asm__ volatile("cpsid i\n\tmrs %0, ipsr" : "=r"(ipsr));
    /* the fault may precede the UART set-up in main */
    UART_BAUDDIV(MPS2_UART0) = MPS2_SYSCLK_HZ / UART_BAUD_RATE;
    UART_CTRL(MPS2_UART0) |= UART_CTRL_TX_EN;
    fault_print("e-[fault: ");
    fault_print(exception_name(ipsr & 0x1FFu, buffer));
    fault_print("]\r\n");
    system_reset();
    for (;;) { /* until the reset takes effect */
        __asm__ volatile("wfi");
    }
}

void mps2_reset_handler(void)
{
    const uint32_t *from = __data_load;
    uint32_t *to;
    /* first, before compiled code may touch a floating-point register */
    SCB_CPACR |= CPACR_CP10_CP11_FULL;
    __asm__ volatile("dsb\n\tisb" : : : "memory");
    for (to = __data_start; to < __data_end;) {
        *to++ = *from++;
    }
    for (to = __bss_start; to < __bss_end;) {
        *to++ = 0u;
    }
    SCB_SHCSR |= SCB_SHCSR_FAULTS_EN;
    main();
    mps2_fault_handler(); /* main never returns */
}

typedef void (*vector)(void);

#define FAULT mps2_fault_handler

/* 16 system exceptions, then the 32 device interrupts (AN385/AN386 numbering): UART0 RX is
 * IRQ 0 and TIMER0 is IRQ 8; every other vector reports itself as a fault. */
__attribute__((section(".vectors"), used)) static const vector vectors[16 + MPS2_IRQ_COUNT] = {
    (vector)__stack_top, mps2_reset_handler, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT,
    FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT,
    mps2_uart0_rx_handler, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT,
    mps2_timer0_handler, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT,
    FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT,
    FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT,
};
