"""Energy monitor drivers behind one Monitor interface, and emulators of each monitor.

Importable on its own: nothing here imports the runner. See base.py for the interface.
"""

from .base import Capabilities, Chunk, Monitor
from .errors import MonitorError, MonitorFirmwareTooOld, MonitorNotResponding, MonitorRefused

__all__ = ["Capabilities", "Chunk", "Monitor", "MonitorError", "MonitorFirmwareTooOld", "MonitorNotResponding",
           "MonitorRefused"]
