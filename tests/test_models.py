"""The reference model registry and its hash checks."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from tiny_runner.errors import ModelError
from tiny_runner.model.info import model_info
from tiny_runner.model.reference import MODEL_DIR_ENV, REFERENCE_MODELS, resolve_model


def test_registry_matches_the_reference_files(reference):
    for ref in REFERENCE_MODELS.values():
        data = (reference / ref.relative_path).read_bytes()
        assert len(data) == ref.size
        assert hashlib.sha256(data).hexdigest() == ref.sha256


def test_resolves_from_the_environment_variable(reference):
    model = resolve_model("kws01")
    assert model.reference and model.path == reference / "kws01/kws_ref_model.tflite"


def test_no_model_directory_names_the_fix(monkeypatch):
    monkeypatch.delenv(MODEL_DIR_ENV)
    with pytest.raises(ModelError, match="--model-dir.*TINY_RUNNER_MODEL_DIR"):
        resolve_model("kws01")


def test_missing_and_altered_models(tmp_path, reference):
    with pytest.raises(ModelError, match="expected .*kws01/kws_ref_model.tflite"):
        resolve_model("kws01", model_dir=str(tmp_path))
    (tmp_path / "kws01").mkdir()
    copy = tmp_path / "kws01/kws_ref_model.tflite"
    shutil.copy(reference / "kws01/kws_ref_model.tflite", copy)
    data = bytearray(copy.read_bytes())
    data[1000] ^= 0xFF
    copy.write_bytes(data)
    with pytest.raises(ModelError, match="not the official kws01 model: sha256"):
        resolve_model("kws01", model_dir=str(tmp_path))
    own = resolve_model("kws01", model_file=str(copy))  # as the user's own model it is accepted
    assert not own.reference and own.sha256 == hashlib.sha256(data).hexdigest()


def test_mac_counts(reference):
    macs = {bid: model_info(reference / ref.relative_path).macs for bid, ref in REFERENCE_MODELS.items()}
    assert macs["ad01"] == 264_192  # 10 fully connected layers: 640-128-128-128-128-8-128-128-128-128-640
    assert macs["kws01"] == 2_656_768
    assert macs["vww01"] == 7_489_664
    assert macs["ic01"] == 12_501_632
    assert macs["ic02"] > macs["ic01"]


def test_own_model_must_fit_the_benchmark(reference):
    with pytest.raises(ModelError, match="takes 640 input and gives 640 output values; kws01 firmware feeds 490"):
        resolve_model("kws01", model_file=str(reference / "ad01/ad01_int8.tflite"))
    assert not resolve_model("ic02", model_file=str(reference / "ic01/pretrainedResnet_quant.tflite")).reference
