"""A campaign file and the cells it defines.

    name = "l4r5-supply-sweep"         # recorded with every run; the database keys cells by it
    benchmarks = ["kws", "ad"]
    modes = ["performance", "energy"]
    voltages_mv = [1800, 3000]          # energy cells, one per voltage; other modes run once
    repeats = 2                         # default 1
    retries = 1                         # a failed cell is run again at most this often (default 1)

    [[benches]]                         # one line of work each: cells of one bench never overlap
    name = "lab-a"
    board = "virtual-l4r5zi"            # the virtual lab, or a real board with its ports found
    [[benches]]
    name = "rack2"
    bench = "rack2-u575"                # a bench file (path or name, as measure --bench takes)
    [[benches]]
    name = "rack3"
    place = "rack3-l4r5"                # a labgrid place (measure --place); board = is optional
    wait = 600                          # seconds a cell waits for the place if someone holds it (default 600)
    benchmarks = ["ad"]                 # what this bench's firmware runs, when not all of the campaign's
    modes = ["energy"]                  # what its wiring measures, when not all of the campaign's
    [[benches]]
    name = "l4r5"
    board = "nucleo-l4r5zi"
    probe = "066DFF"                    # flash --probe, when several probes are attached
    [[benches.images]]                  # flashed one after the other, each image's cells between (images.py)
    name = "80mhz"
    path = "build/kws-80mhz.elf"

    [measure]                           # options every cell's `measure` gets
    target_window = 12.0
    lab_speed = 1000

    [datasets]                          # accuracy mode (and sww): the folder per benchmark
    kws = "data/kws01"

A cell is one `tiny-runner measure`; its key is a hash of its whole definition and of the
firmware image: the bench's image that the campaign flashes, or else the one installed on its
board (`tiny-runner flash` records it), so a cell is measured again when either changes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..bench.file import load_bench
from ..benchmarks import get_benchmark
from ..boards import load_board
from ..errors import CampaignError, TinyRunnerError, UsageError
from ..image.installed import installed_image
from .images import Image, load_images

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MODES = ("performance", "accuracy", "energy")
# [measure] key -> (the measure option it becomes, its type)
MEASURE_OPTIONS = {
    "target_window": ("--target-window", float), "iterations": ("--iterations", int), "warmup": ("--warmup", int),
    "lab_speed": ("--lab-speed", float), "monitor": ("--monitor", str), "monitor_rate": ("--monitor-rate", float),
    "relay": ("--relay", str), "baud": ("--baud", int), "check_outputs": ("--check-outputs", bool),
    "model_dir": ("--model-dir", str), "lab_fault": ("--lab-fault", list), "labels": ("--labels", str),
}
_TOP_KEYS = {"name", "benchmarks", "modes", "voltages_mv", "repeats", "retries", "benches", "measure", "datasets"}
_BENCH_KEYS = {"name", "board", "bench", "place", "wait", "benchmarks", "modes", "lab_fault", "images", "probe"}
DEFAULT_PLACE_WAIT_S = 600.0


@dataclass(frozen=True)
class Bench:
    name: str
    board: str | None
    bench_file: str | None
    lab_faults: tuple[str, ...] = ()  # the virtual lab's faults on this bench only (drills)
    place: str | None = None  # a labgrid place
    place_wait_s: float = DEFAULT_PLACE_WAIT_S
    benchmarks: tuple[str, ...] = ()  # the benchmarks its board's firmware runs, when not all of the campaign's
    modes: tuple[str, ...] = ()  # the modes its wiring measures (a DUT's UART, an energy bench), when not all
    images: tuple[Image, ...] = ()  # flashed one after the other by the campaign
    flash_board: str | None = None  # the board they are flashed on: board, or the bench file's
    probe: str | None = None  # flash --probe


@dataclass(frozen=True)
class Cell:
    campaign: str
    bench: Bench
    benchmark: str
    mode: str
    voltage_mv: int | None
    repeat: int
    options: tuple[tuple[str, object], ...]
    dataset: str | None
    firmware_sha256: str | None
    image: Image | None = None  # flashed by the campaign before the cell

    @property
    def definition(self) -> dict:
        # keys of cells without a place or an image stay as they were
        place = {"place": self.bench.place} if self.bench.place else {}
        image = {"image": self.image.name} if self.image else {}
        return {"campaign": self.campaign, "bench": self.bench.name, "board": self.bench.board, **place, **image,
                "bench_file": self.bench.bench_file, "benchmark": self.benchmark, "mode": self.mode,
                "voltage_mv": self.voltage_mv, "repeat": self.repeat, "options": dict(self.options),
                "lab_faults": list(self.bench.lab_faults), "dataset": self.dataset,
                "firmware_sha256": self.firmware_sha256}

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.definition, sort_keys=True).encode()).hexdigest()

    @property
    def label(self) -> str:
        volts = f" {self.voltage_mv} mV" if self.voltage_mv else ""
        image = f" [{self.image.name}]" if self.image else ""
        return f"{self.bench.name}{image}: {self.benchmark} {self.mode}{volts} #{self.repeat}"

    def measure_args(self) -> list[str]:
        """The `tiny-runner measure` options of this cell (the runner adds --out, --db and the cell)."""
        bench = self.bench
        args = ["--bench", bench.bench_file] if bench.bench_file else ["--board", bench.board] if bench.board else []
        if bench.place:
            args += ["--place", bench.place, "--wait", f"{bench.place_wait_s:g}"]
        args += ["--benchmark", self.benchmark, "--mode", self.mode]
        if self.voltage_mv is not None:
            args += ["--voltage", str(self.voltage_mv)]
        if self.dataset:
            args += ["--dataset", self.dataset]
        for key, value in self.options:
            option, kind = MEASURE_OPTIONS[key]
            if kind is bool:
                args += [option] if value else []
            elif kind is list:
                args += [item for v in value for item in (option, str(v))]
            else:
                args += [option, str(value)]
        for fault in self.bench.lab_faults:
            args += ["--lab-fault", fault]
        return args


@dataclass(frozen=True)
class Campaign:
    name: str
    path: Path
    benches: tuple[Bench, ...]
    cells: tuple[Cell, ...]
    retries: int


def load_campaign(path: str | Path) -> Campaign:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise CampaignError(f"cannot read campaign file {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CampaignError(f"{path}: not valid TOML: {exc}") from None
    where = str(path)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise CampaignError(f"{where}: unknown key {unknown[0]!r}; a campaign has {', '.join(sorted(_TOP_KEYS))}")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise CampaignError(f"{where}: name must be a plain name (letters, digits, '.', '_', '-'), got {name!r}")
    benchmarks = [_benchmark(where, b) for b in _list(where, data, "benchmarks", str)]
    modes = _list(where, data, "modes", str)
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise CampaignError(f"{where}: mode {bad[0]!r}; modes are {', '.join(MODES)}")
    voltages = _list(where, data, "voltages_mv", int, required=False) or [None]
    repeats, retries = _count(where, data, "repeats", 1, 1), _count(where, data, "retries", 1, 0)
    benches = tuple(_bench(where, i, b, path.parent) for i, b in enumerate(_list(where, data, "benches", dict)))
    names = [b.name for b in benches]
    if len(set(names)) != len(names):
        raise CampaignError(f"{where}: two benches are named {next(n for n in names if names.count(n) > 1)!r}")
    _check_flashed_boards(where, benches)
    options = _options(where, data.get("measure", {}))
    _check_lab_options(where, benches, options)
    datasets = data.get("datasets", {})
    if not isinstance(datasets, dict) or not all(isinstance(v, str) for v in datasets.values()):
        raise CampaignError(f"{where}: [datasets] maps benchmarks to folders (strings)")
    datasets = {_benchmark(where, k): str((path.parent / v).resolve()) for k, v in datasets.items()}
    cells = []
    for bench in benches:
        # a bench's cells run in this order: each image's together, so it is flashed once
        for image in bench.images or [None]:
            own_benchmarks = (image.benchmarks if image else ()) or bench.benchmarks or benchmarks
            own_modes = (image.modes if image else ()) or bench.modes or modes
            for benchmark, mode, repeat in itertools.product(own_benchmarks, own_modes, range(1, repeats + 1)):
                cells += _cells(where, name, bench, image, benchmark, mode, repeat, voltages, options, datasets)
    return Campaign(name, path, benches, tuple(cells), retries)


def _cells(where: str, campaign: str, bench: Bench, image: Image | None, benchmark: str, mode: str, repeat: int,
           voltages: list, options: tuple, datasets: dict) -> list[Cell]:
    """One cell per voltage in energy mode, else one."""
    needs_dataset = mode == "accuracy" or get_benchmark(benchmark).streaming
    if needs_dataset and benchmark not in datasets:
        raise CampaignError(f"{where}: {benchmark} in {mode} mode needs its folder in [datasets]")
    firmware = image.sha256 if image else _firmware_sha256(bench)
    return [Cell(campaign, bench, benchmark, mode, voltage, repeat, options,
                 datasets[benchmark] if needs_dataset else None, firmware, image)
            for voltage in (voltages if mode == "energy" else [None])]


def _list(where: str, data: dict, key: str, kind: type, required: bool = True) -> list:
    value = data.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not value or not all(isinstance(v, kind) and not isinstance(v, bool)
                                                            for v in value):
        raise CampaignError(f"{where}: {key} must be a non-empty list of {kind.__name__}s")
    return value


def _count(where: str, data: dict, key: str, default: int, minimum: int) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= 1000:
        raise CampaignError(f"{where}: {key} must be an integer {minimum}..1000, got {value!r}")
    return value


def _benchmark(where: str, name: str) -> str:
    try:
        return get_benchmark(name).id
    except UsageError as exc:
        raise CampaignError(f"{where}: {exc.message}") from None


def _bench(where: str, index: int, data: dict, folder: Path) -> Bench:
    unknown = sorted(set(data) - _BENCH_KEYS)
    if unknown:
        raise CampaignError(f"{where}: benches[{index}]: unknown key {unknown[0]!r}; a bench has "
                            f"{', '.join(sorted(_BENCH_KEYS))}")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise CampaignError(f"{where}: benches[{index}]: name must be a plain name, got {name!r}")
    board, bench_file, place = data.get("board"), data.get("bench"), data.get("place")
    if place is not None:
        if not isinstance(place, str) or not _NAME.match(place) or bench_file is not None:
            raise CampaignError(f"{where}: bench {name}: place must be a place's name, and a place bench has no "
                                f"bench file, got {place!r}")
    elif (board is None) == (bench_file is None):
        raise CampaignError(f"{where}: bench {name}: give board (the virtual lab, or ports found), bench "
                            "(a bench file) or place (a labgrid place)")
    wait = data.get("wait", DEFAULT_PLACE_WAIT_S)
    if not isinstance(wait, (int, float)) or isinstance(wait, bool) or not 0 <= wait <= 86400 or (
            "wait" in data and place is None):
        raise CampaignError(f"{where}: bench {name}: wait is a place bench's seconds, 0..86400, got {wait!r}")
    if board is not None:
        try:
            load_board(board)
        except TinyRunnerError as exc:
            raise CampaignError(f"{where}: bench {name}: {exc.message}") from None
    faults = data.get("lab_fault", [])
    if not isinstance(faults, list) or not all(isinstance(f, str) for f in faults):
        raise CampaignError(f"{where}: bench {name}: lab_fault must be a list of KEY=VALUE strings")
    bench = Bench(name, board, bench_file, tuple(faults), place, float(wait),
                  *_own_benchmarks_and_modes(where, f"{where}: bench {name}", data))
    if "images" not in data:
        if "probe" in data:
            raise CampaignError(f"{where}: bench {name}: probe is for flashing the bench's images; it has none")
        return bench
    return _imaged_bench(where, bench, data, folder)


def _imaged_bench(where: str, bench: Bench, data: dict, folder: Path) -> Bench:
    """A bench the campaign flashes with each of its images in turn."""
    if bench.place:
        raise CampaignError(f"{where}: bench {bench.name}: a campaign does not flash a labgrid place's board (remote "
                            "flashing is not supported); flash it first and give the bench the benchmarks it runs")
    board_name = bench.board
    if bench.bench_file:
        try:
            board_name = load_bench(bench.bench_file).board
        except TinyRunnerError as exc:
            raise CampaignError(f"{where}: bench {bench.name}: {exc.message}") from None
        if board_name is None:
            raise CampaignError(f"{where}: bench {bench.name}: its bench file names no board to flash the images on")
    board = load_board(board_name)
    if board.virtual and not board.firmware_port:
        raise CampaignError(f"{where}: bench {bench.name}: {board.name} runs the emulated reference firmware of the "
                            "virtual lab; there is no image to flash (qemu-m4 and native-posix run images)")
    probe = data.get("probe")
    if probe is not None and (not isinstance(probe, str) or not probe.isprintable() or not probe or board.virtual):
        raise CampaignError(f"{where}: bench {bench.name}: probe is a real board's debug probe ID, got {probe!r}")
    images = load_images(where, bench.name, data["images"], board, folder, _NAME,
                         lambda here, entry: _own_benchmarks_and_modes(where, here, entry))
    return dataclasses.replace(bench, images=images, flash_board=board.name, probe=probe)


def _check_lab_options(where: str, benches: tuple[Bench, ...], options: tuple) -> None:
    """The virtual lab's options on a bench that is not the virtual lab's emulated board: refused
    here, as each of its cells' `measure` would refuse them, rather than failing every cell."""
    shared = [f"[measure] {key}" for key, _ in options if key in ("lab_speed", "lab_fault")]
    for bench in benches:
        given = shared + (["lab_fault"] if bench.lab_faults else [])
        board = load_board(bench.board) if bench.board else None
        if not given or (board is None and not bench.place):
            continue  # a bench file's runs are checked by measure, which reads it
        if bench.place:
            what = "a labgrid place"
        elif not board.virtual:
            what = f"{board.name}, a real board"
        elif board.firmware_port:
            what = f"{board.name}, which runs the C firmware, timed by its own clock"
        else:
            continue
        raise CampaignError(f"{where}: bench {bench.name}: {given[0]} configures the virtual lab's emulated board; "
                            f"the bench is {what} (run it in a campaign without the option)")


