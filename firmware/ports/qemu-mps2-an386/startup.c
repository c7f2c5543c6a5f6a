/* Start-up for the mps2-an386 port: the vector table, the reset handler and the fault exit.
 *
 * A fault (or any interrupt without a handler) prints one line, e-[fault: <name>], on UART0
 * and ends QEMU through Arm semihosting SYS_EXIT with a run-time error, so QEMU exits non-zero
 * (QEMU must run with -semihosting-config enable=on,target=native).
 */
#include <stddef.h>
#include <stdint.h>

#include "mps2_an386.h"

#define SEMIHOSTING_SYS_EXIT 0x18u
#define ADP_STOPPED_RUN_TIME_ERROR 0x20023u
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

static void semihosting_exit(uint32_t reason)
{
    register uint32_t operation __asm__("r0") = SEMIHOSTING_SYS_EXIT;
    register uint32_t argument __asm__("r1") = reason;
    __asm__ volatile("bkpt 0xab" : "+r"(operation) : "r"(argument) : "memory");
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
    semihosting_exit(ADP_STOPPED_RUN_TIME_ERROR);
    for (;;) { /* not reached: without semihosting the BKPT faults again, a lockup QEMU aborts on */
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
