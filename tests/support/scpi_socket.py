"""Raw SCPI over a socket, as the emulators' byte-level tests speak it."""

from __future__ import annotations

import socket
from contextlib import contextmanager


@contextmanager
def scpi_socket(port: int):
    """(ask, conn, reader): ask(text) sends one message and returns the reply line as bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        reader = conn.makefile("rb")

        def ask(text: str) -> bytes:
            conn.sendall(text.encode() + b"\n")
            return reader.readline()

        yield ask, conn, reader
