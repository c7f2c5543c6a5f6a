"""ST STLINK-V3PWR: the power monitor of ST's debug probe, over its power virtual COM port."""

from .driver import StlinkV3pwr

__all__ = ["StlinkV3pwr"]
