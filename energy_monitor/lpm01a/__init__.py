"""ST X-NUCLEO-LPM01A (PowerShield) over its USB serial shell."""

from .driver import Lpm01a

__all__ = ["Lpm01a"]
