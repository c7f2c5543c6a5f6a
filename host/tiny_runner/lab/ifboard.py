"""The emulated interface board now lives beside its driver (tiny_runner.relays.ifboard); this
name stays for the code that imports it from the lab."""

from ..relays.ifboard.emulator import BOARD_NAME, KEYWORDS, InterfaceBoard

__all__ = ["BOARD_NAME", "KEYWORDS", "InterfaceBoard"]
