"""SCPI source-measure units through pyvisa: the Keysight N6705 with an N678xA SMU module."""

from .driver import KeysightSmu

__all__ = ["KeysightSmu"]
