"""Benchmarks are plug-ins: a benchmark defined entirely in this test tree
(tests/plugins/toy_benchmark, registered by its own dist-info as another distribution would be)
is listed, gets a synthetic dataset, and is measured end to end on the virtual lab, whose DUT
reports its id and converts its inputs its way, touching no package file."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, assert_one_line_error, run_cli
from tiny_runner import benchmarks
from tiny_runner.errors import UsageError
from tiny_runner.model.reference import REFERENCE_MODELS
from tiny_runner.model.tflm import TflmWorker
from tiny_runner.protocol.dut import parse_results

PLUGINS = REPO / "tests" / "plugins"
BOARD = "virtual-l4r5zi"
BUILT_IN = ["kws01", "vww01", "ic01", "ic02", "ad01", "sww01"]


def with_plugins(*folders) -> dict:
    return {"PYTHONPATH": os.pathsep.join([*map(str, folders), os.environ.get("PYTHONPATH", "")])}


def toy_cli(*args: str):
    return run_cli(*args, env=with_plugins(PLUGINS))


@pytest.fixture
def toy(monkeypatch):
    """The toy benchmark's declaration, registered in this process too."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    benchmarks.clear_cache()
    yield benchmarks.get_benchmark("toy")
    monkeypatch.undo()
    benchmarks.clear_cache()


def toy_input(raw: bytes) -> np.ndarray:
    """What the toy's port feeds the model, worked out here: unsigned bytes centred on zero."""
    return (np.frombuffer(raw, np.uint8).astype(np.int16) - 128).astype(np.int8)


def test_the_toy_benchmark_is_listed_from_its_declaration():
    listing = toy_cli("benchmarks", "--json")
    assert listing.code == 0, listing.stderr
    assert [b["id"] for b in listing.json()["benchmarks"]] == [*BUILT_IN, "toy01"]
    assert listing.json()["benchmarks"][-1] == {
        "id": "toy01", "name": "toy", "task": "toy sound classes from raw bytes (a plug-in from outside tiny-runner)",
        "metric": "agreement", "modes": ["performance", "accuracy"], "quality_target": "agreement >= 50 %",
        "input_bytes": 490, "output_values": 12, "reference_model": "kws01/kws_ref_model.tflite"}
    assert listing.json()["notes"] == []
    models = toy_cli("models").stdout
    assert re.search(r"^toy01 +kws01/kws_ref_model\.tflite +53936 +[\d,]+  ok \(sha256 verified\)$", models, re.M)
    alone = run_cli("benchmarks", "--json")
    assert [b["id"] for b in alone.json()["benchmarks"]] == BUILT_IN  # the package alone does not know it


def test_the_toy_declaration_is_found_in_process_and_forgotten_without_its_path(toy):
    assert toy.id == "toy01" and benchmarks.get_benchmark("TOY01") is toy and "toy01" in benchmarks.BENCHMARKS
    assert REFERENCE_MODELS["toy01"].relative_path == "kws01/kws_ref_model.tflite"
    tensor, floats = toy.convert_input(bytes([0, 128, 255]), None)
    assert tensor.tolist() == [-128, 0, 127] and floats is None


def test_without_its_path_the_toy_is_unknown():
    benchmarks.clear_cache()
    assert "toy01" not in benchmarks.BENCHMARKS and "toy01" not in REFERENCE_MODELS
    with pytest.raises(UsageError, match=r"unknown benchmark 'toy'; known: kws/kws01, vww/vww01, "
                                                     r"ic/ic01, ic2/ic02, ad/ad01, sww/sww01$"):
        benchmarks.get_benchmark("toy")


def test_a_performance_run_of_the_toy_uses_its_id_and_its_own_input_conversion(tmp_path, reference, toy):
    result = toy_cli("measure", "--board", BOARD, "--benchmark", "toy", "--mode", "performance",
                     "--out", str(tmp_path), "--json", "-q")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["valid"] and data["benchmark"] == "toy01" and data["dut"]["model_id"] == "toy01"
    assert data["quality_target"] == "agreement >= 50 %"
    rngs = [np.random.Generator(np.random.MT19937([0, i])) for i in range(5)]
    raws = [rng.integers(0, 256, 490, dtype=np.uint8).tobytes() for rng in rngs]  # the toy's stimuli
    assert [w["input"] for w in data["windows"]] == [f"synthetic-{i:03d}" for i in range(5)]
    with TflmWorker(reference / "kws01" / "kws_ref_model.tflite") as worker:
        for raw, window in zip(raws, data["windows"]):
            expected = parse_results(toy.results_line(worker.run(toy_input(raw)), worker.output_quant))
            as_kws = parse_results(toy.results_line(worker.run(np.frombuffer(raw, np.int8)), worker.output_quant))
            assert window["results"] == expected and window["results"] != as_kws


