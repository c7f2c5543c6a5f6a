"""Datasets in the EEMBC layout: a folder with `y_labels.csv` and the `.bin` files it lists.

y_labels.csv has no header; each line is `file,classes,class` (kws01, vww01, ic01/ic02) or
`file,classes,class,window_bytes,stride_bytes` (ad01). Everything is checked before the first
byte goes to the DUT: a missing or wrongly sized file fails in a second, not after an hour.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from .benchmarks import AD_STRIDE_BYTES, AD_WINDOW_BYTES, Benchmark
from .errors import DatasetError

LABELS_FILE = "y_labels.csv"
META_FILE = "dataset.json"  # written by `tiny-runner dataset synth`; absent from real datasets


@dataclass(frozen=True)
class Entry:
    file: str
    classes: int
    label: int
    window_bytes: int | None = None
    stride_bytes: int | None = None


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
        path = self.root / entry.file
        try:
            return path.read_bytes()
        except OSError as exc:
            raise DatasetError(f"cannot read {path}: {exc.strerror}") from None

    def windows(self, entry: Entry, data: bytes) -> list[bytes]:
        """The inputs one file gives: the whole file, or for ad01 every window at its stride."""
        if entry.window_bytes is None:
            return [data]
        count = (len(data) - entry.window_bytes) // entry.stride_bytes + 1
        return [data[i * entry.stride_bytes : i * entry.stride_bytes + entry.window_bytes] for i in range(count)]


def load_dataset(root: str | Path, benchmark: Benchmark, labels_file: str = LABELS_FILE) -> Dataset:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    labels_path = root / labels_file
    if not labels_path.is_file():
        raise DatasetError(
            f"{root} has no {labels_file}: a dataset folder holds {labels_file} and the .bin files it lists "
            "(EEMBC layout); `tiny-runner dataset synth` writes one"
        )
    entries = _parse_labels(labels_path, benchmark)
    if not entries:
        raise DatasetError(f"{labels_path} lists no files")
    _check_files(root, labels_path, entries, benchmark)
    meta = {}
    if (root / META_FILE).is_file():
        meta = json.loads((root / META_FILE).read_text())
    return Dataset(root, labels_path, benchmark, entries, meta)


def _parse_labels(path: Path, benchmark: Benchmark) -> list[Entry]:
    entries = []
    want_fields = 5 if benchmark.id == "ad01" else 3
    expected_classes = 2 if benchmark.id == "ad01" else benchmark.output_size
    with open(path, newline="", encoding="utf-8") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            if not row or not "".join(row).strip():
                continue
            where = f"{path}:{number}"
            if len(row) < want_fields:
                raise DatasetError(f"{where}: expected {want_fields} comma-separated fields, got {len(row)}: {row!r}")
            try:
                numbers = [int(x) for x in row[1:want_fields]]
            except ValueError:
                raise DatasetError(f"{where}: fields after the file name must be integers: {row!r}") from None
            classes, label = numbers[0], numbers[1]
            if classes != expected_classes:
                raise DatasetError(f"{where}: {classes} classes, but {benchmark.id} has {expected_classes}")
            if not 0 <= label < classes:
                raise DatasetError(f"{where}: class {label} is outside 0..{classes - 1}")
            window = stride = None
            if benchmark.id == "ad01":
                window, stride = numbers[2], numbers[3]
                if window != AD_WINDOW_BYTES or stride <= 0:
                    raise DatasetError(
                        f"{where}: window/stride {window}/{stride}; ad01 uses {AD_WINDOW_BYTES}/{AD_STRIDE_BYTES}"
                    )
            entries.append(Entry(row[0].strip(), classes, label, window, stride))
    return entries


def _check_files(root: Path, labels_path: Path, entries: list[Entry], benchmark: Benchmark) -> None:
    missing = [e.file for e in entries if not (root / e.file).is_file()]
    if missing:
        raise DatasetError(
            f"{len(missing)} of {len(entries)} files listed in {labels_path.name} are missing from {root}, "
            f"first: {missing[0]}"
        )
    for e in entries:
        size = (root / e.file).stat().st_size
        if e.window_bytes is None:
            if size != benchmark.input_bytes:
                raise DatasetError(
                    f"{root / e.file} is {size} bytes; {benchmark.id} inputs are {benchmark.input_bytes}"
                )
        elif size < e.window_bytes or (size - e.window_bytes) % e.stride_bytes:
            raise DatasetError(
                f"{root / e.file} is {size} bytes: not a whole number of {e.stride_bytes}-byte steps "
                f"after a {e.window_bytes}-byte window"
            )
