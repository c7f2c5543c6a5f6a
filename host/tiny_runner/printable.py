"""Device text made safe to show: what a DUT, relay or monitor sends is untrusted bytes, and
an escape sequence or a NUL in an error message would reach the user's terminal as is."""

from __future__ import annotations

_NAMED = {"\t": "\\t", "\r": "\\r", "\n": "\\n"}


def printable(text: str | bytes) -> str:
    """`text` with every control or otherwise unprintable character escaped (ESC -> `\\x1b`);
    bytes are read as latin-1, as the links decode the wire."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _NAMED.get(c) or _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
