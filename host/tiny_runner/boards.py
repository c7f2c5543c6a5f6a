"""Board descriptors: one TOML file per board, validated against a small declared schema.

Descriptors ship inside the package (boards/ in the source tree); a lab adds its own by
pointing TINY_RUNNER_BOARDS at one or more folders (os.pathsep-separated), which are searched
first. A malformed file is rejected naming the file, the key and what was expected.

Some values leave this process: the vendor string is compiled into the C firmware and printed
in protocol replies, the QEMU machine and CPU become QEMU options, the name becomes a file
name. Those must match strict patterns, so no value can carry a shell word, a QEMU sub-option
(a comma) or a protocol terminator.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from .errors import BoardError

VID_PID = re.compile(r"[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}")
# a file name, a cache folder name and a command-line word: no separators, no leading dash
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# printed inside `m-name-dut-[...]`: printable ASCII without `%`, which ends a protocol command
VENDOR_STRING = re.compile(r"[\x20-\x24\x26-\x7e]{1,64}")

BOARDS_ENV = "TINY_RUNNER_BOARDS"
MODES = ("performance", "accuracy", "energy")
FIRMWARE_PORTS = ("posix", "qemu-mps2-an386")  # folders under firmware/ports


@dataclass(frozen=True)
class Spec:
    kind: type | tuple[type, ...]
    required: bool = True
    check: Callable[[Any], bool] | None = None
    expect: str = ""  # what a valid value looks like, for the error message


def _positive(v) -> bool:
    return v > 0


def _non_negative(v) -> bool:
    return v >= 0


def _strings(v) -> bool:
    return bool(v) and all(isinstance(item, str) and item.strip() for item in v)


BAUD_EXPECT = "an integer 300..12_000_000 (baud)"


def _baud(v) -> bool:
    return 300 <= v <= 12_000_000  # what serial drivers accept; a larger one overflows them


def _safe_name(v) -> bool:
    return SAFE_NAME.fullmatch(v) is not None


def _vendor_string(v) -> bool:
    return VENDOR_STRING.fullmatch(v) is not None


def _vid_pids(v) -> bool:
    return bool(v) and all(isinstance(item, str) and VID_PID.fullmatch(item) for item in v)


_NUMBER = (int, float)
SCHEMA: dict[str, Spec] = {
    "name": Spec(str, check=_safe_name, expect="the board name, equal to the file name without .toml "
                                             "(letters, digits, '.', '_', '-'; at most 64)"),
    "vendor": Spec(str),
    "description": Spec(str, required=False),
    "mcu": Spec(str),
    "core": Spec(str),
    "clock_hz": Spec(int, check=_positive, expect="a positive integer (Hz)"),
    "flash_bytes": Spec(int, check=_positive, expect="a positive integer"),
    "ram_bytes": Spec(int, check=_positive, expect="a positive integer"),
    "flash_base": Spec(int, required=False, check=_non_negative,
                       expect="the address where flash starts, an integer such as 0x0800_0000"),
    "virtual": Spec(bool, required=False),
    "sources": Spec(list, required=False, check=_strings,
                    expect="a list of strings naming the documents the facts come from"),
    "programming.pyocd_target": Spec(str, required=False,
                                     expect="a pyocd target type (`pyocd list --targets`, or a CMSIS pack device)"),
    "programming.needs_pack": Spec(bool, required=False),
    "programming.pack": Spec(str, required=False, expect="the CMSIS pack naming the target, e.g. Keil.STM32L4xx_DFP"),
    "programming.probe": Spec(str, required=False, expect="the on-board debug probe, e.g. ST-LINK/V2-1"),
    "usb.vid_pid": Spec(list, required=False, check=_vid_pids,
                        expect='a list of "VVVV:PPPP" hex strings (the serial port\'s USB IDs)'),
    "usb.description": Spec(str, required=False, expect="text in the serial port's USB description"),
    "timestamp.pin": Spec(str, required=False, expect="the MCU pin driving the timestamp line, e.g. PF13"),
    "timestamp.header": Spec(str, required=False, expect="where the pin is on the board, e.g. Arduino D7"),
    "timestamp.hold_us": Spec(_NUMBER, required=False, check=_non_negative,
                              expect="microseconds >= 0 the energy build holds the pin low"),
    "published.system_ids": Spec(list, required=False, check=_strings,
                                 expect="a list of system_id values of the published results table"),
    "uart.performance_baud": Spec(int, check=_baud, expect=BAUD_EXPECT),
    "uart.accuracy_baud": Spec(int, check=_baud, expect=BAUD_EXPECT),
    "uart.energy_baud": Spec(int, required=False, check=_baud, expect=BAUD_EXPECT),
    "uart.db_chunk_bytes": Spec(int, required=False, check=lambda v: 1 <= v <= 38, expect="an integer 1..38"),
    "uart.boot_timeout_s": Spec(_NUMBER, required=False, check=_positive, expect="seconds > 0"),
    "dut.vendor_string": Spec(str, required=False, check=_vendor_string,
                              expect="1 to 64 printable ASCII characters other than '%'"),
    "supply.default_mv": Spec(int, required=False, check=_positive, expect="millivolts > 0"),
    "supply.min_mv": Spec(int, required=False, check=_positive, expect="millivolts > 0"),
    "supply.max_mv": Spec(int, required=False, check=_positive, expect="millivolts > 0"),
    "firmware.port": Spec(str, required=False, check=lambda v: v in FIRMWARE_PORTS,
                          expect=f"one of {', '.join(FIRMWARE_PORTS)}"),
    "firmware.qemu.machine": Spec(str, required=False, check=_safe_name,
                                  expect="a QEMU machine name (qemu-system-arm -M help; letters, digits, '.', '_', "
                                         "'-')"),
    "firmware.qemu.cpu": Spec(str, required=False, check=_safe_name,
                              expect="a QEMU CPU name (letters, digits, '.', '_', '-')"),
    "firmware.qemu.icount_shift": Spec(int, required=False, check=lambda v: 0 <= v <= 10,
                                       expect="an integer 0..10 (each instruction takes 2^shift ns)"),
    "simulation.cycles_per_mac": Spec(_NUMBER, check=_positive, expect="cycles > 0"),
    "simulation.cycles_per_inference": Spec(_NUMBER, required=False, check=_non_negative, expect="cycles >= 0"),
    "simulation.boot_us": Spec(int, required=False, check=_non_negative, expect="microseconds >= 0"),
    "simulation.pulse_hold_us": Spec(_NUMBER, required=False, check=_positive, expect="microseconds > 0"),
    "simulation.power.boot_ma": Spec(_NUMBER, required=False, check=_non_negative, expect="milliamperes >= 0"),
    "simulation.power.idle_ma": Spec(_NUMBER, required=False, check=_non_negative, expect="milliamperes >= 0"),
    "simulation.power.uart_ma": Spec(_NUMBER, required=False, check=_non_negative, expect="milliamperes >= 0"),
    "simulation.power.compute_ma": Spec(_NUMBER, required=False, check=_non_negative, expect="milliamperes >= 0"),
    "simulation.power.calibrated_from": Spec(str, required=False),
    "simulation.sww.processing_us": Spec(_NUMBER, required=False, check=_positive, expect="microseconds > 0"),
    "simulation.sww.listening_ma": Spec(_NUMBER, required=False, check=_non_negative, expect="milliamperes >= 0"),
    "simulation.sww.processing_ma": Spec(_NUMBER, required=False, check=_non_negative, expect="milliamperes >= 0"),
    "simulation.sww.calibrated_from": Spec(str, required=False),
    "simulation.sww.published_power_mw": Spec(_NUMBER, required=False, check=_positive, expect="milliwatts > 0"),
    "simulation.sww.published_supply_mv": Spec(int, required=False, check=_positive, expect="millivolts > 0"),
    "simulation.calibrated_from.round": Spec(str),
    "simulation.calibrated_from.submitter": Spec(str),
    "simulation.calibrated_from.system_id": Spec(str),
    "simulation.calibrated_from.benchmark": Spec(str),
    "simulation.calibrated_from.latency_ms": Spec(_NUMBER, check=_positive, expect="milliseconds > 0"),
    "simulation.calibrated_from.source": Spec(str, required=False),
}
_SECTIONS = {"uart", "dut", "supply", "firmware", "firmware.qemu", "simulation", "simulation.calibrated_from",
             "simulation.power", "simulation.sww", "programming", "usb", "timestamp", "published"}
# What a lab needs to program, find, wire and power a real board: required unless virtual.
REAL_BOARD_KEYS = ("flash_base", "sources", "programming.pyocd_target", "programming.needs_pack",
                   "programming.probe", "uart.energy_baud", "usb.vid_pid", "timestamp.pin", "supply.min_mv",
                   "supply.max_mv")
_QEMU_KEYS = ("machine", "cpu", "icount_shift")
POWER_KEYS = ("boot_ma", "idle_ma", "uart_ma", "compute_ma")


@dataclass(frozen=True)
class Board:
    name: str
    path: Path
    data: dict = field(repr=False)

    @property
    def virtual(self) -> bool:
        return bool(self.data.get("virtual", False))

    @property
    def clock_hz(self) -> int:
        return self.data["clock_hz"]

    def baud(self, mode: str) -> int:
        try:
            return self.data["uart"][f"{mode}_baud"]
        except KeyError:
            raise BoardError(f"{self.path}: no uart.{mode}_baud for {mode} mode") from None

    @property
    def db_chunk_bytes(self) -> int:
        return self.data["uart"].get("db_chunk_bytes", 38)

    @property
    def boot_timeout_s(self) -> float:
        return float(self.data["uart"].get("boot_timeout_s", 5.0))

    @property
    def vendor_string(self) -> str:
        return self.data.get("dut", {}).get("vendor_string", "unspecified")

    @property
    def firmware_port(self) -> str | None:
        """The port of tiny-runner's C firmware this board runs on this machine, if any."""
        return self.data.get("firmware", {}).get("port")

    @property
    def qemu(self) -> dict | None:
        return self.data.get("firmware", {}).get("qemu")

    @property
    def flash_base(self) -> int:
        return self.data.get("flash_base", 0)

    @property
    def flash_bytes(self) -> int:
        return self.data["flash_bytes"]

    @property
    def programming(self) -> dict:
        return self.data.get("programming", {})

    @property
    def usb_ids(self) -> list[tuple[int, int]]:
        """The (VID, PID) pairs the board's serial port enumerates with."""
        pairs = (item.split(":") for item in self.data.get("usb", {}).get("vid_pid", []))
        return [(int(vid, 16), int(pid, 16)) for vid, pid in pairs]

    @property
    def timestamp(self) -> dict:
        return self.data.get("timestamp", {})

    @property
    def simulation(self) -> dict:
        return self.data.get("simulation", {})

    @property
    def supply(self) -> dict:
        return self.data.get("supply", {})


