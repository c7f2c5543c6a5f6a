"""The virtual DUT's firmware emulation, byte for byte against tiny_protocol.md §3."""

from __future__ import annotations

import numpy as np
import pytest

from tiny_runner.benchmarks.reference_port import Quantization
from tiny_runner.lab.firmware import CMD_SIZE, Faults, ReferenceFirmware


class FakeUart:
    def __init__(self, clock=None, baud=115200):
        self.out = bytearray()
        self.clock, self.baud = clock, baud

    def write(self, data: bytes) -> None:
        self.out += data
        if self.clock:
            self.clock.spend(len(data) * 10e6 / self.baud)

    def take(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data


class FakeClock:
    def __init__(self, start=0):
        self.us = float(start)

    def now_us(self):
        return int(self.us)

    def now_exact_us(self):
        return self.us

    def spend(self, us, activity="busy"):
        self.us += us


class EchoModel:
    """Stands in for TFLM: remembers its input, returns a fixed output."""

    input_quant = Quantization(0.5847029, 83)
    output_quant = Quantization(1 / 256, -128)

    def __init__(self, output):
        self.output = np.asarray(output, dtype=np.int8)
        self.inputs = []

    def run(self, data):
        self.inputs.append(np.array(data))
        return self.output


def make(benchmark="kws01", output=None, mode="performance", faults=None, clock=None, uart_clock=False):
    clock = clock or FakeClock()
    uart = FakeUart(clock if uart_clock else None)
    output = output if output is not None else [-128] * 5 + [127] + [-128] * 6
    pins = []
    fw = ReferenceFirmware(benchmark_id=benchmark, model=EchoModel(output), inference_us=1000.0, mode=mode,
                           uart=uart, clock=clock, pin=lambda level, t: pins.append((level, t)), faults=faults)
    fw.boot()
    return fw, uart, clock, pins


def cmd(fw, uart, text: str) -> bytes:
    uart.take()
    fw.receive(text.encode("latin-1") + b"%")
    return uart.take()


def test_boot_banner_performance():
    fw, uart, _, _ = make()
    assert uart.take() == b"m-timestamp-mode-performance\r\nm-lap-us-0\r\nm-init-done\r\nm-ready\r\n"


def test_boot_banner_energy_pulses_the_pin_and_ad_prints_initialized():
    fw, uart, _, pins = make(benchmark="ad01", output=[0] * 640, mode="energy")
    assert uart.take() == b"m-timestamp-mode-energy\r\nInitialized\r\nm-init-done\r\nm-ready\r\n"
    assert [level for level, _ in pins] == [0, 1]


def test_name_profile_unknown_and_empty():
    fw, uart, _, _ = make()
    assert cmd(fw, uart, "name") == b"m-name-dut-[unspecified]\r\nm-ready\r\n"
    assert cmd(fw, uart, "profile") == (
        b"m-profile-[ULPMark for tinyML Firmware V0.0.1]\r\nm-model-[kws01]\r\nm-ready\r\n")
    assert cmd(fw, uart, "bogus arg") == b"e-[Unknown command: bogus]\r\nm-ready\r\n"
    assert cmd(fw, uart, "") == b"e-[Empty command]\r\nm-ready\r\n"
    assert cmd(fw, uart, "  name") == b"m-name-dut-[unspecified]\r\nm-ready\r\n"  # strtok skips spaces
    assert cmd(fw, uart, "name\r") == b"e-[Unknown command: name\r]\r\nm-ready\r\n"  # CR is not a separator


@pytest.mark.parametrize("text, reply", [
    ("db", b"e-[Command 'db' requires a subcommand]\r\n"),
    ("db load", b"e-[Command 'db load' requires the # of bytes]\r\n"),
    ("db load 0", b"e-[Command 'db load' must be >0 bytes]\r\n"),
    ("db load abc", b"e-[Command 'db load' must be >0 bytes]\r\n"),
    ("db load 490", b"m-[Expecting 490 bytes]\r\n"),
    ("db load 491", b"Supplied buffer size 491 exceeds maximum of 490\n"),
    ("db load -5", b"Supplied buffer size -5 exceeds maximum of 490\n"),
    ("db abc", b"e-[Insufficent number of hex digits]\r\n"),
    ("db 0g", b"e-[Invalid hex digit '0g']\r\n"),
    ("infer 0", b"e-[Inference iterations must be >0]\r\n"),
    ("infer x", b"e-[Inference iterations must be >0]\r\n"),
    ("infer 1 -1", b"e-[Inference warmup must be >=0]\r\n"),
])
def test_exact_replies_and_error_strings(text, reply):
    fw, uart, _, _ = make()
    assert cmd(fw, uart, text) == reply + b"m-ready\r\n"


def test_db_load_then_hex_then_load_done_ignores_extra_digits():
    fw, uart, _, _ = make()
    cmd(fw, uart, "db load 3")
    assert cmd(fw, uart, "db 0a0B") == b"m-ready\r\n"
    assert cmd(fw, uart, "db ffeedd") == b"m-load-done\r\nm-ready\r\n"
    assert cmd(fw, uart, "db print") == b"m-buffer-0a-0b-ff\r\n\r\nm-ready\r\n"  # the extra blank line


def test_db_print_eight_per_line():
    fw, uart, _, _ = make()
    cmd(fw, uart, "db load 16")
    cmd(fw, uart, "db " + bytes(range(16)).hex())
    assert cmd(fw, uart, "db print") == (
        b"m-buffer-00-01-02-03-04-05-06-07\r\nm-buffer-08-09-0a-0b-0c-0d-0e-0f\r\nm-ready\r\n")


def test_bad_hex_keeps_the_bytes_before_it():
    fw, uart, _, _ = make()
    cmd(fw, uart, "db load 4")
    assert cmd(fw, uart, "db 0102zz03") == b"e-[Invalid hex digit 'zz']\r\nm-ready\r\n"
    assert cmd(fw, uart, "db 0304") == b"m-load-done\r\nm-ready\r\n"
    assert cmd(fw, uart, "db print") == b"m-buffer-01-02-03-04\r\n\r\nm-ready\r\n"


def test_only_the_first_80_characters_of_a_command_count():
    fw, uart, _, _ = make()
    cmd(fw, uart, "db load 40")
    hex80 = "db " + "11" * 38 + "2"  # exactly 80 characters
    assert len(hex80) == CMD_SIZE
    assert cmd(fw, uart, hex80 + "2" * 30) == b"e-[Insufficent number of hex digits]\r\nm-ready\r\n"


def test_commands_completed_during_boot_are_ignored():
    clock = FakeClock()
    uart = FakeUart()
    fw = ReferenceFirmware(benchmark_id="kws01", model=EchoModel([0] * 12), inference_us=1, mode="performance",
                           uart=uart, clock=clock)
    fw.receive(b"name%")  # before boot: parser disabled
    assert uart.take() == b""
    fw.boot()
    uart.take()
    assert cmd(fw, uart, "name").startswith(b"m-name-dut")


def test_infer_sequence_timestamps_and_kws_format():
    clock = FakeClock(start=1000)
    fw, uart, clock, _ = make(clock=clock, uart_clock=True)
    cmd(fw, uart, "db load 490")
    for i in range(0, 490, 38):
        cmd(fw, uart, "db " + (b"\x05" * min(38, 490 - i)).hex())
    before = clock.now_us()
    out = cmd(fw, uart, "infer 20 3").decode().split("\r\n")
    assert out[:3] == ["m-warmup-start-3", "m-warmup-done", "m-infer-start-20"]
    t0, t1 = int(out[3][len("m-lap-us-"):]), int(out[4][len("m-lap-us-"):])
    lap_line_us = len(out[3] + "\r\n") * 10e6 / 115200
    assert t1 - t0 == int(20 * 1000.0 + lap_line_us) or t1 - t0 == int(20 * 1000.0 + lap_line_us) + 1
    assert t0 > before + 3 * 1000  # the warm-up ran before the window
    assert out[5:] == ["m-infer-done",
                       "m-results-[0.000,0.000,0.000,0.000,0.000,0.996,0.000,0.000,0.000,0.000,0.000,0.000]",
                       "m-ready", ""]
    assert np.array_equal(fw.model.inputs[-1], np.full(490, 5, np.int8))


def test_infer_defaults_are_one_iteration_ten_warmups():
    fw, uart, _, _ = make()
    out = cmd(fw, uart, "infer").decode()
    assert out.startswith("Input db has 0 elemented, expected 490\nm-warmup-start-10\r\nm-warmup-done\r\n"
                          "m-infer-start-1\r\n")


def test_wrong_input_size_prints_the_reference_message_and_still_infers():
    fw, uart, _, _ = make()
    cmd(fw, uart, "db load 2")
    cmd(fw, uart, "db 0102")
    out = cmd(fw, uart, "infer 1 0").decode()
    assert out.startswith("Input db has 2 elemented, expected 490\nm-warmup-start-0")
    assert "m-results-[" in out


def test_vww_trailing_comma_and_ic_format():
    fw, uart, _, _ = make(benchmark="vww01", output=[-125, 124])
    assert cmd(fw, uart, "results") == b"m-results-[0.500,0.500,]\r\nm-ready\r\n"  # before any inference
    cmd(fw, uart, "infer 1 0")
    assert cmd(fw, uart, "results") == b"m-results-[0.012,0.984,]\r\nm-ready\r\n"
    fw, uart, _, _ = make(benchmark="ic01", output=[-128] * 9 + [127])
    cmd(fw, uart, "infer 1 0")
    assert cmd(fw, uart, "results") == b"m-results-[" + b"0.000," * 9 + b"0.996]\r\nm-ready\r\n"


def test_vww_and_ic_inputs_are_shifted_by_128():
    fw, uart, _, _ = make(benchmark="ic01", output=[0] * 10)
    cmd(fw, uart, "db load 3072")
    data = bytes([0, 127, 128, 255] * 768)
    for i in range(0, 3072, 38):
        cmd(fw, uart, "db " + data[i:i + 38].hex())
    cmd(fw, uart, "infer 1 0")
    assert list(fw.model.inputs[-1][:4]) == [-128, -1, 0, 127]


def test_faults_error_reply_silence_and_dropped_bytes():
    fw, uart, _, _ = make(faults=Faults(error_reply={"infer": "Injected fault"}))
    assert cmd(fw, uart, "infer 1 0") == b"e-[Injected fault]\r\nm-ready\r\n"
    fw, uart, _, _ = make(faults=Faults(silent_after=1))
    assert cmd(fw, uart, "name").startswith(b"m-name")
    assert cmd(fw, uart, "name") == b""
    fw, uart, _, _ = make(faults=Faults(drop_rx_every=3))  # bytes 3, 6, 9 of "db load 4%" are lost
    assert cmd(fw, uart, "db load 4") == b"e-[Unknown command: dblod]\r\nm-ready\r\n"
