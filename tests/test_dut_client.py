"""The DUT protocol client against a scripted device: exact bytes out, typed replies in."""

from __future__ import annotations

import time

import pytest

from support.serial_device import ScriptedDevice
from tiny_runner.errors import DutErrorReply, DutTimeout, FirmwareMismatch, ProtocolError
from tiny_runner.protocol.dut import MAX_DB_CHUNK, DutClient, parse_results
from tiny_runner.protocol.link import Link
from tiny_runner.protocol.wirelog import FROM_DEVICE, TO_DEVICE, stream

READY = b"m-ready\r\n"


def client(device: ScriptedDevice, tmp_path=None, **kw) -> DutClient:
    from tiny_runner.protocol.wirelog import WireLog

    log = WireLog(tmp_path / "wire.log") if tmp_path else None
    return DutClient(Link(device.url, 115200, log), **kw)


def test_name_profile_and_mode_are_sent_byte_exact(tmp_path):
    script = [
        (b"name%", b"m-name-dut-[unspecified]\r\n" + READY),
        (b"profile%", b"m-profile-[ULPMark for tinyML Firmware V0.0.1]\r\nm-model-[kws01]\r\n" + READY),
        (b"timestamp%", b"m-lap-us-123\r\n" + READY),
    ]
    with ScriptedDevice(script) as dev:
        dut = client(dev, tmp_path)
        assert dut.name() == "unspecified"
        assert dut.profile() == ("ULPMark for tinyML Firmware V0.0.1", "kws01")
        assert dut.firmware_mode() == "performance"
        dut.link.close()
    assert dev.mismatch is None
    assert bytes(dev.received) == b"name%profile%timestamp%"  # no CR/LF ever
    assert stream(tmp_path / "wire.log", TO_DEVICE) == b"name%profile%timestamp%"
    assert stream(tmp_path / "wire.log", FROM_DEVICE).startswith(b"m-name-dut-[unspecified]\r\nm-ready\r\n")


def test_energy_firmware_answers_timestamp_with_nothing():
    with ScriptedDevice([(b"timestamp%", READY)]) as dev:
        assert client(dev).firmware_mode() == "energy"


def test_load_uses_38_byte_chunks_of_lowercase_hex():
    data = bytes(range(100))
    script = [(b"db load 100%", b"m-[Expecting 100 bytes]\r\n" + READY)]
    for offset in range(0, 100, 38):
        chunk = data[offset : offset + 38]
        done = b"m-load-done\r\n" if offset + 38 >= 100 else b""
        script.append((b"db " + chunk.hex().encode() + b"%", done + READY))
    with ScriptedDevice(script) as dev:
        client(dev).load(data)
    assert dev.mismatch is None
    commands = bytes(dev.received).split(b"%")[:-1]
    assert [len(c) for c in commands] == [len("db load 100"), 79, 79, 51]
    assert max(len(c) for c in commands) <= 80
    assert MAX_DB_CHUNK == 38


def test_board_can_lower_the_chunk_size():
    data = b"\xab" * 10
    script = [(b"db load 10%", b"m-[Expecting 10 bytes]\r\n" + READY),
              (b"db abababab%", READY), (b"db abababab%", READY), (b"db abab%", b"m-load-done\r\n" + READY)]
    with ScriptedDevice(script) as dev:
        client(dev, db_chunk_bytes=4).load(data)
    assert dev.mismatch is None


def test_lost_bytes_show_up_as_missing_or_early_load_done():
    script = [(b"db load 4%", b"m-[Expecting 4 bytes]\r\n" + READY), (b"db 01020304%", READY)]
    with ScriptedDevice(script) as dev, pytest.raises(ProtocolError, match="did not report m-load-done"):
        client(dev).load(b"\x01\x02\x03\x04")
    data = bytes(50)
    script = [(b"db load 50%", b"m-[Expecting 50 bytes]\r\n" + READY),
              (b"db " + bytes(38).hex().encode() + b"%", b"m-load-done\r\n" + READY)]
    with ScriptedDevice(script) as dev, pytest.raises(ProtocolError, match="after 38 of 50 bytes"):
        client(dev).load(data)


def test_e_reply_raises_with_the_dut_text_after_m_ready():
    script = [(b"db 0g%", b"e-[Invalid hex digit '0g']\r\n" + READY), (b"name%", b"m-name-dut-[x]\r\n" + READY)]
    with ScriptedDevice(script) as dev:
        dut = client(dev)
        with pytest.raises(DutErrorReply) as info:
            dut.transact("db 0g")
        assert info.value.reply == "e-[Invalid hex digit '0g']"
        assert "e-[Invalid hex digit '0g']" in str(info.value)
        assert dut.name() == "x"  # the stream stayed in step


