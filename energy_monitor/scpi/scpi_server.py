"""What every emulated SCPI instrument here shares: a raw-socket server on 127.0.0.1 (which
pyvisa-py opens as `TCPIP::127.0.0.1::PORT::SOCKET`) that follows SCPI's message rules.

Newline-terminated messages, `;`-separated commands (a leading `:` is taken as the root;
relative headers after the first are not followed), short or long keywords, channel lists
`(@1,2)`, one response message holding the answers of a message's queries, and an error queue
that an undefined header (-113), a missing parameter (-109), a bad number (-104), an illegal
value (-224) or data out of range (-222) fills. `*IDN?`, `*RST`, `*CLS`, `*OPC?` and the error
query are common; each instrument adds its handlers to its own table.

Common fault switches (fields every instrument's Faults has): `idn`, `refuse` (a command header
answered with -222), `close_after` (the connection dropped after N data fetches).
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from ..line_server import LineServer

LONG_FORMS = {"SENSE": "SENS", "FUNCTION": "FUNC", "CURRENT": "CURR", "VOLTAGE": "VOLT", "PERIOD": "PER",
              "TRIGGER": "TRIG", "SOURCE": "SOUR", "INITIATE": "INIT", "FETCH": "FETC", "ABORT": "ABOR",
              "OUTPUT": "OUTP", "SYSTEM": "SYST", "CHANNEL": "CHAN", "MODEL": "MOD", "SERIAL": "SER", "ERROR": "ERR",
              "FORMAT": "FORM", "BORDER": "BORD", "LIMIT": "LIM", "EMULATION": "EMUL", "MINMAX": "MINM",
              "RANGE": "RANG", "MEASURE": "MEAS", "STATE": "STAT", "TRACE": "TRAC", "ACTUAL": "ACT",
              "POINTS": "POIN", "CLEAR": "CLE", "DIGITIZE": "DIG", "AZERO": "AZER", "NPLCYCLES": "NPLC",
              "ILIMIT": "ILIM", "COUNT": "COUN", "START": "STAR",
              "SRATE": "SRAT", "APERTURE": "APER", "LANGUAGE": "LANG"}
_OPTIONAL = {"LEV", "LEVEL", "IMM", "IMMEDIATE", "AMPL", "AMPLITUDE", "SCAL", "SCALAR", "DC"}
_CHANNELS = re.compile(r"\(@([0-9,:\s]+)\)")


@dataclass
class CommonFaults:
    """The switches every emulated SCPI instrument has (each adds its own)."""

    idn: str = ""  # its *IDN? answer; empty: the model's own
    refuse: str = ""  # a command header (e.g. VOLT) answered with -222 "Data out of range"
    close_after: int = 0  # data fetches after which the connection drops (the instrument gone)
    noise_rel: float = 0.001

    @classmethod
    def from_dict(cls, data: dict):
        return cls(**data)


class ScpiError(Exception):
    """An error the instrument queues (its text as SYST:ERR? gives it)."""


DROP = object()  # a handler's answer that drops the connection (the close_after fault)


class ScpiServer(LineServer):
    """Subclasses set `handlers` (see `handler`), `no_error` (the error query's empty answer),
    `strip_source` (whether `[SOURce:]` is optional, as on the N6705) and `faults`."""

    name = "scpi"
    handlers: dict = {}
    no_error = '+0,"No error"'
    strip_source = False

    def __init__(self, faults):
        super().__init__()
        self.faults = faults
        self.address = f"TCPIP::127.0.0.1::{self.port}::SOCKET"
        self.received: list[str] = []  # every command, as sent
        self.errors: list[str] = []
        self._fetches = 0

    def reset(self) -> None:
        """*RST: the instrument's own settings back to their defaults (the error queue stays)."""

    def fetched(self) -> bool:
        """Count a data fetch; False once the close_after fault drops the connection."""
        self._fetches += 1
        return not (self.faults.close_after and self._fetches > self.faults.close_after)

    def _line(self, conn: socket.socket, message: bytes) -> bool:
        replies = []
        for command in message.decode("ascii", "replace").strip().split(";"):
            if command.strip():
                self.received.append(command.strip())
                reply = self._command(command.strip().lstrip(":"))
                if reply is DROP:
                    return False
                if reply is not None:
                    replies.append(reply)
        if replies:
            conn.sendall(b";".join(r if isinstance(r, bytes) else r.encode() for r in replies) + b"\n")
        return True

    def _command(self, text: str):
        header, _, argument = text.partition(" ")
        query = header.endswith("?")
        key = normalise(header.rstrip("?"), self.strip_source)
        if self.faults.refuse and key == normalise(self.faults.refuse, self.strip_source) and not query:
            self.errors.append('-222,"Data out of range"')
            return None
        handler = self.handlers.get((key, query)) or COMMON.get((key, query))
        if handler is None:
            self.errors.append(f'-113,"Undefined header;{header}"')
            return None
        values, channels = arguments(argument)
        try:
            return handler(self, values, channels)
        except ScpiError as exc:
            self.errors.append(str(exc))
            return None


def handler(table: dict, key: str, query: bool = False):
    """Register a handler(server, values, channels) for a normalised header."""
    def register(function):
        table[(key, query)] = function
        return function
    return register


COMMON: dict = {}


@handler(COMMON, "*IDN", True)
def _idn(self, values, channels):
    return self.faults.idn


@handler(COMMON, "*RST")
def _rst(self, values, channels):
    self.reset()


@handler(COMMON, "*CLS")
def _cls(self, values, channels):
    self.errors.clear()


@handler(COMMON, "*OPC", True)
def _opc(self, values, channels):
    return "1"


@handler(COMMON, "SYST:ERR", True)
def _error(self, values, channels):
    return self.errors.pop(0) if self.errors else self.no_error


# -- parsing ---------------------------------------------------------------------------------------
def normalise(header: str, strip_source: bool = False) -> str:
    words = [LONG_FORMS.get(w, w) for w in header.upper().split(":") if w]
    if strip_source and words and words[0] == "SOUR" and len(words) > 1:  # [SOURce:]VOLTage and friends
        words = words[1:]
    return ":".join(w for w in words if w not in _OPTIONAL or w == words[0])


def arguments(text: str) -> tuple[list[str], list[int] | None]:
    """The comma-separated values (quotes kept) and the channel list, if any."""
    channels = None
    match = _CHANNELS.search(text)
    if match:
        channels = []
        for part in match.group(1).split(","):
            low, _, high = part.strip().partition(":")
            channels.extend(range(int(low), int(high or low) + 1))
        text = text[: match.start()] + text[match.end():]
    return [v.strip() for v in text.split(",") if v.strip()], channels


def need(values: list[str], position: int = 0) -> str:
    if len(values) <= position:
        raise ScpiError('-109,"Missing parameter"')
    return values[position]


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ScpiError('-104,"Data type error"') from None


def boolean(text: str) -> bool:
    if text.upper() in ("ON", "1"):
        return True
    if text.upper() in ("OFF", "0"):
        return False
    raise ScpiError('-224,"Illegal parameter value"')


def choice(values: list[str], allowed: tuple[str, ...], why: str = "") -> str:
    """The first value, upper-cased, if it is one of `allowed`; else -224."""
    value = need(values).upper()
    if value not in allowed:
        raise ScpiError(f'-224,"Illegal parameter value{";" + why if why else ""}"')
    return value


def data_format_handlers(table: dict, header: str, byte_order: tuple[str, ...]) -> None:
    """`header` REAL|ASCii (binary blocks or text) and FORM:BORD, of which one order is emulated."""
    def data_format(self, values, channels):
        self.binary = choice(values, ("REAL", "ASC", "ASCII")) == "REAL"

    def order(self, values, channels):
        choice(values, byte_order)

    table[(header, False)] = data_format
    table[("FORM:BORD", False)] = order


def block(raw: bytes, definite: bool = True) -> bytes:
    """An IEEE-488.2 block: definite (#, the digit count, the byte count, the bytes) or
    indefinite (#0 and the bytes, which the message's newline ends)."""
    return (f"#{len(str(len(raw)))}{len(raw)}".encode() if definite else b"#0") + raw
