"""`tiny-runner results`: a database rebuilt from real virtual-lab run directories (valid,
not valid and failed runs, two boards, two supply voltages, accuracy runs) is listed, filtered,
compared and shown with the runs' own figures; runs that are not valid never count among the
valid ones; bad options and bad databases end in one line with their exit code."""

from __future__ import annotations

import csv
import io
import json
import shutil
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import CliResult, assert_one_line_error, reference_path, run_cli
from tiny_runner.boards import load_board

BOARD = "virtual-l4r5zi"
FAST_BOARD = "virtual-fast"  # the same virtual board at twice the clock: a second board to compare
ENV = {"TINY_RUNNER_MODEL_DIR": str(reference_path())}
GARBAGE = {"garbage-bytes": b"\xc3\x28 not a record \xff", "garbage-text": b"{ half a record"}


@dataclass
class Lab:
    out: Path  # the runs folder
    db: Path  # the database reindex built from it (not the one measure may write itself)
    runs: dict[str, dict]  # name -> the run's results.json, in the order they ran
    reindex: CliResult


def in_order(runs) -> list[dict]:
    """As the database lists runs: by start time (whole seconds), then run directory."""
    return sorted(runs, key=lambda r: (r["started"], r["run_dir"]))


def _measure(out: Path, expected_code: int, *args: str, env: dict | None = None) -> dict:
    before = set(out.iterdir()) if out.exists() else set()
    result = run_cli("measure", "--out", str(out), "--json", "--quiet", "--lab-speed", "1000", *args,
                     env=dict(ENV, **(env or {})))
    assert result.code == expected_code, (args, result.code, result.stderr)
    [run_dir] = [path for path in set(out.iterdir()) - before if path.is_dir()]
    return json.loads((run_dir / "results.json").read_text(encoding="utf-8"))


def _labelled_dataset(root: Path) -> tuple[Path, str]:
    """Synthetic kws files as a plain labelled dataset (no dataset.json, so its accuracy runs are
    valid): y_labels.csv holds the model's own classes (top-1 100 %), y_labels_alt.csv relabels 2 of 8 (75 %)."""
    synth = root / "synth-kws"
    made = run_cli("dataset", "synth", "-b", "kws", "--out", str(synth), "-n", "8", env=ENV)
    assert made.code == 0, made.stderr
    plain = root / "plain-kws"
    shutil.copytree(synth, plain)
    (plain / "dataset.json").unlink()
    lines = (plain / "y_labels.csv").read_text(encoding="utf-8").splitlines()
    relabelled = []
    for number, line in enumerate(lines):
        name, classes, label = line.split(",")
        relabelled.append(f"{name},{classes},{(int(label) + 1) % int(classes)}" if number < 2 else line)
    (plain / "y_labels_alt.csv").write_text("\n".join(relabelled) + "\n", encoding="utf-8")
    return synth, "y_labels_alt.csv"