@pytest.mark.parametrize("line", [b"Supplied buffer size 99999 exceeds maximum of 490\n",
                                  b"Input db has 10 elemented, expected 490\n"])
def test_reference_errors_without_e_prefix_are_errors_too(line):
    with ScriptedDevice([(b"db load 99999%", line + READY)]) as dev, pytest.raises(DutErrorReply):
        client(dev).transact("db load 99999")


def test_infer_parses_the_sequence_and_handles_timer_wrap():
    t0, t1 = (1 << 32) - 1_000_000, 11_500_000  # wrapped once inside the window
    reply = (
        b"m-warmup-start-1\r\nm-warmup-done\r\nm-infer-start-70\r\n"
        + f"m-lap-us-{t0}\r\nm-lap-us-{t1}\r\n".encode()
        + b"m-infer-done\r\nm-results-[0.012,0.988,]\r\n" + READY
    )
    with ScriptedDevice([(b"infer 70 1%", reply)]) as dev:
        result = client(dev).infer(70, 1, timeout_s=5)
    assert result.lap_us == (t0, t1)
    assert result.elapsed_us == 12_500_000
    assert result.results == [0.012, 0.988]


def test_infer_without_timestamps_is_a_firmware_mismatch():
    reply = b"m-warmup-start-0\r\nm-warmup-done\r\nm-infer-start-5\r\nm-infer-done\r\nm-results-[1.0]\r\n" + READY
    with ScriptedDevice([(b"infer 5 0%", reply)]) as dev, pytest.raises(FirmwareMismatch, match="energy-mode"):
        client(dev).infer(5, 0, timeout_s=5)


def test_silent_port_times_out_naming_port_command_and_wait():
    with ScriptedDevice([]) as dev:
        dut = client(dev)
        started = time.monotonic()
        with pytest.raises(DutTimeout) as info:
            dut.transact("name", timeout_s=0.3)
        assert time.monotonic() - started < 2
    message = str(info.value)
    assert dev.url in message and "'name%'" in message and "0.3 s" in message and "received nothing" in message


def test_partial_reply_is_reported_in_the_timeout():
    with ScriptedDevice([(b"name%", b"m-name-dut-[x]\r\nm-re")]) as dev, pytest.raises(DutTimeout) as info:
        client(dev).transact("name", timeout_s=0.3)
    assert "m-name-dut-[x]" in str(info.value) and "m-re" in str(info.value)


BANNER = b"m-timestamp-mode-performance\r\nm-lap-us-5\r\nm-init-done\r\nm-ready\r\n"


def test_banner_and_reboot_detection():
    with ScriptedDevice([(b"name%", b"m-name-dut-[x]\r\n" + READY)]) as dev:
        dut = client(dev)
        dev.send(BANNER)
        got = dut.read_banner(2)
        assert got.mode == "performance" and got.lines[-1] == "m-init-done"
        assert dut.name() == "x"
        dev.send(BANNER)  # once the DUT has answered, an unasked banner means the board reset
        time.sleep(0.1)
        with pytest.raises(ProtocolError, match="rebooted"):
            dut.transact("name", timeout_s=0.5)


def test_a_slow_boot_is_not_a_reboot():
    """A board that resets when the port opens may print its banner while the host asks its name:
    the reference parser ignores that command, so the host sees the banner instead of a reply."""
    with ScriptedDevice([(b"name%", BANNER), (b"name%", b"m-name-dut-[x]\r\n" + READY)]) as dev:
        dut = client(dev)
        with pytest.raises(DutTimeout, match="still booting"):
            dut.name(timeout_s=1)
        assert dut.late_banner.mode == "performance"
        assert dut.name() == "x"


def test_no_banner_returns_none_quickly():
    with ScriptedDevice([]) as dev:
        assert client(dev).read_banner(0.2) is None


@pytest.mark.parametrize("bad", ["", "   ", "name%", "a\r", "x" * 81])
def test_client_refuses_commands_the_parser_would_mangle(bad):
    with ScriptedDevice([]) as dev, pytest.raises(ValueError):
        client(dev).transact(bad)
    assert bytes(dev.received) == b""


def test_results_line_parsing():
    assert parse_results("m-results-[0.000,0.996]") == [0.0, 0.996]
    assert parse_results("m-results-[0.012,0.988,]") == [0.012, 0.988]
    assert parse_results("m-results-[11.648]") == [11.648]
    with pytest.raises(ProtocolError):
        parse_results("m-results-[0.1,abc]")
