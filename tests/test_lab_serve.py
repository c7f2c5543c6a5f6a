"""`tiny-runner lab serve` for an outside host: started without a terminal on stdin, it prints
the pty, and a plain pyserial host gets the exact replies: from the C firmware (native process
and QEMU) and from the emulated reference firmware, which runs in real time by default."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest
import serial

from conftest import assert_one_line_error, require_tools

READY = b"m-ready\r\n"
# The reference firmware's `help` reply, byte for byte (its spelling, and W=0 where the code's
# default warm-up is 10).
REFERENCE_HELP = (
    b"ULPMark for tinyML Firmware V0.0.1\r\n"
    b"\r\n"
    b"help         : Print this information\r\n"
    b"name         : Print the name of the device\r\n"
    b"timestsamp   : Generate a timetsamp\r\n"
    b"db SUBCMD    : Manipulate a generic byte buffer\r\n"
    b"  load N     : Allocate N bytes and set load counter\r\n"
    b"  db HH[HH]* : Load 8-bit hex byte(s) until N bytes\r\n"
    b"  print [N=16] [offset=0]\r\n"
    b"             : Print N bytes at offset as hex\r\n"
    b"infer N [W=0]: Load input, execute N inferences after W warmup loops\r\n"
    b"results      : Return the result fp32 vector\r\n"
    + READY
)
PROFILE = b"m-profile-[ULPMark for tinyML Firmware V0.0.1]\r\nm-model-[kws01]\r\n" + READY
STOPPED = (130, 143)  # how the CLI ends on a signal (interrupted / terminated)
BANNER = re.compile(rb"^(m-timestamp-mode-performance\r\nm-lap-us-\d+\r\nm-init-done\r\nm-ready\r\n)?")


class Served:
    """`lab serve` in a subprocess with stdin from /dev/null, as a service manager starts it."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "tiny_runner", "lab", "serve", *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.title = self.proc.stdout.readline().decode()
        ready = self.proc.stdout.readline().decode()
        assert ready.startswith("ready "), (self.title, ready, self.proc.stderr.read().decode())
        self.url = ready.split()[1]

    def ask(self, port: serial.Serial, command: bytes, until: bytes = READY, timeout_s: float = 10.0) -> bytes:
        """Send one command, return everything received up to `until` (the reply's m-ready)."""
        port.write(command)
        got, deadline = b"", time.monotonic() + timeout_s
        while not got.endswith(until) and time.monotonic() < deadline:
            got += port.read(port.in_waiting or 1)
        return got

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as a service manager stops it: it ends at once, with one line and no traceback."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        stderr = self.proc.stderr.read().decode()
        assert "Traceback" not in stderr, stderr
        return code, stderr


@pytest.fixture
def served(request):
    started = []

    def start(*args: str) -> Served:
        started.append(Served(*args))
        return started[-1]

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


@pytest.mark.parametrize("board, tools", [("native-posix", ("cc", "make")),
                                          ("qemu-m4", ("arm-none-eabi-gcc", "qemu-system-arm"))])
def test_the_c_firmware_is_served_on_a_pty(served, reference, board, tools):
    require_tools(*tools)
    server = served("--board", board, "-b", "kws")
    assert server.title.startswith(f"virtual {board} with kws01 (performance firmware, C image ")
    with serial.Serial(server.url, 115200, timeout=0.1) as port:
        name = b"m-name-dut-[unspecified]\r\n" + READY
        first = server.ask(port, b"name%", until=name)
        banner = BANNER.match(first).group(0)  # QEMU holds its banner until the pty is opened
        assert first[len(banner):] == name
        assert server.ask(port, b"profile%") == PROFILE
        assert server.ask(port, b"help%") == REFERENCE_HELP
    code, _ = server.stop()
    assert code in STOPPED


def test_the_emulated_firmware_serves_in_real_time_with_the_reference_help(served, reference):
    server = served("--board", "virtual-l4r5zi", "-b", "kws")
    assert server.title == "virtual virtual-l4r5zi with kws01 (performance firmware, real time); Ctrl-C stops it\n"
    with serial.Serial(server.url, 115200, timeout=0.1) as port:
        time.sleep(0.5)  # the banner (20 ms of boot) may still be going out: let it, and drop it
        port.reset_input_buffer()
        assert server.ask(port, b"name%") == b"m-name-dut-[unspecified]\r\n" + READY
        assert server.ask(port, b"profile%") == PROFILE
        assert server.ask(port, b"help%") == REFERENCE_HELP
        t0 = int(re.match(rb"m-lap-us-(\d+)", server.ask(port, b"timestamp%")).group(1))
        time.sleep(1.0)
        t1 = int(re.match(rb"m-lap-us-(\d+)", server.ask(port, b"timestamp%")).group(1))
    assert 0.9e6 < t1 - t0 < 1.5e6  # a real-time second on the DUT's timer, not x100
    code, stderr = server.stop()
    assert code in STOPPED and "faster than real time" not in stderr


def test_a_faster_clock_is_announced(served, reference):
    server = served("--board", "virtual-l4r5zi", "-b", "kws", "--lab-speed", "100")
    assert server.title == ("virtual virtual-l4r5zi with kws01 (performance firmware, x100 faster than real time); "
                            "Ctrl-C stops it\n")
    code, stderr = server.stop()
    assert "tiny-runner: note: the virtual clock runs at x100 faster than real time" in stderr
    assert "official MLCommons runner" in stderr


def test_c_firmware_options_that_do_not_apply_are_refused(cli, reference):
    for option in (["--tcp", "0"], ["--speed", "100"], ["--energy-bench"]):
        assert_one_line_error(cli("lab", "serve", "--board", "native-posix", "-b", "kws", *option), 2,
                              f"{option[0]} is for the emulated reference firmware",
                              "native-posix serves its C firmware on a pty")
