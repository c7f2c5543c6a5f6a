"""Board descriptors: the schema, its error messages, and the virtual board's calibration."""

from __future__ import annotations

import csv

import pytest

from tiny_runner.boards import BOARDS_ENV, all_boards, load_board, load_board_file
from tiny_runner.errors import BoardError
from tiny_runner.lab.latency import LatencyModel
from tiny_runner.modelinfo import model_info
from tiny_runner.models import REFERENCE_MODELS

GOOD = """
name = "{name}"
vendor = "Acme"
mcu = "X1"
core = "Cortex-M0+"
clock_hz = 48_000_000
flash_bytes = 262_144
ram_bytes = 32_768

[uart]
performance_baud = 115_200
accuracy_baud = 115_200
energy_baud = 9_600
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


@pytest.mark.parametrize("edit, key, expect", [
    (lambda t: t.replace('clock_hz = 48_000_000', 'clock_hz = "fast"'), "clock_hz", "positive integer"),
    (lambda t: t.replace('clock_hz = 48_000_000', 'clock_hz = -1'), "clock_hz", "positive integer"),
    (lambda t: t.replace('accuracy_baud = 115_200\n', ''), "uart.accuracy_baud", "missing"),
    (lambda t: t + 'db_chunk_bytes = 40\n', "uart.db_chunk_bytes", "1..38"),
    (lambda t: t.replace('mcu = "X1"', 'mcu = "X1"\nmcuu = "typo"'), "mcuu", "unknown key"),
    (lambda t: t + '\n[simulation]\ncycles_per_mac = 2.0\n', "simulation", "virtual boards"),
    (lambda t: t + 'boot_timeout_s = true\n', "uart.boot_timeout_s", "seconds"),
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
