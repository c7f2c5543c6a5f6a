"""The SCPI instrument's transport: pyvisa with the pure-Python pyvisa-py backend (USB-TMC, raw
socket `TCPIP::host::5025::SOCKET`, VXI-11 `TCPIP::host::INSTR`), an optional extra imported
only when an SMU is used, and the `RESOURCE[,channel=N]` target the CLI takes."""

from __future__ import annotations

from ..errors import MonitorDataError, MonitorError, MonitorNotResponding, MonitorRefused

EXTRA = "scpi"
BACKEND = "@py"  # pyvisa-py: no vendor VISA library needed


def import_pyvisa():
    try:
        import pyvisa
        import pyvisa_py  # noqa: F401  (the backend must be there, not only the front end)
    except ImportError:
        raise MonitorError("SCPI instruments need pyvisa and pyvisa-py: pip install 'tiny-runner[scpi]'") from None
    return pyvisa


def parse_target(target: str | None) -> tuple[str | None, int]:
    """`TCPIP::10.0.0.5::5025::SOCKET,channel=2` -> (resource, channel); channel 1 unless given."""
    if not target:
        return None, 1
    resource, *options = [part.strip() for part in target.split(",")]
    channel = 1
    for option in options:
        key, _, value = option.partition("=")
        if key != "channel" or not value.isdigit() or not 1 <= int(value) <= 4:
            raise MonitorRefused(f"SCPI monitor option {option!r}: the only option is channel=1..4")
        channel = int(value)
    if not resource:
        raise MonitorRefused("the SCPI monitor needs a VISA resource, e.g. scpi:TCPIP::192.168.1.20::5025::SOCKET")
    return resource, channel


class Instrument:
    """One open VISA session: ASCII queries, IEEE-488.2 binary blocks, errors as MonitorErrors."""

    def __init__(self, resource: str, *, timeout_s: float = 5.0, log=None):
        self.resource = resource
        self.log = log or (lambda direction, text: None)
        pyvisa = import_pyvisa()
        self._errors = (pyvisa.errors.VisaIOError, pyvisa.errors.InvalidSession, OSError, ValueError)
        self._timeout = pyvisa.constants.StatusCode.error_timeout
        self.timeout_s = timeout_s
        try:
            self._manager = pyvisa.ResourceManager(BACKEND)
            self._session = self._manager.open_resource(resource, read_termination="\n", write_termination="\n",
                                                        timeout=int(timeout_s * 1000))
        except self._errors as exc:
            raise MonitorNotResponding(f"cannot open the SCPI instrument {resource}: {exc}") from None

    def write(self, command: str) -> None:
        self.log("->", command)
        self._call(self._session.write, command, command=command)

    def query(self, command: str) -> str:
        self.log("->", command)
        reply = self._call(self._session.query, command, command=command).strip()
        self.log("<-", reply)
        return reply

    def query_floats(self, command: str, binary: bool, *, datatype: str = "f", big_endian: bool = True,
                     count: int = -1):
        """A float array: an IEEE-488.2 block of `datatype` ("f" float32, "d" float64) in the
        given byte order (an indefinite `#0` block is read by its expected `count`), or ASCII."""
        import numpy as np

        self.log("->", command)
        if binary:
            values = self._call(self._session.query_binary_values, command, datatype=datatype,
                                is_big_endian=big_endian, data_points=count, container=np.array, command=command)
        else:
            text = self._call(self._session.query, command, command=command).strip()
            try:
                values = np.array([float(v) for v in text.split(",")] if text else [], dtype=np.float64)
            except ValueError:
                raise MonitorDataError(f"SCPI instrument {self.resource} answered {command!r} with "
                                       f"{text[:60]!r}, not numbers") from None
        self.log("<-", f"{len(values)} values")
        return np.asarray(values, dtype=np.float64 if datatype == "d" else np.float32)

    def _call(self, method, *args, command: str, **kwargs):
        try:
            return method(*args, **kwargs)
        except self._errors as exc:
            if getattr(exc, "error_code", None) == self._timeout:
                reason = f"no answer to {command!r} within {self.timeout_s:g} s"
            else:
                reason = f"{command!r} failed: {type(exc).__name__}: {exc}"
            raise MonitorNotResponding(f"the SCPI instrument {self.resource}: {reason}") from None

    def close(self) -> None:
        for closer in (self._session.close, self._manager.close):
            try:
                closer()
            except Exception:  # closing must not hide the error that made us close
                pass
