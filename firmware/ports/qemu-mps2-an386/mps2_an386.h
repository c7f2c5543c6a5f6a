/* The parts of QEMU's mps2-an386 machine (Arm AN386: Cortex-M4 on an MPS2 board) this port
 * uses: two CMSDK APB UARTs, a CMSDK APB timer and the core's NVIC/SCB registers. AN386
 * shares AN385's memory map and interrupt numbers; the peripherals run on the 25 MHz SYSCLK.
 */
#ifndef MPS2_AN386_H
#define MPS2_AN386_H

#include <stdint.h>

#define MPS2_SYSCLK_HZ 25000000u

#define MPS2_REG(address) (*(volatile uint32_t *)(address))

/* CMSDK APB UART */
#define MPS2_UART0 0x40004000u /* the protocol */
#define MPS2_UART1 0x40005000u /* energy builds: the event stream */
#define UART_DATA(base) MPS2_REG((base) + 0x00u)
#define UART_STATE(base) MPS2_REG((base) + 0x04u)
#define UART_CTRL(base) MPS2_REG((base) + 0x08u)
#define UART_INTCLEAR(base) MPS2_REG((base) + 0x0Cu)
#define UART_BAUDDIV(base) MPS2_REG((base) + 0x10u)
#define UART_BAUD_RATE 115200u /* QEMU does not pace output by it, but checks the divider */
#define UART_STATE_TX_FULL 0x1u
#define UART_STATE_RX_FULL 0x2u
#define UART_CTRL_TX_EN 0x1u
#define UART_CTRL_RX_EN 0x2u
#define UART_CTRL_RX_INT_EN 0x8u
#define UART_INT_RX 0x2u

/* CMSDK APB timer: VALUE counts down from RELOAD; the interrupt flags the 1 -> 0 step and the
 * counter holds 0 for one tick before it reloads, so a period is RELOAD + 1 ticks. */
#define MPS2_TIMER0 0x40000000u /* the time base (and, in energy builds, the heartbeat) */
#define TIMER_CTRL(base) MPS2_REG((base) + 0x00u)
#define TIMER_VALUE(base) MPS2_REG((base) + 0x04u)
#define TIMER_RELOAD(base) MPS2_REG((base) + 0x08u)
#define TIMER_INTSTATUS(base) MPS2_REG((base) + 0x0Cu)
#define TIMER_CTRL_EN 0x1u
#define TIMER_CTRL_IRQ_EN 0x8u

/* Device interrupt numbers (NVIC inputs) */
#define MPS2_IRQ_UART0_RX 0
#define MPS2_IRQ_TIMER0 8 /* TIMER1 (0x40001000) is IRQ 9, unused here */
#define MPS2_IRQ_COUNT 32

/* System control block and NVIC */
#define SCB_CPACR MPS2_REG(0xE000ED88u)
#define SCB_AIRCR MPS2_REG(0xE000ED0Cu)
#define SCB_SHCSR MPS2_REG(0xE000ED24u)
#define SCB_SHCSR_FAULTS_EN 0x00070000u /* MemManage, BusFault and UsageFault get their own vectors */
#define NVIC_ISER0 MPS2_REG(0xE000E100u)

static inline void mps2_irq_enable(int irq)
{
    NVIC_ISER0 = 1u << irq;
}

/* PRIMASK: mask interrupts and return the previous mask, so sections nest */
static inline uint32_t mps2_irq_save(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
    return primask;
}

static inline void mps2_irq_restore(uint32_t primask)
{
    __asm__ volatile("msr primask, %0" : : "r"(primask) : "memory");
}

/* Interrupt handlers port.c provides for the vector table in startup.c */
void mps2_uart0_rx_handler(void);
void mps2_timer0_handler(void);

#endif
