/* The POSIX port: the harness as a native process behind a pseudo-terminal.
 *
 * At start it creates a pty, prints "ready <slave path>" on stdout and boots (the banner waits
 * in the pty). The host opens the slave like any serial port. In an energy build every change
 * of the timestamp pin is printed on stdout as "pin <level> <microseconds>". The process ends
 * when its stdin closes (the parent is gone) or on SIGTERM/SIGINT.
 */
#define _DEFAULT_SOURCE /* cfmakeraw */
#define _XOPEN_SOURCE 600 /* posix_openpt, grantpt, unlockpt, ptsname */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "tr_harness.h"
#include "tr_port.h"

static int master = -1;

void tr_port_serial_write(const char *data, size_t length)
{
    while (length > 0) {
        const ssize_t n = write(master, data, length);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                struct pollfd out = {0};
                out.fd = master;
                out.events = POLLOUT;
                poll(&out, 1, 100);
                continue;
            }
            return; /* the terminal is gone; a UART would keep sending into the void */
        }
        data += n;
        length -= (size_t)n;
    }
}

static uint64_t monotonic_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
}

uint32_t tr_port_timer_us(void)
{
    return (uint32_t)monotonic_us();
}

void tr_port_timestamp_pin(int level)
{
    printf("pin %d %llu\n", level, (unsigned long long)monotonic_us());
    fflush(stdout);
}

void tr_port_delay_us(uint32_t us)
{
    const uint64_t end = monotonic_us() + us;
    while (monotonic_us() < end) {
    }
}

static int open_terminal(void)
{
    struct termios raw;
    int slave;
    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
        perror("tr-dut: cannot create a pseudo-terminal");
        return -1;
    }
    /* Keep the slave open: its settings persist and the host may open and close it freely. */
    slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    if (slave < 0 || tcgetattr(slave, &raw) != 0) {
        perror("tr-dut: cannot open the pseudo-terminal");
        return -1;
    }
    cfmakeraw(&raw);
    tcsetattr(slave, TCSANOW, &raw);
    return 0;
}

int main(void)
{
    struct pollfd watch[2];
    signal(SIGPIPE, SIG_IGN);
    if (open_terminal() != 0) {
        return 1;
    }
    printf("ready %s\n", ptsname(master));
    fflush(stdout);
    tr_harness_init();
    watch[0].fd = master;
    watch[0].events = POLLIN;
    watch[1].fd = STDIN_FILENO;
    watch[1].events = POLLIN;
    for (;;) {
        char buffer[256];
        ssize_t n, i;
        if (poll(watch, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return 1;
        }
        if (watch[1].revents) {
            if (read(STDIN_FILENO, buffer, sizeof buffer) <= 0) {
                return 0; /* the parent went away */
            }
        }
        if (watch[0].revents & POLLIN) {
            n = read(master, buffer, sizeof buffer);
            for (i = 0; i < n; ++i) {
                tr_harness_receive(buffer[i]);
            }
        }
    }
}
