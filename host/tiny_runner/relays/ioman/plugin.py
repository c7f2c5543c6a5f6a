"""The IO manager's declaration (see tiny_runner.relays.plugin)."""

from __future__ import annotations

from ..plugin import RelayPlugin
from .driver import DUT_BAUD, USB_IDS


def _driver(link, log):
    from .driver import IoManager

    return IoManager(link, log)


def _emulator(host_port, to_dut, stored_dut_baud: int, firmware_baud: int):
    from .emulator import IoManager

    return IoManager(host_port, to_dut, firmware_baud=firmware_baud)  # nothing stored: 9600 is built in


PLUGIN = RelayPlugin(
    name="ioman",
    description="EEMBC IO manager",
    usb_ids=USB_IDS,  # an Arduino's: known by its USB ID alone, never asked
    driver=_driver,
    emulator=_emulator,
    dut_bauds=(DUT_BAUD,),
)
