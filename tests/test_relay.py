"""Pass-through boards: the emulated interface board byte for byte, and the host drivers."""

from __future__ import annotations

import pytest

from support.serial_device import ScriptedDevice
from tiny_runner.bench.relays import InterfaceBoard, IoManager
from tiny_runner.errors import ProtocolError
from tiny_runner.protocol.dut import DutClient
from tiny_runner.protocol.link import Link
from tiny_runner.relays.ifboard.emulator import InterfaceBoard as VirtualInterfaceBoard


class Port:
    def __init__(self):
        self.out = bytearray()

    def write(self, data):
        self.out += data

    def take(self):
        data = bytes(self.out)
        self.out.clear()
        return data


def virtual_board(dut_baud=9600):
    host, to_dut = Port(), []
    board = VirtualInterfaceBoard(host, to_dut.append, dut_baud=dut_baud, firmware_baud=9600)
    return board, host, to_dut


def test_virtual_board_commands_exactly():
    board, host, to_dut = virtual_board()
    board.from_host(b"name%")
    assert host.take() == b"tinyML Enhanced Interface Board\r\nm-ready\r\n"
    board.from_host(b"checkbaud%")
    assert host.take() == b"baud is: 9600\nm-ready\r\n"
    board.from_host(b"names%")
    assert host.take() == b""  # a keyword run into other characters: no reply at all
    board.from_host(b"hello%")
    assert host.take() == b"m-ready\r\n"
    board.from_host(b"dut db load 490%")
    assert host.take() == b"m-dut-passthrough(db load 490)\r\nm-ready\r\n"
    assert to_dut == [b"db load 490%"]
    board.from_dut(b"m-[Expecting 490 bytes]\r\nm-re")
    board.from_dut(b"ady\r\n")
    assert host.take() == b"[dut]: m-[Expecting 490 bytes]\r\n[dut]: m-ready\r\n"


def test_setbaud_is_stored_and_a_wrong_rate_garbles_the_wire():
    board, host, to_dut = virtual_board()
    board.from_host(b"setbaud 115200%")
    assert host.take() == b"set baud to: 115200\nm-ready\r\n" and board.resets == 1
    board.from_host(b"dut name%")
    host.take()
    assert to_dut == [b"\xff" * 5]  # the DUT still runs at 9600
    board.from_dut(b"m-ready\r\n")
    assert host.take() == b""


BOARD_READY = b"m-ready\r\n"


def test_host_driver_wraps_dut_commands_and_strips_the_prefix():
    script = [
        (b"name%", b"tinyML Enhanced Interface Board\r\n" + BOARD_READY),
        (b"checkbaud%", b"baud is: 9600\n" + BOARD_READY),
        (b"dut name%", b"m-dut-passthrough(name)\r\n" + BOARD_READY + b"[dut]: m-name-dut-[unspecified]\r\n"
         b"[dut]: m-ready\r\n"),
    ]
    with ScriptedDevice(script) as dev:
        board = InterfaceBoard(Link(dev.url, 115200))
        assert board.identify() == "tinyML Enhanced Interface Board"
        assert board.ensure_dut_baud(9600) is False  # no setbaud: it would rewrite flash and reboot
        assert DutClient(board.dut_link()).name() == "unspecified"
    assert dev.mismatch is None and bytes(dev.received) == b"name%checkbaud%dut name%"


def test_host_driver_sets_the_dut_baud_only_when_it_differs(monkeypatch):
    monkeypatch.setattr("tiny_runner.relays.ifboard.driver._SETBAUD_REBOOT_S", 0.0)
    script = [(b"checkbaud%", b"baud is: 115200\n" + BOARD_READY),
              (b"setbaud 9600%", b"set baud to: 9600\n" + BOARD_READY),
              (b"name%", b"tinyML Enhanced Interface Board\r\n" + BOARD_READY),  # identified again after its reset
              (b"checkbaud%", b"baud is: 9600\n" + BOARD_READY)]
    with ScriptedDevice(script) as dev:
        assert InterfaceBoard(Link(dev.url, 115200)).ensure_dut_baud(9600) is True
    assert dev.mismatch is None


def test_not_an_interface_board():
    with ScriptedDevice([(b"name%", b"m-name-dut-[unspecified]\r\n" + BOARD_READY)]) as dev, \
            pytest.raises(ProtocolError, match="not the interface board"):
        InterfaceBoard(Link(dev.url, 115200)).identify()


def test_io_manager_downloads_fit_its_64_byte_window():
    data = bytes(range(60))
    script = [(b"dut db load 60%", b"m-dut-passthrough(db load 60)\r\n" + BOARD_READY +
               b"[dut]: m-[Expecting 60 bytes]\r\n[dut]: m-ready\r\n")]
    for offset in range(0, 60, 28):
        chunk = data[offset:offset + 28]
        command = b"db " + chunk.hex().encode()
        done = b"[dut]: m-load-done\r\n" if offset + 28 >= 60 else b""
        script.append((b"dut " + command + b"%", b"m-dut-passthrough(" + command + b")\r\n" + BOARD_READY + done +
                       b"[dut]: m-ready\r\n"))
    with ScriptedDevice(script) as dev:
        board = IoManager(Link(dev.url, 115200))
        DutClient(board.dut_link(), db_chunk_bytes=board.db_chunk_bytes).load(data)
    assert dev.mismatch is None
    assert max(len(c) for c in bytes(dev.received).split(b"%")) + 1 <= 64