@pytest.fixture(scope="module")
def lab(tmp_path_factory, reference) -> Lab:
    root = tmp_path_factory.mktemp("results")
    out = root / "runs"
    boards = root / "boards"
    boards.mkdir()
    descriptor = load_board(BOARD).path.read_text(encoding="utf-8")
    (boards / f"{FAST_BOARD}.toml").write_text(
        descriptor.replace(f'name = "{BOARD}"', f'name = "{FAST_BOARD}"').replace("clock_hz = 120_000_000",
                                                                                  "clock_hz = 240_000_000"),
        encoding="utf-8")
    synth, alt_labels = _labelled_dataset(root)
    perf, energy = ("--board", BOARD, "-b", "kws", "--target-window", "10"), ("--mode", "energy")
    runs = {
        "perf-a": _measure(out, 0, *perf),
        "perf-b": _measure(out, 0, *perf),
        "perf-fast": _measure(out, 0, "--board", FAST_BOARD, "-b", "kws", "--target-window", "10",
                              env={"TINY_RUNNER_BOARDS": str(boards)}),
        "perf-ad": _measure(out, 0, "--board", BOARD, "-b", "ad", "--target-window", "10"),
        "short": _measure(out, 3, "--board", BOARD, "-b", "kws", "--iterations", "10"),
        "failed": _measure(out, 15, "--board", BOARD, "-b", "kws", "--lab-fault", "error_reply.infer=e-[broken]"),
        "energy-1800-a": _measure(out, 0, *perf, *energy, "--voltage", "1800"),
        "energy-1800-b": _measure(out, 0, *perf, *energy, "--voltage", "1800"),
        "energy-3000": _measure(out, 0, *perf, *energy, "--voltage", "3000"),
        "accuracy-synthetic": _measure(out, 3, "--board", BOARD, "-b", "kws", "--mode", "accuracy",
                                       "--dataset", str(synth)),
        "accuracy": _measure(out, 0, "--board", BOARD, "-b", "kws", "--mode", "accuracy",
                             "--dataset", str(root / "plain-kws")),
        "accuracy-alt": _measure(out, 0, "--board", BOARD, "-b", "kws", "--mode", "accuracy",
                                 "--dataset", str(root / "plain-kws"), "--labels", alt_labels),
    }
    for name, content in GARBAGE.items():
        (out / name).mkdir()
        (out / name / "results.json").write_bytes(content)
    db = root / "db" / "results.db"
    return Lab(out, db, runs, run_cli("results", "reindex", str(out), "--db", str(db)))


def results(lab: Lab, *args: str) -> CliResult:
    result = run_cli("results", *args, "--db", str(lab.db))
    assert result.code == 0, (args, result.code, result.stderr)
    return result


def _valid(record: dict) -> bool:
    return record["status"] == "completed" and record["valid"]


def _supply(record: dict) -> float | None:
    return (record.get("monitor") or {}).get("voltage_mv")


def _accuracy(record: dict) -> float | None:
    return record.get("top1_pct") if record["mode"] == "accuracy" else None


