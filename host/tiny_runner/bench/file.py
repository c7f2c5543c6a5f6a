"""A bench file: the board, instruments and ports of one bench, named once, so that
`tiny-runner measure --bench NAME` measures on it. Every port is a pyserial URL, so a bench whose
ports are `rfc2217://` (ser2net, a labgrid exporter) or `socket://` is a remote bench with no
code of its own.

    name = "rack2-u575"
    board = "nucleo-u575zi-q"          # optional: the board this bench holds

    [dut]                              # the DUT's UART: performance and accuracy runs
    port = "rfc2217://rack2:4001"

    [relay]                            # the pass-through board: energy runs
    kind = "ifboard"
    port = "rfc2217://rack2:4002"

    [monitor]                          # the energy monitor
    kind = "lpm01a"
    port = "rfc2217://rack2:4003"      # or serial = "..." for one its driver finds (Joulescope)

A bench on a labgrid place names the place instead of ports (docs/places.md); its [relay] and
[monitor] may name their kinds, which the place's tags otherwise give:

    name = "rack3"
    place = "rack3-l4r5"
    [monitor]
    kind = "lpm01a"

`--bench` takes a path, or a name looked up as NAME.toml in $TINY_RUNNER_BENCHES (folders
separated like PATH) and then in ./benches.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import BenchFileError

BENCHES_ENV = "TINY_RUNNER_BENCHES"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_KEYS = {"": {"name", "board", "place", "dut", "relay", "monitor", "description"}, "dut": {"port"},
         "relay": {"kind", "port"}, "monitor": {"kind", "port", "serial"}}


@dataclass(frozen=True)
class BenchFile:
    name: str
    path: Path
    board: str | None
    dut: str | None  # a pyserial URL
    relay: str | None  # KIND:URL; on a place, KIND
    monitor: str | None  # KIND, KIND:PORT or KIND:SERIAL
    place: str | None = None  # a labgrid place, which gives the ports

    def describe(self) -> dict:
        described = {"name": self.name, "file": str(self.path), "dut": self.dut, "relay": self.relay,
                     "monitor": self.monitor}
        return {**described, "place": self.place} if self.place else described


def bench_folders() -> list[Path]:
    folders = [Path(p) for p in os.environ.get(BENCHES_ENV, "").split(os.pathsep) if p]
    return folders + [Path("benches")]


def find_bench(ref: str) -> Path:
    """The bench file `--bench` names: a path, or NAME.toml in the bench folders."""
    if ref.endswith(".toml") or os.sep in ref or "/" in ref:
        path = Path(ref)
        if not path.is_file():
            raise BenchFileError(f"bench file {path} does not exist")
        return path
    if not _NAME.fullmatch(ref):
        raise BenchFileError(f"--bench {ref!r}: a bench name is letters, digits, '.', '_' and '-'")
    for folder in bench_folders():
        if (folder / f"{ref}.toml").is_file():
            return folder / f"{ref}.toml"
    looked = ", ".join(str(f) for f in bench_folders())
    raise BenchFileError(f"no bench named {ref!r}: no {ref}.toml in {looked} (set {BENCHES_ENV} or pass a path)")


def load_bench(ref: str) -> BenchFile:
    path = find_bench(ref)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise BenchFileError(f"cannot read bench file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise BenchFileError(f"{path}: not UTF-8 text (byte offset {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise BenchFileError(f"{path}: not valid TOML: {exc}") from None
    for table, keys in _KEYS.items():
        section = data if not table else data.get(table, {})
        if not isinstance(section, dict):
            raise BenchFileError(f"{path}: [{table}] must be a table")
        unknown = sorted(set(section) - keys)
        if unknown:
            where = f"[{table}]" if table else "the top level"
            raise BenchFileError(f"{path}: unknown key {unknown[0]!r} in {where}; known: {', '.join(sorted(keys))}")

    def text(table: str, key: str, required: bool = False) -> str | None:
        section = data if not table else data.get(table, {})
        value = section.get(key)
        name = f"{table}.{key}" if table else key
        if value is None:
            if required:
                raise BenchFileError(f"{path}: [{table}] needs {key!r}")
            return None
        if not isinstance(value, str) or not value or not value.isprintable():
            raise BenchFileError(f"{path}: key {name!r} must be a non-empty line of text, got {value!r}")
        return value

    name = text("", "name") or path.stem
    if not _NAME.fullmatch(name):
        raise BenchFileError(f"{path}: key 'name' {name!r}: letters, digits, '.', '_' and '-', at most 64")
    place = text("", "place")
    if place:
        return _place_bench(path, name, place, text)
    relay = monitor = None
    if "relay" in data:
        relay = f"{text('relay', 'kind', required=True)}:{text('relay', 'port', required=True)}"
    if "monitor" in data:
        kind = text("monitor", "kind", required=True)
        port, serial = text("monitor", "port"), text("monitor", "serial")
        if port and serial:
            raise BenchFileError(f"{path}: [monitor] has a port or a serial number, not both")
        monitor = f"{kind}:{port or serial}" if port or serial else kind
    dut = text("dut", "port", required=True) if "dut" in data else None
    return BenchFile(name, path, text("", "board"), dut, relay, monitor)


def _place_bench(path: Path, name: str, place: str, text) -> BenchFile:
    """A bench on a labgrid place: the place gives the ports; the file may name kinds."""
    for table, key in (("dut", "port"), ("relay", "port"), ("monitor", "port"), ("monitor", "serial")):
        if text(table, key):
            raise BenchFileError(f"{path}: [{table}] {key}: bench {name} is on place {place}, which gives "
                                 "its ports; leave them out")
    return BenchFile(name, path, text("", "board"), None, text("relay", "kind"), text("monitor", "kind"),
                     place=place)
