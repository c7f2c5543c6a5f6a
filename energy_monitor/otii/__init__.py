"""Qoitech Otii Arc / Ace through the Otii 3 application's or otii_server's TCP server."""

from .driver import Otii

__all__ = ["Otii"]
