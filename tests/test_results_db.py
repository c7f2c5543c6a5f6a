"""The results database: its versioned schema, every `measure` run recorded in it (completed,
not valid or failed), rows that hold the run's own figures, several processes writing at once
without losing or corrupting a row, a rebuild from the run directories, and bad databases
refused with one line before a run starts."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import assert_one_line_error, reference_path, run_cli
from tiny_runner.db.schema import SCHEMA_VERSION
from tiny_runner.db.store import ResultsDb
from tiny_runner.errors import DatabaseError

BOARD = "virtual-l4r5zi"
ENV = {"TINY_RUNNER_MODEL_DIR": str(reference_path())}
WRITERS, RUNS_EACH = 4, 25


def measure(out: Path, *args: str) -> tuple[int, dict | None]:
    result = run_cli("measure", "--board", BOARD, "--out", str(out), "--json", "--quiet", "--lab-speed", "1000",
                     *args, env=ENV)
    return result.code, (result.json() if result.code in (0, 3) else None)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """A runs folder as `measure` leaves it: a valid performance run, a valid energy run, a run that
    is not valid (short windows) and one that failed (a DUT that stops answering)."""
    out = tmp_path_factory.mktemp("runs")
    runs = {}
    runs["performance"] = measure(out, "-b", "kws", "--target-window", "10")
    runs["energy"] = measure(out, "-b", "kws", "--mode", "energy", "--target-window", "10", "--voltage", "3000")
    runs["short"] = measure(out, "-b", "kws", "--iterations", "10")
    runs["failed"] = measure(out, "-b", "kws", "--lab-fault", "silent_after=3")
    return out, runs


def test_every_measure_run_is_recorded_with_its_figures(measured):
    out, runs = measured
    assert [code for code, _ in runs.values()] == [0, 0, 3, 14]
    with ResultsDb(out / "tiny-runner.db") as db:
        rows = db.runs()
        assert db.version == SCHEMA_VERSION
        by_dir = {row["run_dir"]: row for row in rows}
        assert len(rows) == 4
        perf = by_dir[runs["performance"][1]["run_dir"]]
        assert perf["valid"] is True and perf["status"] == "completed" and perf["benchmark"] == "kws01"
        assert perf["median_latency_ms"] == runs["performance"][1]["median_latency_ms"]
        assert perf["host"] and perf["virtual"] == 1 and perf["firmware_mode"] == "performance"
        assert [w["seconds"] for w in db.windows(perf["id"])] == [w["seconds"] for w in
                                                                   runs["performance"][1]["windows"]]
        energy = by_dir[runs["energy"][1]["run_dir"]]
        assert energy["median_energy_uj_per_inf"] == runs["energy"][1]["median_energy_uj_per_inf"]
        assert energy["supply_mv"] == 3000 and energy["monitor_model"] == "LPM01A" and energy["relay"] == "ifboard"
        assert energy["monitor_serial"] == runs["energy"][1]["provenance"]["monitor"]["serial"]
        assert [w["energy_uj"] for w in db.windows(energy["id"])] == [w["energy_uj"] for w in
                                                                       runs["energy"][1]["windows"]]
        short = by_dir[runs["short"][1]["run_dir"]]
        assert short["valid"] is False and short["violations"] == runs["short"][1]["violations"]
        failed = [row for row in rows if row["status"] == "failed"]
        assert len(failed) == 1 and "no reply" in failed[0]["stop_reason"]
        assert db.record_of(perf["id"]) == runs["performance"][1]
        assert [row["run_dir"] for row in db.runs(mode="energy")] == [runs["energy"][1]["run_dir"]]
        assert [row["run_dir"] for row in db.runs(voltage_mv=3000)] == [runs["energy"][1]["run_dir"]]
        assert len(db.runs(valid_only=True)) == 2


def test_the_database_is_rebuilt_from_the_run_directories(measured, tmp_path):
    out, _ = measured
    (out / "not-a-run").mkdir()
    (out / "not-a-run" / "results.json").write_text("{ garbage")
    with ResultsDb(out / "tiny-runner.db") as written, ResultsDb(tmp_path / "rebuilt.db") as rebuilt:
        count, skipped = rebuilt.reindex(out)
        assert count == 4 and len(skipped) == 1 and "not JSON" in skipped[0]

        def comparable(rows):
            return sorted(({k: v for k, v in row.items() if k not in ("id", "recorded")} for row in rows),
                          key=lambda row: row["run_dir"])
        assert comparable(rebuilt.runs()) == comparable(written.runs())
        again, _ = rebuilt.reindex(out)  # recording a run again replaces it
        assert again == 4 and len(rebuilt.runs()) == 4
    # a run directory deleted from the folder leaves the rebuilt database with it
    moved = tmp_path / "elsewhere"
    shutil.copytree(out, moved, ignore=shutil.ignore_patterns("*.db*"))
    victim = next(p for p in moved.iterdir() if p.name.endswith("-performance"))
    shutil.rmtree(victim)
    with ResultsDb(tmp_path / "moved.db") as db:
        db.reindex(moved)  # recorded where they are now
        assert sorted(row["run_dir"] for row in db.runs()) == sorted(str(p) for p in moved.iterdir()
                                                                     if (p / "results.json").is_file()
                                                                     and p.name != "not-a-run")
    with ResultsDb(tmp_path / "rebuilt.db") as rebuilt:
        shutil.rmtree(out / "not-a-run")
        kept = rebuilt.runs()[0]["run_dir"]
        shutil.move(kept, tmp_path / "gone")
        rebuilt.reindex(out)
        assert kept not in {row["run_dir"] for row in rebuilt.runs()} and len(rebuilt.runs()) == 3
        shutil.move(tmp_path / "gone", kept)


def _write_runs(path: str, template: dict, writer: int) -> None:
    with ResultsDb(path) as db:
        for n in range(RUNS_EACH):
            db.record(dict(template, run_dir=f"{template['run_dir']}-w{writer}-{n}"))


def test_concurrent_writers_lose_and_corrupt_nothing(measured, tmp_path):
    template = measured[1]["energy"][1]
    path = str(tmp_path / "shared.db")
    ResultsDb(path).close()  # created (and migrated) once; the writers then race on rows
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_runs, args=(path, template, w)) for w in range(WRITERS)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(120)
        assert process.exitcode == 0
    with ResultsDb(path) as db:
        rows = db.runs()
        assert len(rows) == WRITERS * RUNS_EACH
        assert len({row["run_dir"] for row in rows}) == WRITERS * RUNS_EACH
        for row in rows:
            assert len(db.windows(row["id"])) == len(template["windows"])
            assert db.record_of(row["id"])["median_energy_uj_per_inf"] == template["median_energy_uj_per_inf"]
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_database_from_a_newer_tiny_runner_is_refused_untouched(tmp_path):
    path = tmp_path / "newer.db"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA user_version = 99")
    connection.execute("CREATE TABLE future (x)")
    connection.commit()
    connection.close()
    with pytest.raises(DatabaseError, match="schema version 99, written by a newer tiny-runner"):
        ResultsDb(path)
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == 99
    assert connection.execute("SELECT name FROM sqlite_master").fetchall() == [("future",)]


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_bytes(b"this is no database" * 100), "not an SQLite database"),
    (lambda p: p.mkdir(), "not a regular file"),
])
def test_measure_refuses_a_bad_database_before_the_run(tmp_path, make, words):
    db = tmp_path / "bad.db"
    make(db)
    result = run_cli("measure", "--board", BOARD, "-b", "kws", "--out", str(tmp_path / "runs"), "--db", str(db),
                     env=ENV)
    assert_one_line_error(result, 34, words)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_run_records_where_it_is_told(tmp_path):
    code, results = measure(tmp_path / "runs", "-b", "ad", "--target-window", "10", "--db", str(tmp_path / "x.db"))
    assert code == 0 and not (tmp_path / "runs" / "tiny-runner.db").exists()
    with ResultsDb(tmp_path / "x.db") as db:
        (row,) = db.runs()
        assert row["run_dir"] == results["run_dir"] and json.loads(json.dumps(row))["benchmark"] == "ad01"