def _fixed(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


# -- reindex ---------------------------------------------------------------------------------------
def test_reindex_records_every_run_directory_and_names_the_skipped_ones(lab):
    assert lab.reindex.code == 0, lab.reindex.stderr
    lines = lab.reindex.stdout.splitlines()
    assert lines[0] == f"recorded {len(lab.runs)} runs from {lab.out} in {lab.db}"
    skipped = sorted(lines[1:])
    assert len(skipped) == len(GARBAGE)
    assert skipped[0].startswith(f"skipped {lab.out / 'garbage-bytes' / 'results.json'}: not UTF-8")
    assert skipped[1].startswith(f"skipped {lab.out / 'garbage-text' / 'results.json'}: not JSON")


def test_reindex_twice_records_each_run_once(lab, tmp_path):
    db = tmp_path / "twice.db"
    for _ in range(2):
        again = run_cli("results", "reindex", "--out", str(lab.out), "--db", str(db), "--json")
        assert again.code == 0, again.stderr
        assert again.json()["recorded"] == len(lab.runs) and len(again.json()["skipped"]) == len(GARBAGE)
    listed = run_cli("results", "--db", str(db), "--json").json()
    assert sorted(run["run_dir"] for run in listed) == sorted(r["run_dir"] for r in lab.runs.values())


# -- list ------------------------------------------------------------------------------------------
def test_list_prints_one_row_per_run_with_its_own_figures(lab):
    lines = results(lab).stdout.splitlines()
    assert lines[0].split() == ["id", "started", "board", "benchmark", "mode", "supply", "mV", "valid", "latency",
                                "ms", "uJ/inf", "accuracy", "run_dir"]
    rows = lines[1:]
    # oldest first; runs started in the same second by their directory
    assert [row.split()[-1] for row in rows] == [r["run_dir"] for r in in_order(lab.runs.values())]
    for record, row in zip(in_order(lab.runs.values()), rows):
        fields = row.split()
        assert fields[1:5] == [record["started"], record["board"], record["benchmark"], record["mode"]]
        assert fields[5] == ("-" if _supply(record) is None else f"{_supply(record):g}")
        assert fields[6] == ("failed" if record["status"] == "failed" else "yes" if record["valid"] else "no")
        assert fields[7] == _fixed(record.get("median_latency_ms"))
        assert fields[8] == _fixed(record.get("median_energy_uj_per_inf"))
        accuracy = _accuracy(record)
        assert fields[9:-1] == (["-"] if accuracy is None else [f"{accuracy:.2f}%", "top1"])


def test_list_json_and_csv_hold_the_exact_figures(lab):
    listed = {run["run_dir"]: run for run in results(lab, "list", "--json").json()}
    rows = {row["run_dir"]: row for row in csv.DictReader(io.StringIO(results(lab, "list", "--csv").stdout))}
    assert set(listed) == set(rows) == {r["run_dir"] for r in lab.runs.values()}
    for record in lab.runs.values():
        run, row = listed[record["run_dir"]], rows[record["run_dir"]]
        assert run["valid"] is record["valid"] and run["status"] == record["status"]
        assert row["valid"] == ("true" if record["valid"] else "false") and row["status"] == record["status"]
        for column in ("median_latency_ms", "median_energy_uj_per_inf", "median_throughput_inf_per_s"):
            assert run[column] == record.get(column), column
            assert row[column] == ("" if record.get(column) is None else repr(record[column])), column
        assert run["supply_mv"] == _supply(record)
        assert run["accuracy"] == _accuracy(record)
        assert json.loads(row["violations"]) == run["violations"] == record["violations"]


FILTERS = [
    (("--benchmark", "kws"), lambda r: r["benchmark"] == "kws01"),
    (("--benchmark", "KWS01"), lambda r: r["benchmark"] == "kws01"),
    (("-b", "ad"), lambda r: r["benchmark"] == "ad01"),
    (("--mode", "energy"), lambda r: r["mode"] == "energy"),
    (("--voltage", "1800"), lambda r: _supply(r) == 1800),
    (("--voltage", "3000", "--mode", "energy"), lambda r: _supply(r) == 3000),
    (("--board", FAST_BOARD), lambda r: r["board"] == FAST_BOARD),
    (("--valid-only",), lambda r: r["valid"]),
    (("--mode", "performance", "--board", BOARD, "-b", "kws", "--valid-only"),
     lambda r: r["mode"] == "performance" and r["board"] == BOARD and r["benchmark"] == "kws01" and r["valid"]),
    (("--campaign", "nightly"), lambda r: False),
]


@pytest.mark.parametrize("options,wanted", FILTERS, ids=[" ".join(options) for options, _ in FILTERS])
def test_filters_select_exactly_the_matching_runs(lab, options, wanted):
    listed = [run["run_dir"] for run in results(lab, "list", *options, "--json").json()]
    assert listed == [r["run_dir"] for r in in_order(lab.runs.values()) if wanted(r)]


def test_since_and_until_take_dates_and_date_times(lab):
    records = list(lab.runs.values())
    middle = records[len(records) // 2]["started"]  # written as 2025-03-01T14:30:00Z (UTC)

    def started(*options: str) -> list[str]:
        return [run["started"] for run in results(lab, *options, "--json").json()]

    assert started("--since", middle) == [r["started"] for r in records if r["started"] >= middle]
    assert started("--until", middle) == [r["started"] for r in records if r["started"] < middle]
    # the same instant two hours east of UTC
    instant = datetime.strptime(middle, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    east = instant.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert started("--since", east) == started("--since", middle)
    # a date alone: from its midnight; --until includes the whole day
    day = records[0]["started"][:10]
    assert started("--since", day, "--until", day) == [r["started"] for r in records if r["started"][:10] == day]
    next_day = (instant + timedelta(days=2)).date().isoformat()
    assert started("--since", next_day) == []
    assert "(no runs match)" in results(lab, "--since", next_day).stdout


# -- compare ---------------------------------------------------------------------------------------
SPREAD_OF = {"energy": "median_energy_uj_per_inf", "accuracy": "top1_pct", "performance": "median_latency_ms"}


def _expected_groups(records, key) -> dict[tuple, dict]:
    groups = defaultdict(list)
    for record in records:
        groups[(record["benchmark"], record["mode"], key(record))].append(record)
    expected = {}
    for group, members in groups.items():
        valid = [r for r in members if _valid(r)]

        def median(column, runs=valid):
            figures = [r[column] for r in runs if r.get(column) is not None]
            return statistics.median(figures) if figures else None

        figures = [r[SPREAD_OF[group[1]]] for r in valid if r.get(SPREAD_OF[group[1]]) is not None]
        spread = (max(figures) - min(figures)) / statistics.median(figures) * 100 if figures else None
        expected[group] = {"runs": len(valid), "not_valid": len(members) - len(valid),
                           "median_energy_uj_per_inf": median("median_energy_uj_per_inf"),
                           "median_latency_ms": median("median_latency_ms"),
                           "median_accuracy": median("top1_pct") if group[1] == "accuracy" else None,
                           "spread_pct": spread, "not_valid_dirs": {r["run_dir"] for r in members if not _valid(r)}}
    return expected


def _check_groups(lab: Lab, got: list[dict], expected: dict[tuple, dict], column: str) -> None:
    ids = {run["id"]: run["run_dir"] for run in results(lab, "--json").json()}
    assert {(g["benchmark"], g["mode"], g[column]) for g in got} == set(expected)
    for group in got:
        want = expected[(group["benchmark"], group["mode"], group[column])]
        for name in ("runs", "not_valid", "median_energy_uj_per_inf", "median_latency_ms", "median_accuracy"):
            assert group[name] == want[name], (group, name)
        assert group["spread_pct"] == pytest.approx(want["spread_pct"], rel=1e-12)
        assert {ids[i] for i in group["not_valid_run_ids"]} == want["not_valid_dirs"]
        assert not {ids[i] for i in group["run_ids"]} & want["not_valid_dirs"]


def test_compare_by_board_takes_medians_over_the_valid_repeats_only(lab):
    got = results(lab, "compare", "--by", "board", "--json").json()
    expected = _expected_groups(lab.runs.values(), lambda r: r["board"])
    _check_groups(lab, got, expected, "board")
    perf = expected[("kws01", "performance", BOARD)]
    assert (perf["runs"], perf["not_valid"]) == (2, 2)  # the short-window run and the failed one stay apart
    accuracy = expected[("kws01", "accuracy", BOARD)]
    assert (accuracy["runs"], accuracy["not_valid"], accuracy["median_accuracy"]) == (2, 1, 87.5)


def test_compare_table_shows_each_group_once_and_no_invalid_figure(lab):
    table = results(lab, "compare").stdout.splitlines()  # --by board is the default
    assert table[0].split() == ["benchmark", "mode", "board", "runs", "not", "valid", "uJ/inf", "latency", "ms",
                                "accuracy", "spread", "%"]
    rows = {tuple(line.split()[:3]): line.split()[3:] for line in table[1:]}
    expected = _expected_groups(lab.runs.values(), lambda r: r["board"])
    assert set(rows) == set(expected)
    for group, want in expected.items():
        accuracy = ["-"] if want["median_accuracy"] is None else [f"{want['median_accuracy']:.2f}%", "top1"]
        assert rows[group] == [str(want["runs"]), str(want["not_valid"]), _fixed(want["median_energy_uj_per_inf"]),
                               _fixed(want["median_latency_ms"]), *accuracy, _fixed(want["spread_pct"])]
    short = lab.runs["short"]
    assert f"{short['median_latency_ms']:.3f}" not in "\n".join(table)


def test_compare_by_voltage_in_json_and_csv(lab):
    got = results(lab, "compare", "--by", "voltage", "--mode", "energy", "--json").json()
    energy = [r for r in lab.runs.values() if r["mode"] == "energy"]
    expected = _expected_groups(energy, _supply)
    _check_groups(lab, got, expected, "supply_mv")
    assert [(g["supply_mv"], g["runs"]) for g in got] == [(1800, 2), (3000, 1)]
    assert all(g["spread_of"] == "median_energy_uj_per_inf" for g in got)
    rows = list(csv.DictReader(io.StringIO(results(lab, "compare", "--by", "voltage", "--mode", "energy",
                                                   "--csv").stdout)))
    assert [(float(row["supply_mv"]), int(row["runs"])) for row in rows] == [(1800, 2), (3000, 1)]
    for row, group in zip(rows, got):
        assert float(row["median_energy_uj_per_inf"]) == group["median_energy_uj_per_inf"]
        assert float(row["spread_pct"]) == group["spread_pct"]
        assert json.loads(row["run_ids"]) == group["run_ids"]


def test_compare_valid_only_leaves_nothing_to_count_apart(lab):
    got = results(lab, "compare", "--valid-only", "--json").json()
    assert all(group["not_valid"] == 0 for group in got)
    assert sum(group["runs"] for group in got) == sum(_valid(r) for r in lab.runs.values())


# -- show ------------------------------------------------------------------------------------------
def test_show_prints_a_run_and_its_windows_by_id_or_directory(lab):
    record = lab.runs["energy-1800-a"]
    [run] = [run for run in results(lab, "--json").json() if run["run_dir"] == record["run_dir"]]
    shown = results(lab, "show", str(run["id"]), "--json").json()
    assert shown["run"] == run
    assert [w["energy_uj_per_inf"] for w in shown["windows"]] == [w["energy_uj_per_inf"] for w in record["windows"]]
    assert [w["latency_ms"] for w in shown["windows"]] == [w["latency_ms"] for w in record["windows"]]
    for target in (record["run_dir"], Path(record["run_dir"]).name):
        text = results(lab, "show", target).stdout.splitlines()
        assert ["run_dir", record["run_dir"]] in [line.split() for line in text]
        windows = text[text.index("") + 1:]
        assert windows[0].split()[:2] == ["window", "input"]
        assert [line.split()[0] for line in windows[1:]] == ["1", "2", "3", "4", "5"]
        assert [line.split()[-2] for line in windows[1:]] == [f"{w['energy_uj_per_inf']:.3f}"
                                                              for w in record["windows"]]


# -- errors ----------------------------------------------------------------------------------------
USAGE_ERRORS = [
    (("--since", "2025-02-30"), ("--since", "2025-02-30", "not an ISO date")),
    (("--until", "yesterday"), ("--until", "'yesterday'")),
    (("--since", "2025-03-02", "--until", "2025-03-01"), ("not before --until",)),
    (("-b", "speech"), ("unknown benchmark 'speech'",)),
    (("--voltage", "-5"), ("--voltage",)),
    (("show", "999999"), ("no run '999999'",)),
    (("list", "--by", "board"), ("--by is for results compare",)),
    (("show", "1", "--board", BOARD), ("--board filters list and compare",)),
]


@pytest.mark.parametrize("options,fragments", USAGE_ERRORS, ids=[" ".join(o) for o, _ in USAGE_ERRORS])
def test_bad_options_are_one_line_usage_errors(lab, options, fragments):
    assert_one_line_error(run_cli("results", *options, "--db", str(lab.db)), 2, *fragments)


def test_a_missing_database_is_named_and_not_created(tmp_path):
    missing = tmp_path / "nowhere" / "results.db"
    assert_one_line_error(run_cli("results", "--db", str(missing)), 34, str(missing), "does not exist")
    assert_one_line_error(run_cli("results", "compare", "--out", str(tmp_path)), 34,
                          str(tmp_path / "tiny-runner.db"))
    assert not missing.parent.exists() and not (tmp_path / "tiny-runner.db").exists()


def test_a_corrupt_database_is_refused_with_one_line(tmp_path):
    corrupt = tmp_path / "tiny-runner.db"
    garbage = bytes(range(256)) * 16
    corrupt.write_bytes(garbage)
    for args in (("list",), ("compare",), ("show", "1"), ("reindex", str(tmp_path))):
        assert_one_line_error(run_cli("results", *args, "--db", str(corrupt)), 34, str(corrupt),
                              "not an SQLite database")
    assert corrupt.read_bytes() == garbage


def test_reindex_needs_a_folder(tmp_path):
    assert_one_line_error(run_cli("results", "reindex", str(tmp_path / "absent")), 2, str(tmp_path / "absent"))
    assert not (tmp_path / "absent").exists()
