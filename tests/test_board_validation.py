"""Board descriptors a person wrote wrong: every one gives exit code 10 and one line naming the
file and the key, never a traceback, and `tiny-runner boards` still lists the good ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO, assert_one_line_error

REAL = (REPO / "boards" / "nucleo-l4r5zi.toml").read_text()
VIRTUAL = (REPO / "boards" / "virtual-l4r5zi.toml").read_text()


def write_board(folder: Path, name: str, template: str, old: str = "", new: str = "") -> Path:
    folder.mkdir(exist_ok=True)
    text = template
    for packaged in ("nucleo-l4r5zi", "virtual-l4r5zi"):
        text = text.replace(f'name = "{packaged}"', f'name = "{name}"')
    assert old in text
    path = folder / f"{name}.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_a_latin1_descriptor_is_named_and_the_good_boards_are_still_listed(cli, tmp_path):
    folder = tmp_path / "boards"
    write_board(folder, "good-board", REAL)
    bad = folder / "latin1-board.toml"
    bad.write_bytes(write_board(folder, "latin1-board", REAL).read_bytes().replace(
        b"# as in the published energy results", "# 1800 mV \u00b1 5 %, 15 \u00b5A".encode("latin-1")))
    env = {"TINY_RUNNER_BOARDS": str(folder)}
    listing = cli("boards", env=env)
    assert_one_line_error(listing, 10, str(bad), "not UTF-8 text (byte 0xb1 on line 41)", "save the file as UTF-8")
    names = [line.split()[0] for line in listing.stdout.splitlines()[1:]]
    assert "good-board" in names and "qemu-m4" in names and "latin1-board" not in names
    for command in (("boards", "show", "latin1-board"), ("measure", "--board", "latin1-board", "-b", "kws")):
        assert_one_line_error(cli(*command, env=env), 10, str(bad), "not UTF-8")


def test_the_listing_counts_every_bad_descriptor(cli, tmp_path):
    folder = tmp_path / "boards"
    write_board(folder, "bad-one", REAL, "clock_hz = 120_000_000", 'clock_hz = "120 MHz"')
    write_board(folder, "bad-two", REAL, "clock_hz = 120_000_000", "clock_hz = -1")
    listing = cli("boards", env={"TINY_RUNNER_BOARDS": str(folder)})
    assert_one_line_error(listing, 10, "bad-one.toml: key 'clock_hz'", "(and 1 more bad descriptors)")
    assert "nucleo-l4r5zi" in listing.stdout


@pytest.mark.parametrize("supply, fragments, absent", [
    ("min_mv = 3_600\nmax_mv = 1_710\n",
     ["keys 'supply.min_mv' (3600) and 'supply.max_mv' (1710): min_mv must not exceed max_mv"], "default_mv"),
    ("default_mv = 1_000\nmin_mv = 1_710\nmax_mv = 3_600\n",
     ["key 'supply.default_mv' (1000): expected at least supply.min_mv (1710)"], "max_mv"),
    ("default_mv = 5_000\nmin_mv = 1_710\nmax_mv = 3_600\n",
     ["key 'supply.default_mv' (5000): expected at most supply.max_mv (3600)"], "min_mv"),
])
def test_a_supply_range_names_the_keys_it_has(cli, tmp_path, supply, fragments, absent):
    old = "default_mv = 1_800  # as in the published energy results\nmin_mv = 1_710\nmax_mv = 3_600\n"
    path = write_board(tmp_path / "boards", "odd-supply", REAL, old, supply)
    result = cli("boards", "show", "odd-supply", env={"TINY_RUNNER_BOARDS": str(path.parent)})
    line = assert_one_line_error(result, 10, str(path), *fragments)
    assert absent not in line


@pytest.mark.parametrize("old, new, fragment", [
    ("performance_baud = 115_200", "performance_baud = 99_999_999_999",
     "key 'uart.performance_baud': expected an integer 300..12_000_000 (baud), got 99999999999"),
    ("boot_timeout_s = 5.0", "boot_timeout_s = inf", "key 'uart.boot_timeout_s': expected seconds > 0, got inf"),
    # a quoted dotted key at the top would pass for uart.energy_baud but is not in [uart]
    ('name = "odd-board"', 'name = "odd-board"\n"uart.energy_baud" = 9_600',
     "unknown key 'uart.energy_baud' (a quoted key with a dot; write it as a table)"),
])
def test_values_that_would_reach_a_traceback_are_refused(cli, tmp_path, old, new, fragment):
    path = write_board(tmp_path / "boards", "odd-board", VIRTUAL)
    path.write_text(path.read_text().replace(old, new, 1))
    result = cli("measure", "--board", "odd-board", "-b", "ad", "--iterations", "1", "--warmup", "0",
                 "--out", str(tmp_path / "runs"), env={"TINY_RUNNER_BOARDS": str(path.parent)})
    assert_one_line_error(result, 10, str(path), fragment)


def test_a_board_name_that_is_no_plain_word_is_refused(cli, tmp_path):
    folder = tmp_path / "boards"
    path = write_board(folder, "my board", VIRTUAL)
    result = cli("boards", "show", "my board", env={"TINY_RUNNER_BOARDS": str(folder)})
    assert_one_line_error(result, 10, str(path), "key 'name'", "letters, digits, '.', '_', '-'", "got 'my board'")
