"""Datasets in the EEMBC layout: a folder with `y_labels.csv` and the `.bin` files it lists.

y_labels.csv has no header; each line is `file,classes,class` (kws01, vww01, ic01/ic02) or, for
a benchmark whose files hold many windows, `file,classes,class,window_bytes,stride_bytes` (ad01).
Everything is checked before the first byte goes to the DUT: a missing or wrongly sized file
fails in a second, not after an hour.

The folder's files are untrusted input: every name the label list gives must stay inside the
folder (no `..`, no absolute path, no symbolic link that leads out), because whatever it names
is sent to the DUT and written into wire.log.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DatasetError
from . import Benchmark

LABELS_FILE = "y_labels.csv"
META_FILE = "dataset.json"  # written by `tiny-runner dataset synth`; absent from real datasets

# Far above any real list (kws01: 27 KB for 1000 files); a bigger file is not a label list.
_MAX_LABELS_BYTES = 16 * 1024 * 1024
_MAX_META_BYTES = 1024 * 1024
# dataset.json keys this runner reads or writes, and the JSON type each must have
_META_TYPES = {"synthetic": bool, "benchmark": str, "count": int, "seed": int, "labels": str, "model": str}
_INTEGER = re.compile(r"\s*[0-9]+\s*")


@dataclass(frozen=True)
class Entry:
    file: str
    classes: int
    label: int
    window_bytes: int | None = None
    stride_bytes: int | None = None
    line: int = field(default=0, compare=False)  # where the label list names it, for messages


@dataclass
class Dataset:
    root: Path
    labels_path: Path
    benchmark: Benchmark
    entries: list[Entry]
    meta: dict = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        return bool(self.meta.get("synthetic"))

    def read(self, entry: Entry) -> bytes:
        # checked again here: a file swapped for a link after the checks must not be read
        path = _inside(self.root, self.root / entry.file, f"{self.labels_path}:{entry.line}: {entry.file}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DatasetError(f"cannot read {path}: {exc.strerror}") from None
        problem = _size_problem(self.benchmark, entry, len(data))
        if problem:
            raise DatasetError(f"{path} changed after the dataset was checked: {problem}")
        return data

    def windows(self, entry: Entry, data: bytes) -> list[bytes]:
        """The inputs one file gives: the whole file, or (ad01) every window at its stride."""
        if entry.window_bytes is None:
            return [data]
        count = (len(data) - entry.window_bytes) // entry.stride_bytes + 1
        return [data[i * entry.stride_bytes : i * entry.stride_bytes + entry.window_bytes] for i in range(count)]


def load_dataset(root: str | Path, benchmark: Benchmark, labels_file: str = LABELS_FILE) -> Dataset:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    root = _resolve(root, str(root))
    problem = _name_problem(labels_file)
    if problem:
        raise DatasetError(f"label list {labels_file!r} {problem}; it must be a file inside the dataset folder {root}")
    labels_path = _inside(root, root / labels_file, f"label list {labels_file}")
    if not labels_path.is_file():
        raise DatasetError(
            f"{root} has no {labels_file}: a dataset folder holds {labels_file} and the .bin files it lists "
            "(EEMBC layout); `tiny-runner dataset synth` writes one"
        )
    entries = _parse_labels(root / labels_file, _read_text(labels_path, root / labels_file), benchmark)
    if not entries:
        raise DatasetError(f"{root / labels_file} lists no files")
    _check_files(root, root / labels_file, entries, benchmark)
    return Dataset(root, root / labels_file, benchmark, entries, _load_meta(root))


def _resolve(path: Path, what: str) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # a symbolic link loop
        raise DatasetError(f"{what}: cannot resolve {path}: {exc}") from None


def _inside(root: Path, path: Path, what: str) -> Path:
    """path with its links resolved, refused when that leaves the dataset folder."""
    target = _resolve(path, what)
    if not target.is_relative_to(root):
        raise DatasetError(f"{what} is a symbolic link that leads outside the dataset folder {root}")
    return target


def _name_problem(name: str) -> str | None:
    """Why a name from the label list (or --labels) cannot be a file inside the folder, if it cannot."""
    if not name:
        return "is empty"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "has control characters"
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in re.split(r"[\\/]", name):
        return "climbs out of the folder with '..'"
    return None


def _read_text(target: Path, path: Path) -> str:
    """The label list's text (target: its resolved path; path: as the messages name it)."""
    try:
        size = target.stat().st_size
        if size > _MAX_LABELS_BYTES:
            raise DatasetError(f"{path} is {size} bytes; a label list is at most {_MAX_LABELS_BYTES} bytes")
        raw = target.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror}") from None
    bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0  # spreadsheet exports add one
    try:
        return raw[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = bom + exc.start
        line = raw[:offset].count(b"\n") + 1
        raise DatasetError(
            f"{path} is not UTF-8 text: byte 0x{raw[offset]:02x} at offset {offset} (line {line})"
        ) from None


def _parse_labels(path: Path, text: str, benchmark: Benchmark) -> list[Entry]:
    entries = []
    layout = benchmark.windows
    want_fields = 5 if layout else 3
    expected_classes = len(benchmark.classes)
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DatasetError(f"{path}:{reader.line_num}: {exc}") from None
        number = reader.line_num
        if not row or not "".join(row).strip():
            continue
        where = f"{path}:{number}"
        if len(row) != want_fields:
            shape = "file,classes,class,window_bytes,stride_bytes" if want_fields == 5 else "file,classes,class"
            raise DatasetError(f"{where}: expected {want_fields} comma-separated fields ({shape}), "
                               f"got {len(row)}: {row!r}")
        name = row[0].strip()
        problem = _name_problem(name)
        if problem:
            raise DatasetError(f"{where}: file name {name!r} {problem}; a label list names files inside its folder")
        if not all(_INTEGER.fullmatch(x) for x in row[1:]):
            raise DatasetError(f"{where}: fields after the file name must be integers: {row!r}")
        numbers = [int(x) for x in row[1:]]
        classes, label = numbers[0], numbers[1]
        if classes != expected_classes:
            raise DatasetError(f"{where}: {classes} classes, but {benchmark.id} has {expected_classes}")
        if not 0 <= label < classes:
            raise DatasetError(f"{where}: class {label} is outside 0..{classes - 1}")
        window = stride = None
        if layout:
            window, stride = numbers[2], numbers[3]
            # the benchmark's rule (ad01: 5 frames of 128 float32 mel bins, one frame per step)
            if (window, stride) != (layout.window_bytes, layout.stride_bytes):
                raise DatasetError(f"{where}: window/stride {window}/{stride} bytes; {benchmark.id} uses "
                                   f"{layout.window_bytes}/{layout.stride_bytes}")
        entries.append(Entry(name, classes, label, window, stride, line=number))
    return entries


def _size_problem(benchmark: Benchmark, entry: Entry, size: int) -> str | None:
    if entry.window_bytes is None:
        if size != benchmark.input_bytes:
            return f"{size} bytes; {benchmark.id} inputs are {benchmark.input_bytes}"
    elif size < entry.window_bytes or (size - entry.window_bytes) % entry.stride_bytes:
        return (f"{size} bytes: not a whole number of {entry.stride_bytes}-byte steps "
                f"after a {entry.window_bytes}-byte window")
    return None


def _check_files(root: Path, labels_path: Path, entries: list[Entry], benchmark: Benchmark) -> None:
    first_line: dict[Path, Entry] = {}
    for e in entries:
        target = _inside(root, root / e.file, f"{labels_path}:{e.line}: {e.file}")
        if target in first_line:
            # scored twice, a file would count double in top-1 and AUC
            first = first_line[target]
            names = first.file if first.file == e.file else f"{first.file} and {e.file}, the same file"
            raise DatasetError(f"{labels_path}: lines {first.line} and {e.line} both list {names}; "
                               "each file may be listed once")
        first_line[target] = e
    missing = [e.file for e in entries if not (root / e.file).is_file()]
    if missing:
        raise DatasetError(
            f"{len(missing)} of {len(entries)} files listed in {labels_path.name} are missing from {root}, "
            f"first: {missing[0]}"
        )
    for e in entries:
        problem = _size_problem(benchmark, e, (root / e.file).stat().st_size)
        if problem:
            raise DatasetError(f"{root / e.file} is {problem}")


def _load_meta(root: Path) -> dict:
    """dataset.json, which marks a synthetic dataset; {} when there is none."""
    path = root / META_FILE
    if not path.exists() and not path.is_symlink():
        return {}
    path = _inside(root, path, str(path))
    try:
        if path.stat().st_size > _MAX_META_BYTES:
            raise DatasetError(f"{root / META_FILE} is larger than {_MAX_META_BYTES} bytes; not a dataset description")
        meta = json.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise DatasetError(f"cannot read {root / META_FILE}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{root / META_FILE} is not UTF-8 text (byte offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{root / META_FILE} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise DatasetError(f"{root / META_FILE} is not valid JSON: nested too deeply") from None
    if not isinstance(meta, dict):
        raise DatasetError(f"{root / META_FILE} must hold a JSON object, not {_json_type(meta)}")
    for key, kind in _META_TYPES.items():
        value = meta.get(key)
        if key in meta and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            raise DatasetError(f"{root / META_FILE}: {key!r} must be {_json_type(kind())}, not {_json_type(value)}")
    return meta


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "true/false"
    names = {dict: "an object", list: "an array", str: "a string", int: "an integer", float: "a number"}
    return names.get(type(value), "null")
