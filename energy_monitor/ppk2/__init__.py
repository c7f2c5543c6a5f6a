"""Nordic Power Profiler Kit II over its USB serial port: own implementation (the common
Python package is GPL and does not check the sample counter)."""

from .driver import Ppk2

__all__ = ["Ppk2"]