def _own_benchmarks_and_modes(where: str, here: str, data: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A bench's or an image's own `benchmarks` and `modes`: what it runs, when not all of the campaign's."""
    own = data.get("benchmarks", [])
    if not isinstance(own, list) or not all(isinstance(b, str) for b in own):
        raise CampaignError(f"{here}: benchmarks must be a list of benchmark names")
    own_modes = data.get("modes", [])
    if not isinstance(own_modes, list) or not all(m in MODES for m in own_modes):
        raise CampaignError(f"{here}: modes must be a list of {', '.join(MODES)}")
    return tuple(_benchmark(where, b) for b in own), tuple(own_modes)


def _check_flashed_boards(where: str, benches: tuple[Bench, ...]) -> None:
    """A board the campaign flashes is that bench's alone: another bench on it would run whatever
    image was flashed last. Real boards of one kind are told apart by their probes."""
    for bench in (b for b in benches if b.images):
        for other in benches:
            if other is bench or (other.flash_board or other.board) != bench.flash_board:
                continue
            if other.images and bench.probe and other.probe and bench.probe != other.probe:
                continue
            raise CampaignError(f"{where}: benches {bench.name} and {other.name} are both on {bench.flash_board}, "
                                f"which {bench.name} flashes; a flashed board is one bench's (real boards: give each "
                                "bench with images its own probe)")


def _options(where: str, data) -> tuple[tuple[str, object], ...]:
    if not isinstance(data, dict):
        raise CampaignError(f"{where}: [measure] must be a table")
    for key, value in data.items():
        if key not in MEASURE_OPTIONS:
            raise CampaignError(f"{where}: [measure] {key}: not an option a campaign passes on; known: "
                                f"{', '.join(MEASURE_OPTIONS)}")
        kind = MEASURE_OPTIONS[key][1]
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok:
            raise CampaignError(f"{where}: [measure] {key} must be a {kind.__name__}, got {value!r}")
    return tuple(sorted(data.items()))


def _firmware_sha256(bench: Bench) -> str | None:
    """The image `tiny-runner flash` installed on the bench's board, when it recorded one."""
    if bench.board is None:
        return None
    installed = installed_image(load_board(bench.board))
    return installed.sha256 if installed else None
