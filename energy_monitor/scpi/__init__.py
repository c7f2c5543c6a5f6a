"""SCPI source-measure units through pyvisa: the Keysight N6705 with an N678xA SMU module and the
Keithley 2450 / 2460 / 2461 SourceMeters, told apart by `*IDN?`."""

from .smu import ScpiSmu

__all__ = ["ScpiSmu"]