def test_an_accuracy_run_on_a_synthetic_toy_dataset_is_scored_by_the_toys_metric(tmp_path, reference):
    folder = tmp_path / "toy-set"
    written = toy_cli("dataset", "synth", "--benchmark", "toy", "--out", str(folder), "--count", "8", "--seed", "3")
    assert written.code == 0, written.stderr
    assert written.stdout == f"wrote 8 synthetic toy01 files and y_labels.csv to {folder}\n"
    meta = json.loads((folder / "dataset.json").read_text())
    assert meta["benchmark"] == "toy01" and meta["labels"] == "the reference model's top class"
    rows = list(csv.reader((folder / "y_labels.csv").read_text().splitlines()))
    assert [r[0] for r in rows] == [f"synth_toy01_{i:05d}.bin" for i in range(8)]
    with TflmWorker(reference / "kws01" / "kws_ref_model.tflite") as worker:
        labels = [int(np.argmax(worker.run(toy_input((folder / r[0]).read_bytes())))) for r in rows]
    assert [r[1:] for r in rows] == [["12", str(label)] for label in labels]
    # two labels made wrong: the toy's agreement is 6 of 8
    (folder / "y_labels.csv").write_text("".join(f"{r[0]},12,{(label + 1) % 12 if i < 2 else label}\n"
                                                 for i, (r, label) in enumerate(zip(rows, labels))))
    result = toy_cli("measure", "--board", BOARD, "-b", "toy", "--mode", "accuracy", "--dataset", str(folder),
                     "--check-outputs", "--out", str(tmp_path / "runs"), "--json", "-q")
    assert result.code == 3, result.stderr  # a synthetic dataset is never valid
    data = result.json()
    assert data["agreement_pct"] == 75.0 and data["samples"] == 8 and data["files"] == 8
    assert data["check_outputs"]["checked"] == 8 and data["check_outputs"]["mismatches"] == 0
    assert data["violations"] == ["toy dataset: labels from the reference model"]
    run_dir = Path(data["run_dir"])
    assert "ulp-mlperf: toy agreement 75.0 % over 8 files\n" in (run_dir / "results.txt").read_text()
    outputs = list(csv.reader((run_dir / "outputs.csv").read_text().splitlines()))
    assert [row[1:] for row in outputs[-8:]] == [[str((label + 1) % 12 if i < 2 else label), str(label)]
                                                 for i, label in enumerate(labels)]


def test_a_mode_the_benchmark_does_not_name_is_refused(tmp_path):
    result = toy_cli("measure", "--board", BOARD, "-b", "toy", "--mode", "energy", "--out", str(tmp_path))
    assert_one_line_error(result, 2, "toy01 is not measured in energy mode; its modes: performance, accuracy")


def test_a_benchmark_plug_in_that_cannot_be_loaded_is_named_where_it_is_asked_for(tmp_path):
    info = tmp_path / "broken_benchmark-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-benchmark\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[tiny_runner.benchmarks]\nbroken01 = no_such_module:BENCHMARK\n"
                                           "wrong01 = json:dumps\n")
    listing = run_cli("benchmarks", "--json", env=with_plugins(tmp_path))
    assert listing.code == 0 and "Traceback" not in listing.stderr  # the others still work
    reason = "benchmark plug-in 'broken01' (no_such_module:BENCHMARK) cannot be loaded: ModuleNotFoundError"
    wrong = "benchmark plug-in 'wrong01' (json:dumps) is not a Benchmark named 'wrong01'"
    assert [b["id"] for b in listing.json()["benchmarks"]] == BUILT_IN
    notes = listing.json()["notes"]
    assert len(notes) == 2 and notes[0].startswith(reason) and notes[1] == wrong
    measure = run_cli("measure", "--board", BOARD, "-b", "broken01", "--out", str(tmp_path / "runs"),
                      env=with_plugins(tmp_path))
    assert_one_line_error(measure, 2, reason)
    synth = run_cli("dataset", "synth", "-b", "wrong01", "--out", str(tmp_path / "set"), env=with_plugins(tmp_path))
    assert_one_line_error(synth, 2, wrong)
    assert not (tmp_path / "set").exists()


def test_no_module_outside_the_benchmarks_compares_benchmark_ids():
    """Every benchmark-specific fact lives in the benchmark's module; the rest asks the declaration."""
    ids = "|".join(BUILT_IN)
    comparison = re.compile(rf'[!=]=\s*"({ids})"|"({ids})"\s*[!=]=|\bin \("({ids})"|"({ids})"\s*:|is_classifier|'
                            r'metric\s*[!=]=|benchmark_id\s*[!=]=|\.id\s*[!=]=')
    found = [f"{path.relative_to(REPO)}:{n}: {line.strip()}"
             for path in sorted((REPO / "host" / "tiny_runner").rglob("*.py")) if "benchmarks" not in path.parts
             for n, line in enumerate(path.read_text().splitlines(), start=1) if comparison.search(line)]
    assert found == []