def _flatten(data: dict, source: Path, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if "." in key:  # a quoted "uart.x" would pass for uart.x but not be found under [uart]
            raise BoardError(f"{source}: unknown key {path!r} (a quoted key with a dot; write it as a table)")
        if isinstance(value, dict):
            flat[path] = value
            flat.update(_flatten(value, source, path + "."))
        else:
            flat[path] = value
    return flat


def validate(data: dict, source: Path) -> None:
    """Raise BoardError on the first problem, naming the file and the key."""
    flat = _flatten(data, source)
    virtual = data.get("virtual", False) is True
    firmware = "firmware" in data
    for key, value in flat.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise BoardError(f"{source}: '{key}' must be a table ([{key}])")
            continue
        spec = SCHEMA.get(key)
        if spec is None:
            raise BoardError(f"{source}: unknown key '{key}'")
        if isinstance(value, bool) and spec.kind is not bool or not isinstance(value, spec.kind):
            raise BoardError(f"{source}: key '{key}': expected {spec.expect or _kind_name(spec.kind)}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value) or spec.check and not spec.check(value):
            raise BoardError(f"{source}: key '{key}': expected {spec.expect}, got {value!r}")
    for key, spec in SCHEMA.items():
        # a board that runs the C firmware here is timed by it: no latency model to declare
        needed = spec.required and (not key.startswith("simulation.") or (virtual and not firmware))
        if needed and key not in flat:
            raise BoardError(f"{source}: missing key '{key}' ({spec.expect or _kind_name(spec.kind)})")
    if not virtual:
        for key in REAL_BOARD_KEYS:
            if key not in flat:
                spec = SCHEMA[key]
                raise BoardError(f"{source}: missing key '{key}' ({spec.expect or _kind_name(spec.kind)}; "
                                 "every real board declares it)")
        if flat["programming.needs_pack"] and "programming.pack" not in flat:
            raise BoardError(f"{source}: missing key 'programming.pack' ({SCHEMA['programming.pack'].expect}; "
                             "programming.needs_pack is true)")
    if firmware and not virtual:
        raise BoardError(f"{source}: [firmware] runs the image on this machine, so the board must set virtual = true")
    if firmware and "firmware.port" not in flat:
        raise BoardError(f"{source}: missing key 'firmware.port' (one of {', '.join(FIRMWARE_PORTS)})")
    if flat.get("firmware.port") == "qemu-mps2-an386":
        for key in (f"firmware.qemu.{name}" for name in _QEMU_KEYS):
            if key not in flat:
                raise BoardError(f"{source}: missing key '{key}' ({SCHEMA[key].expect})")
    if not virtual and "simulation" in data:
        raise BoardError(f"{source}: [simulation] is only for virtual boards (set virtual = true)")
    power = data.get("simulation", {}).get("power")
    if power is not None:
        missing = [k for k in POWER_KEYS if k not in power]
        if missing:
            raise BoardError(f"{source}: missing key 'simulation.power.{missing[0]}' (milliamperes >= 0)")
    _check_supply(data.get("supply", {}), source)
    if data["name"] != source.stem:
        raise BoardError(f"{source}: key 'name' is {data['name']!r} but the file is named {source.name}")


def _check_supply(supply: dict, source: Path) -> None:
    """min_mv <= default_mv <= max_mv, naming only the keys the file has."""
    low, default, high = supply.get("min_mv"), supply.get("default_mv"), supply.get("max_mv")
    if low is not None and high is not None and low > high:
        raise BoardError(f"{source}: keys 'supply.min_mv' ({low}) and 'supply.max_mv' ({high}): "
                         "min_mv must not exceed max_mv")
    if default is None:
        return
    if low is not None and default < low:
        raise BoardError(f"{source}: key 'supply.default_mv' ({default}): expected at least "
                         f"supply.min_mv ({low})")
    if high is not None and default > high:
        raise BoardError(f"{source}: key 'supply.default_mv' ({default}): expected at most "
                         f"supply.max_mv ({high})")


def _kind_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true/false", "list": "a list"}
    return " or ".join(names[k.__name__] for k in kinds)


def _search_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(BOARDS_ENV, "").split(os.pathsep) if p]
    return extra + [Path(str(resources.files("tiny_runner.board_files")))]


def load_board_file(path: Path) -> Board:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise BoardError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} on line {line}); "
                         "save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise BoardError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise BoardError(f"{path}: cannot read: {exc.strerror}") from None
    validate(data, path)
    return Board(data["name"], path, data)


def board_files() -> dict[str, Path]:
    """name -> file, earlier search folders winning."""
    found: dict[str, Path] = {}
    for folder in _search_dirs():
        for path in sorted(folder.glob("*.toml")):
            found.setdefault(path.stem, path)
    return found


def load_board(name: str) -> Board:
    files = board_files()
    if name not in files:
        known = ", ".join(sorted(files)) or "none"
        raise BoardError(f"unknown board {name!r}; known boards: {known} (see `tiny-runner boards`)")
    return load_board_file(files[name])


def all_boards() -> list[Board]:
    return [load_board_file(path) for _, path in sorted(board_files().items())]


def scan_boards() -> tuple[list[Board], list[BoardError]]:
    """Every descriptor that loads, and the error of each one that does not."""
    boards, errors = [], []
    for _, path in sorted(board_files().items()):
        try:
            boards.append(load_board_file(path))
        except BoardError as exc:
            errors.append(exc)
    return boards, errors
