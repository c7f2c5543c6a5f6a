"""A host-side port for an emulated board in-process: it keeps what the board writes."""

from __future__ import annotations


class Port:
    def __init__(self):
        self.out = bytearray()

    def write(self, data):
        self.out += data

    def take(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data
