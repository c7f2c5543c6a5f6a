"""Dataset folders (EEMBC layout) and the synthetic generator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tiny_runner.benchmarks import get_benchmark
from tiny_runner.benchmarks.datasets import load_dataset
from tiny_runner.benchmarks.synth import performance_stimuli, stimulus
from tiny_runner.errors import DatasetError


def make_folder(tmp_path, rows, files):
    for name, size in files.items():
        (tmp_path / name).write_bytes(bytes(size))
    (tmp_path / "y_labels.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_loads_a_kws_folder(tmp_path):
    folder = make_folder(tmp_path, ["a.bin,12,3", "b.bin,12,11"], {"a.bin": 490, "b.bin": 490})
    ds = load_dataset(folder, get_benchmark("kws"))
    assert [(e.file, e.label) for e in ds.entries] == [("a.bin", 3), ("b.bin", 11)]
    assert not ds.synthetic


@pytest.mark.parametrize("rows, files, message", [
    (None, {}, "has no y_labels.csv"),
    (["a.bin,12,3", "b.bin,12,1"], {"a.bin": 490}, "1 of 2 files listed in y_labels.csv are missing"),
    (["a.bin,12,3"], {"a.bin": 489}, "is 489 bytes; kws01 inputs are 490"),
    (["a.bin,10,3"], {"a.bin": 490}, "10 classes, but kws01 has 12"),
    (["a.bin,12,12"], {"a.bin": 490}, "class 12 is outside 0..11"),
    (["a.bin,12"], {"a.bin": 490}, "expected 3 comma-separated fields"),
    (["a.bin,twelve,1"], {"a.bin": 490}, "must be integers"),
    ([], {}, "lists no files"),
])
def test_bad_folders_fail_before_the_run(tmp_path, rows, files, message):
    if rows is not None:
        make_folder(tmp_path, rows, files)
    with pytest.raises(DatasetError, match=message):
        load_dataset(tmp_path, get_benchmark("kws"))


def test_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope", get_benchmark("kws"))


def test_ad_files_are_cut_into_windows(tmp_path):
    folder = make_folder(tmp_path, ["x.bin,2,1,2560,512"], {"x.bin": 102_400})
    ds = load_dataset(folder, get_benchmark("ad"))
    entry = ds.entries[0]
    data = bytes(range(256)) * 400
    windows = ds.windows(entry, data)
    assert len(windows) == 196 and all(len(w) == 2560 for w in windows)
    assert windows[1] == data[512:3072]
    (folder / "x.bin").write_bytes(bytes(102_401))
    with pytest.raises(DatasetError, match="not a whole number of 512-byte steps"):
        load_dataset(folder, get_benchmark("ad"))


def test_synthetic_stimuli_are_deterministic_and_well_formed():
    for bid, size in [("kws01", 490), ("vww01", 27_648), ("ic01", 3072), ("ad01", 102_400)]:
        bench = get_benchmark(bid)
        a, label = stimulus(bench, seed=3, index=4)
        assert a == stimulus(bench, seed=3, index=4)[0]
        assert a != stimulus(bench, seed=4, index=4)[0] and a != stimulus(bench, seed=3, index=5)[0]
        assert len(a) == size
        assert (label is None) == (bid != "ad01")
    spec = np.frombuffer(stimulus(get_benchmark("ad"), 0, 0)[0], "<f4")
    assert np.all(np.isfinite(spec)) and -80 < spec.mean() < 0
    perf = performance_stimuli(get_benchmark("ad"))
    assert len(perf) == 5 and all(len(d) == 2560 for _, d in perf)


def test_synth_dataset_labels_are_the_reference_models_top1(synth_datasets):
    from tiny_runner.model.reference import resolve_model
    from tiny_runner.model.tflm import TflmWorker

    ds = load_dataset(synth_datasets["ic01"], get_benchmark("ic01"))
    assert ds.synthetic and "agreement" in ds.meta["labels"]
    with TflmWorker(resolve_model("ic01").path) as worker:
        for e in ds.entries:
            tensor, _ = get_benchmark("ic01").convert_input(ds.read(e), worker.input_quant)
            assert int(np.argmax(worker.run(tensor))) == e.label
    ad = load_dataset(synth_datasets["ad01"], get_benchmark("ad01"))
    assert [e.label for e in ad.entries] == [0, 1, 0, 1, 0, 1]
    assert json.loads((synth_datasets["ad01"] / "dataset.json").read_text())["synthetic"] is True
