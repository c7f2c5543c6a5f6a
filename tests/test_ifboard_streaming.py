"""The interface board's streaming commands for sww01, byte for byte as the official interface
firmware prints them (InterfaceMenu.cpp), and strict about anything else."""

from __future__ import annotations

import pytest

from support.serial_device import ScriptedDevice
from tiny_runner.errors import DutTimeout, ProtocolError
from tiny_runner.protocol.link import Link
from tiny_runner.relays.ifboard.driver import InterfaceBoard
from tiny_runner.relays.ifboard.streaming import parse_detections, parse_dutycycle

READY = b"m-ready\r\n"


def board_with(script):
    device = ScriptedDevice(script).start()
    return device, InterfaceBoard(Link(device.url, 115200))


def test_ls_play_and_the_detections_and_duty_cycle_come_back_as_numbers():
    starts = [100 + 3200 * i for i in range(10)]
    stops = [s + 1160 for s in starts]

    def rows(values):  # eight `N, ` items to a line, as the firmware prints them
        return b"".join(b"".join(f"{v}, ".encode() for v in values[i:i + 8]) + (b"\r\n" if i + 8 <= len(values)
                        else b"") for i in range(0, len(values), 8))

    script = [
        (b"ls%", b"long_wav.wav\r\nshort_wav_easy10s.wav\r\nREADME.txt\r\n" + READY),
        (b"record_detections%", b"Now recording detections\r\n" + READY),
        (b"play short_wav_easy10s.wav%", b"Attempting to play short_wav_easy10s.wav\nsucceeded.\n" + READY),
        (b"print_detections%", b"Detection Timestamps (ms)\r\n112,\r\n1520,\r\n5136,\r\n" + READY),
        (b"print_dutycycle%", b"Duty cycle start times (s)\r\n" + rows(starts) + b"\r\nDuty cycle stop times (s)\r\n"
         + rows(stops) + READY),  # no line end before m-ready: it ends the last line of numbers
    ]
    device, board = board_with(script)
    try:
        assert board.list_files() == ["long_wav.wav", "short_wav_easy10s.wav", "README.txt"]
        board.record_detections()
        board.play("short_wav_easy10s.wav", timeout_s=20)
        assert board.print_detections() == [112, 1520, 5136]
        assert board.print_dutycycle() == (starts, stops)
    finally:
        device.close()
    assert device.mismatch is None


def test_missing_wav_files_are_named():
    device, board = board_with([(b"ls%", b"short_wav_easy10s.wav\r\n" + READY)])
    try:
        assert board.missing_files(["short_wav_easy10s.wav", "long_wav.wav"]) == ["long_wav.wav"]
    finally:
        device.close()


def test_a_file_the_board_cannot_play_stops_with_its_words():
    device, board = board_with([(b"play gone.wav%", b"Attempting to play gone.wav\nError playing file. Check that the "
                                 b"file exists and is a 2-channel wav file.\n" + READY)])
    try:
        with pytest.raises(ProtocolError, match="could not play gone.wav: Attempting to play gone.wav Error playing"):
            board.play("gone.wav", timeout_s=5)
    finally:
        device.close()


def test_play_waits_for_the_file_and_no_longer():
    device, board = board_with([(b"play a.wav%", b"Attempting to play a.wav\n")])  # never finishes
    try:
        with pytest.raises(DutTimeout, match="did not answer 'play a.wav%' within 0.3 s"):
            board.play("a.wav", timeout_s=0.3)
    finally:
        device.close()


@pytest.mark.parametrize("name", ["../x.wav", "a b.wav", "a.wav%", "dut name", ""])
def test_play_takes_only_a_plain_file_name(name):
    with pytest.raises(ProtocolError, match="not a plain file name"):
        InterfaceBoard.__new__(InterfaceBoard).play(name, timeout_s=1)


@pytest.mark.parametrize("lines, message", [
    (["Detections (ms)", "1,"], "expected 'Detection Timestamps \\(ms\\)' first"),
    (["Detection Timestamps (ms)", "1.5,"], "'1.5,' is not a detection time"),
    (["Detection Timestamps (ms)", "-3,"], "'-3,' is not a detection time"),
    (["Detection Timestamps (ms)", "100,", "105,"], "105 ms follows 100 ms by less than 10 ms"),
])
def test_detection_lists_the_board_would_not_print_are_refused(lines, message):
    with pytest.raises(ProtocolError, match=message):
        parse_detections(lines)


@pytest.mark.parametrize("lines, message", [
    (["Duty cycle stop times (s)", "1, "], "expected 'Duty cycle start times \\(s\\)' first"),
    (["Duty cycle start times (s)", "1, 2, "], "expected one 'Duty cycle stop times \\(s\\)' line"),
    (["Duty cycle start times (s)", "1, x, ", "Duty cycle stop times (s)", "2, "], "'1, x, ' is not a list of start"),
    (["Duty cycle start times (s)", ", ".join(["1"] * 101) + ", ", "Duty cycle stop times (s)", "2, "],
     "101 start times, more than the board keeps \\(100\\)"),
])
def test_duty_cycle_replies_the_board_would_not_print_are_refused(lines, message):
    with pytest.raises(ProtocolError, match=message):
        parse_dutycycle(lines)
