"""Board descriptors: the schema, its error messages, and the virtual board's calibration."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from tiny_runner.boards import BOARDS_ENV, all_boards, load_board, load_board_file
from tiny_runner.errors import BoardError
from tiny_runner.lab.latency import LatencyModel
from tiny_runner.model.info import model_info
from tiny_runner.model.reference import REFERENCE_MODELS

GOOD = """
name = "{name}"
vendor = "Acme"
mcu = "X1"
core = "Cortex-M0+"
clock_hz = 48_000_000
flash_bytes = 262_144
ram_bytes = 32_768

flash_base = 0x0800_0000
sources = ["Acme X1 datasheet"]

[programming]
probe = "ST-LINK/V3"
pyocd_target = "acmex1"
needs_pack = true
pack = "Acme.X1_DFP"

[usb]
vid_pid = ["0483:374E"]

[uart]
performance_baud = 115_200
accuracy_baud = 115_200
energy_baud = 9_600

[timestamp]
pin = "PA5"

[supply]
min_mv = 1_710
max_mv = 3_600
"""


def write(tmp_path, text, name="acme-x1"):
    path = tmp_path / f"{name}.toml"
    path.write_text(text.format(name=name))
    return path


def test_packaged_boards_validate():
    names = [b.name for b in all_boards()]
    assert "virtual-l4r5zi" in names


def test_a_real_board_descriptor_loads(tmp_path):
    board = load_board_file(write(tmp_path, GOOD))
    assert board.baud("accuracy") == 115_200 and not board.virtual and board.db_chunk_bytes == 38
    assert board.usb_ids == [(0x0483, 0x374E)] and board.flash_base == 0x0800_0000
    assert board.programming == {"probe": "ST-LINK/V3", "pyocd_target": "acmex1", "needs_pack": True,
                                 "pack": "Acme.X1_DFP"}


@pytest.mark.parametrize("edit, key, expect", [
    (lambda t: t.replace('clock_hz = 48_000_000', 'clock_hz = "fast"'), "clock_hz", "positive integer"),
    (lambda t: t.replace('clock_hz = 48_000_000', 'clock_hz = -1'), "clock_hz", "positive integer"),
    (lambda t: t.replace('accuracy_baud = 115_200\n', ''), "uart.accuracy_baud", "missing"),
    (lambda t: t.replace('energy_baud = 9_600\n', 'energy_baud = 9_600\ndb_chunk_bytes = 40\n'),
     "uart.db_chunk_bytes", "1..38"),
    (lambda t: t.replace('mcu = "X1"', 'mcu = "X1"\nmcuu = "typo"'), "mcuu", "unknown key"),
    (lambda t: t + '\n[simulation]\ncycles_per_mac = 2.0\n', "simulation", "virtual boards"),
    (lambda t: t.replace('energy_baud = 9_600\n', 'energy_baud = 9_600\nboot_timeout_s = true\n'),
     "uart.boot_timeout_s", "seconds"),
    (lambda t: t.replace('vid_pid = ["0483:374E"]', 'vid_pid = ["0483374E"]'), "usb.vid_pid", "VVVV:PPPP"),
    (lambda t: t.replace('vid_pid = ["0483:374E"]', 'vid_pid = "0483:374E"'), "usb.vid_pid", "VVVV:PPPP"),
    (lambda t: t.replace('pin = "PA5"\n', ''), "timestamp.pin", "every real board declares it"),
    (lambda t: t.replace('pack = "Acme.X1_DFP"\n', ''), "programming.pack", "needs_pack is true"),
    (lambda t: t.replace('sources = ["Acme X1 datasheet"]', 'sources = []'), "sources", "list of strings"),
])
def test_malformed_descriptors_name_file_key_and_expectation(tmp_path, edit, key, expect):
    path = write(tmp_path, edit(GOOD))
    with pytest.raises(BoardError) as info:
        load_board_file(path)
    message = str(info.value)
    assert str(path) in message and key in message and expect in message


def test_virtual_board_needs_its_simulation_profile(tmp_path):
    path = write(tmp_path, GOOD.replace('ram_bytes = 32_768', 'ram_bytes = 32_768\nvirtual = true'))
    with pytest.raises(BoardError, match="missing key 'simulation.cycles_per_mac'"):
        load_board_file(path)


def test_name_must_match_file_and_toml_errors_are_reported(tmp_path):
    path = tmp_path / "other.toml"
    path.write_text(GOOD.format(name="acme-x1"))
    with pytest.raises(BoardError, match="file is named other.toml"):
        load_board_file(path)
    bad = tmp_path / "broken.toml"
    bad.write_text("name = ")
    with pytest.raises(BoardError, match="not valid TOML"):
        load_board_file(bad)


def test_unknown_board_lists_known_ones():
    with pytest.raises(BoardError, match="unknown board 'nope'.*virtual-l4r5zi"):
        load_board("nope")


def test_user_board_folder_is_searched_first(tmp_path, monkeypatch):
    write(tmp_path, GOOD, name="my-board")
    monkeypatch.setenv(BOARDS_ENV, str(tmp_path))
    assert load_board("my-board").data["vendor"] == "Acme"


def test_virtual_board_reproduces_the_published_result_it_cites(reference):
    """The descriptor names a row of the published results; its latency model must give
    that row's latency for that benchmark's reference model (within 0.01 %)."""
    board = load_board("virtual-l4r5zi")
    cited = board.simulation["calibrated_from"]
    with open(reference / "mlperf_tiny_results.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f)
                if (r["round"], r["submitter"], r["system_id"], r["benchmark"])
                == (cited["round"], cited["submitter"], cited["system_id"], cited["benchmark"])]
    assert len(rows) == 1
    published_ms = float(rows[0]["latency_ms"])
    assert cited["latency_ms"] == pytest.approx(published_ms, rel=1e-6)
    model = reference / REFERENCE_MODELS[cited["benchmark"] + "01"].relative_path
    modelled_ms = LatencyModel.from_board(board).inference_us(model_info(model).macs) / 1e3
    assert modelled_ms == pytest.approx(published_ms, rel=1e-4)


# --- the packaged catalogue of real boards ------------------------------------------------------------------

UPPER_HEX_ID = re.compile(r"[0-9A-F]{4}:[0-9A-F]{4}")
# Boards whose flash is not the boot region of their built-in pyocd target, and the length of that region:
PYOCD_FLASH_DIFFERS = {
    # RP2040 runs the board's external QSPI flash (2 MB on the Pico) through a 16 MB execute-in-place window.
    "rpi-pico": 0x100_0000,
    # The LPC55S69 has 640 KB of flash; pyocd's built-in target programs the first 608 KB (the top of the
    # flash holds the protected flash region).
    "lpc55s69-evk": 0x9_8000,
}


@pytest.fixture
def real_boards(monkeypatch):
    """The packaged real boards only (no lab folder from the environment)."""
    monkeypatch.delenv(BOARDS_ENV, raising=False)
    return [b for b in all_boards() if not b.virtual]


def test_packaged_real_boards_validate_with_unique_names_matching_their_files(real_boards):
    assert len(real_boards) >= 10
    names = [b.name for b in real_boards]
    assert len(names) == len(set(names))
    for board in real_boards:
        assert board.path.name == f"{board.name}.toml"
        assert load_board_file(board.path).data == board.data  # validates again, from the file alone
        assert board.data["sources"] and board.timestamp["pin"]


def test_real_boards_name_well_formed_upper_case_usb_ids(real_boards):
    for board in real_boards:
        ids = board.data["usb"]["vid_pid"]
        assert all(UPPER_HEX_ID.fullmatch(i) for i in ids), (board.name, ids)
        assert len(ids) == len(set(ids)), board.name


def test_pyocd_targets_exist_and_built_in_flash_agrees(real_boards):
    from pyocd.target import TARGET, normalise_target_type_name

    built_in = set()
    for board in real_boards:
        target = board.programming["pyocd_target"]
        assert normalise_target_type_name(target) == target, (board.name, target)  # as pyocd spells pack devices
        if board.programming["needs_pack"]:
            assert target not in TARGET, f"{board.name}: {target} is built into pyocd, set needs_pack = false"
            continue
        assert target in TARGET, f"{board.name}: {target} is not a built-in pyocd target"
        built_in.add(board.name)
        region = TARGET[target].MEMORY_MAP.get_boot_memory()
        assert region.start == board.flash_base, board.name
        expected = PYOCD_FLASH_DIFFERS.get(board.name, board.flash_bytes)
        assert region.length == expected, (board.name, hex(region.length))
    assert set(PYOCD_FLASH_DIFFERS) <= built_in
    assert len(built_in) >= 3


def _mhz(text: str) -> float | None:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*MHz\s*", text, re.IGNORECASE)
    return float(match.group(1)) if match else None


def _letters(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def test_published_system_ids_exist_and_their_clock_fits(reference, real_boards):
    with open(reference / "mlperf_tiny_results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    published = [b for b in real_boards if "published" in b.data]
    assert len(published) >= 8
    for board in published:
        for system_id in board.data["published"]["system_ids"]:
            matching = [r for r in rows if r["system_id"] == system_id]
            assert matching, f"{board.name}: system_id {system_id!r} is not in the results table"
            for row in matching:
                # the row describes this board (board_name may omit a suffix such as -Q)
                assert _letters(row["board_name"]) in _letters(board.name), (board.name, row["board_name"])
                mhz = _mhz(row["processor_freq"])
                if mhz is not None:  # a published run may use a lower clock, never a higher one
                    assert board.clock_hz >= mhz * 1e6, (board.name, system_id, row["processor_freq"])


def test_the_board_reference_lists_every_packaged_real_board(real_boards):
    text = (Path(__file__).resolve().parent.parent / "docs" / "boards.md").read_text(encoding="utf-8")
    table = {line.split("|")[1].strip().strip("`") for line in text.splitlines() if line.startswith("| `")}
    assert {b.name for b in real_boards} <= table
