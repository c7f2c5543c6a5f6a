"""Joulescope JS220 / JS110 through pyjoulescope_driver (an optional extra, imported lazily)."""

from .driver import Joulescope

__all__ = ["Joulescope"]
