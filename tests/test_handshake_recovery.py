"""The handshake on a bench as it really is: a DUT still finishing an `infer` a killed run
started, stray bytes in its command buffer, a banner that was missed and firmware without a
`timestamp` command, and DUT text with control characters in it. Exact bytes on the wire."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import assert_one_line_error
from support.serial_device import ScriptedDevice
from tiny_runner.bench.relays import PassThroughBoard
from tiny_runner.errors import DutErrorReply, DutTimeout
from tiny_runner.printable import printable
from tiny_runner.protocol.dut import DutClient
from tiny_runner.protocol.link import Link
from tiny_runner.protocol.wirelog import FROM_DEVICE, TO_DEVICE, WireLog, stream
from tiny_runner.run.session import busy_dut_budget_s

READY = b"m-ready\r\n"
NAME_REPLY = b"m-name-dut-[unspecified]\r\n" + READY
STALE_TAIL = b"m-lap-us-29221213\r\nm-infer-done\r\nm-results-[0.000,0.996]\r\n" + READY
BOARD = "virtual-l4r5zi"


def client(device: ScriptedDevice, tmp_path: Path) -> DutClient:
    return DutClient(Link(device.url, 115200, WireLog(tmp_path / "wire.log")))


def measure(cli, tmp_path: Path, *args: str):
    result = cli("measure", "--board", BOARD, "-b", "kws", "--out", str(tmp_path), "--json", "--quiet", *args)
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    return result, run_dir


# -- a DUT still inside an inference ----------------------------------------------------------------
def test_the_tail_of_an_earlier_infer_is_skipped_and_the_queued_name_answered(tmp_path):
    with ScriptedDevice([(b"name%", STALE_TAIL + NAME_REPLY)]) as dev:
        dut = client(dev, tmp_path)
        greeting = dut.greet(10.0)
        dut.link.close()
    assert greeting.vendor == "unspecified" and greeting.attempts == 1 and not greeting.flushed
    assert greeting.stale == ["m-lap-us-29221213", "m-infer-done", "m-results-[0.000,0.996]"]
    assert stream(tmp_path / "wire.log", TO_DEVICE) == b"name%"  # asked once: the DUT had it queued


def test_a_silent_dut_is_asked_again_until_the_budget_is_spent(tmp_path):
    with ScriptedDevice([]) as dev:
        dut = client(dev, tmp_path)
        start = time.monotonic()
        with pytest.raises(DutTimeout) as info:
            dut.greet(3.0)
        took = time.monotonic() - start
        dut.link.close()
    assert 3.0 <= took < 4.0
    assert info.value.exit_code == 14
    assert info.value.message.startswith(
        f"no reply from {dev.url} to 'name%' within 3 s (2 attempts, received nothing)")
    assert "an inference an earlier run left running" in info.value.message
    assert stream(tmp_path / "wire.log", TO_DEVICE) == b"name%name%"


def test_the_wait_scales_with_the_longest_plausible_window():
    # 1.25 x the longer of this run's target window and the official runner's 30 s, plus the boot time
    assert busy_dut_budget_s(12.0, 5.0) == 42.5
    assert busy_dut_budget_s(60.0, 2.0) == 77.0


def test_measure_waits_for_a_virtual_dut_that_is_still_inferring(cli, tmp_path, reference):
    # 900 s of DUT time at x100: the DUT is busy for 9 s of wall time after power-on, longer than the
    # banner wait (5 s) plus two name% attempts
    result, run_dir = measure(cli, tmp_path, "--lab-fault", "busy_on_connect=900")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["valid"] and data["dut"]["vendor"] == "unspecified"
    assert data["dut"]["name_attempts"] >= 2 and data["dut"]["skipped_stale_lines"] == 3
    assert data["dut"]["banner"] is None and data["dut"]["firmware_mode_from"] == "timestamp command"
    sent = stream(run_dir / "wire.log", TO_DEVICE)
    assert sent.startswith(b"name%" * data["dut"]["name_attempts"] + b"profile%timestamp%db load 490%")
    log = (run_dir / "log.txt").read_text()
    assert "skipped the end of an earlier command's reply: ['m-lap-us-" in log
    assert "no answer to name% (attempt 1); asking again" in log


# -- stray bytes in the DUT's command buffer ----------------------------------------------------------
def test_stray_bytes_get_one_flush_and_a_retry(tmp_path):
    script = [
        (b"name%", b"e-[Unknown command: xqname]\r\n" + READY),
        (b"%", b"e-[Empty command]\r\n" + READY),
        (b"name%", NAME_REPLY),
    ]
    notes = []
    with ScriptedDevice(script) as dev:
        dut = client(dev, tmp_path)
        greeting = dut.greet(10.0, note=notes.append)
        dut.link.close()
    assert dev.mismatch is None
    assert greeting.vendor == "unspecified" and greeting.flushed and greeting.attempts == 2
    assert stream(tmp_path / "wire.log", TO_DEVICE) == b"name%%name%"
    assert notes[0].startswith("name% answered with 'e-[Unknown command: xqname]': stray bytes")


def test_a_second_error_reply_stops_with_the_dut_text_escaped(tmp_path):
    error = b"e-[\x1b[2J\x1b[31mboom\x00]\r\n"
    with ScriptedDevice([(b"name%", error + READY), (b"%", READY), (b"name%", error + READY)]) as dev:
        dut = client(dev, tmp_path)
        with pytest.raises(DutErrorReply) as info:
            dut.greet(10.0)
        dut.link.close()
    assert info.value.exit_code == 15
    assert info.value.message == "the DUT rejected 'name%': e-[\\x1b[2J\\x1b[31mboom\\x00]"
    assert stream(tmp_path / "wire.log", TO_DEVICE) == b"name%%name%"  # one flush only


def test_measure_clears_stray_bytes_in_the_virtual_dut(cli, tmp_path, reference):
    result, run_dir = measure(cli, tmp_path, "--lab-fault", "stray_rx=#noise")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["valid"] and data["dut"]["flushed_command_buffer"] is True and data["dut"]["name_attempts"] == 2
    assert stream(run_dir / "wire.log", TO_DEVICE).startswith(b"name%%name%profile%")
    assert b"e-[Unknown command: #noisename]\r\nm-ready\r\ne-[Empty command]\r\nm-ready\r\n" in stream(
        run_dir / "wire.log", FROM_DEVICE)


# -- a missed banner and firmware without `timestamp` ---------------------------------------------------
NO_TIMESTAMP = ("--lab-fault", "no_banner=1", "--lab-fault", "error_reply.timestamp=Unknown command: timestamp")


def test_the_first_infer_tells_the_mode_when_timestamp_is_unknown(cli, tmp_path, reference):
    result, run_dir = measure(cli, tmp_path, *NO_TIMESTAMP)
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["valid"] and data["dut"]["banner"] is None
    assert data["dut"]["firmware_mode"] == "performance" and data["dut"]["firmware_mode_from"] == "first infer"
    assert b"timestamp%" in stream(run_dir / "wire.log", TO_DEVICE)
    log = (run_dir / "log.txt").read_text()
    assert "firmware mode from the first infer: performance" in log


def test_an_energy_build_without_timestamp_is_caught_at_the_first_infer(cli, tmp_path, reference):
    result, run_dir = measure(cli, tmp_path, *NO_TIMESTAMP, "--lab-firmware-mode", "energy")
    assert_one_line_error(result, 16, "printed no m-lap-us timestamps: the DUT runs energy-mode firmware")
    data = json.loads((run_dir / "results.json").read_text())
    assert data["dut"]["firmware_mode"] == "energy" and data["dut"]["firmware_mode_from"] == "first infer"


# -- DUT text shown escaped -------------------------------------------------------------------------------
def test_printable_escapes_control_characters_only():
    assert printable("e-[\x1b[2Jx\x00\t\r\n\x7f\x85]") == "e-[\\x1b[2Jx\\x00\\t\\r\\n\\x7f\\x85]"
    assert printable(b"m-name-dut-[caf\xe9]") == "m-name-dut-[café]"
    assert printable("plain text, 12 µs") == "plain text, 12 µs"


def test_an_escape_sequence_in_an_error_reply_never_reaches_the_terminal(cli, tmp_path):
    hostile = b"e-[\x1b]0;owned\x07\x1b[2Jgone\x00]\r\n"
    script = [(b"name%", hostile + READY), (b"%", READY), (b"name%", hostile + READY)]
    with ScriptedDevice(script) as dev:
        result = cli("measure", "--board", BOARD, "-b", "kws", "--dut", dev.url, "--out", str(tmp_path))
    line = assert_one_line_error(result, 15, "the DUT rejected 'name%': e-[\\x1b]0;owned\\x07\\x1b[2Jgone\\x00]")
    assert "\x1b" not in result.stderr and "\x00" not in result.stderr and "\x07" not in line


def test_relay_board_output_is_logged_escaped():
    logged = []
    PassThroughBoard(link=None, log=logged.append).note("\x1b[31mhello\x00")
    assert logged == ["relay: \\x1b[31mhello\\x00"]
