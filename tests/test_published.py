"""The published MLPerf Tiny results the package ships: the reference table itself (every row
with its source), listed and filtered as it is written, replaced for this user by a checked newer
table and reset, and bad tables refused with one line while the table in use stays."""

from __future__ import annotations

import csv
import io
import json

import pytest

from conftest import assert_one_line_error, run_cli
from tiny_runner.published.table import COLUMNS, NUMERIC, shipped_path


@pytest.fixture
def state(tmp_path):
    return {"TINY_RUNNER_STATE": str(tmp_path / "state")}


def published(*args: str, env: dict):
    return run_cli("published", *args, env=env)


def reference_rows(reference) -> list[dict]:
    with open(reference / "mlperf_tiny_results.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_shipped_table_is_the_reference_table_with_every_source(reference, state):
    assert shipped_path().read_bytes() == (reference / "mlperf_tiny_results.csv").read_bytes()
    info = published("--json", env=state)
    assert info.code == 0, info.stderr
    summary = info.json()
    assert summary["rows"] == 365 and summary["updated"] is False
    assert summary["rounds"] == ["v0.5", "v0.7", "v1.0", "v1.1", "v1.2", "v1.3"]
    assert summary["benchmarks"] == {"kws": 89, "vww": 86, "ic": 96, "ad": 85, "sww": 9}
    rows = json.loads(published("list", "--json", env=state).stdout)
    assert all(r["repo"].startswith("mlcommons/") and len(r["commit"]) == 40 and r["results_dir"] for r in rows)


def test_list_filters_and_keeps_every_figure_exact(reference, state):
    wanted = [r for r in reference_rows(reference) if r["benchmark"] == "kws" and r["round"] == "v1.3"]
    listed = json.loads(published("list", "-b", "kws", "--round", "v1.3", "--json", env=state).stdout)
    assert [r["system_id"] for r in listed] == [r["system_id"] for r in wanted] and len(wanted) >= 5
    for got, row in zip(listed, wanted):
        for column in NUMERIC:
            assert got[column] == (float(row[column]) if row[column] else None), column
    as_csv = list(csv.DictReader(io.StringIO(published("list", "--csv", "--system", wanted[1]["system_id"],
                                                       env=state).stdout)))
    assert len(as_csv) == sum(r["system_id"] == wanted[1]["system_id"] for r in reference_rows(reference))
    same = next(r for r in as_csv if r["benchmark"] == "kws" and r["round"] == "v1.3")
    assert {c: float(same[c]) for c in NUMERIC if same[c]} == {c: float(wanted[1][c]) for c in NUMERIC
                                                               if wanted[1][c]}
    table = published("list", "-b", "sww", env=state)
    assert table.stdout.splitlines()[-1] == "9 results" and "latency ms" in table.stdout.splitlines()[0]


def test_update_keeps_a_newer_table_for_this_user_and_reset_goes_back(reference, state, tmp_path):
    rows = reference_rows(reference)
    newer = dict(rows[-1], round="v1.4", system_id="lab-board-1", commit="ab" * 20)
    path = tmp_path / "v1.4.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(rows + [newer])
    updated = published("update", str(path), "--json", env=state)
    assert updated.code == 0, updated.stderr
    assert updated.json()["rows"] == 366 and updated.json()["updated"] and updated.json()["rounds"][-1] == "v1.4"
    listed = json.loads(published("list", "--round", "v1.4", "--json", env=state).stdout)
    assert [r["system_id"] for r in listed] == ["lab-board-1"]
    assert shipped_path().read_bytes() == (reference / "mlperf_tiny_results.csv").read_bytes()  # never written
    reset = published("reset", env=state)
    assert reset.code == 0 and "updated copy removed" in reset.stdout and "365 published results" in reset.stdout


def _bad(rows: list[dict], line: int, column: str, value: str) -> list[dict]:
    rows = [dict(r) for r in rows]
    rows[line - 2][column] = value  # line 1 is the header
    return rows


@pytest.mark.parametrize("change, words", [
    (lambda rows: _bad(rows, 40, "latency_ms", "fast"), ":40: latency_ms 'fast' is not a number"),
    (lambda rows: _bad(rows, 7, "energy_uJ_per_inf", "-3"), ":7: energy_uJ_per_inf '-3' is not a number"),
    (lambda rows: _bad(rows, 9, "commit", ""), ":9: commit is empty; every row names its system and its source"),
    (lambda rows: _bad(rows, 11, "benchmark", "asr"), ":11: benchmark 'asr'"),
    (lambda rows: _bad(rows, 12, "round", "1.3"), ":12: round '1.3'"),
    (lambda rows: rows + [rows[3]], ":367: the same result as line 5"),
    (lambda rows: [], "the table has no rows"),
])
def test_bad_tables_are_refused_and_the_table_in_use_stays(reference, state, tmp_path, change, words):
    path = tmp_path / "bad.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(change(reference_rows(reference)))
    assert_one_line_error(published("update", str(path), env=state), 39, str(path), words)
    assert published("--json", env=state).json()["updated"] is False


@pytest.mark.parametrize("content, words", [
    (b"round,division\nv1.3,closed\n", "no column 'submitter'"),
    (b"\xff\xfe" + "round".encode("utf-16-le"), "not UTF-8 text"),
])
def test_files_that_are_not_the_table(state, tmp_path, content, words):
    path = tmp_path / "other.csv"
    path.write_bytes(content)
    assert_one_line_error(published("update", str(path), env=state), 39, words)
    assert_one_line_error(published("update", str(tmp_path / "missing.csv"), env=state), 39, "cannot read")
    assert_one_line_error(published("list", str(path), env=state), 2, "the other actions take none")
    assert_one_line_error(published("info", "--round", "v1.3", env=state), 2, "are for published list")
