"""The interface board's declaration (see tiny_runner.relays.plugin)."""

from __future__ import annotations

from ..plugin import RelayPlugin
from .driver import NAME, USB_IDS


def _driver(link, log):
    from .driver import InterfaceBoard

    return InterfaceBoard(link, log)


def _emulator(host_port, to_dut, stored_dut_baud: int, firmware_baud: int, *, streaming=None, faults=None):
    """`streaming` (emulator.StreamWiring) and `faults` (emulator.BoardFaults): a sww01 bench's."""
    from .emulator import InterfaceBoard

    return InterfaceBoard(host_port, to_dut, dut_baud=stored_dut_baud, firmware_baud=firmware_baud,
                          streaming=streaming, faults=faults)


PLUGIN = RelayPlugin(
    name="ifboard",
    description="MLCommons interface board",
    usb_ids=USB_IDS,
    driver=_driver,
    emulator=_emulator,
    name_reply=NAME,
    plays_streams=True,  # it shares its USB ID with every STLINK-V3 board: detection asks
)
