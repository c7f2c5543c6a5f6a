"""tflite -> C: fixed-point parameters, the arena plan, bit-exactness against TFLM, and `tiny-runner codegen`."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, assert_one_line_error, require_tools, tmpfs
from support.reference import model_path
from tiny_runner.errors import ModelError
from tiny_runner.image.codegen import generate, plan_arena, quantize_multiplier, read_model
from tiny_runner.model.reference import REFERENCE_MODELS
from tiny_runner.model.tflm import TflmWorker

BENCHMARKS = list(REFERENCE_MODELS)
INFERENCES = 50
SOURCES = ("tr_model.h", "tr_model.c", "tr_nn.h", "tr_nn.c")


# -- quantize_multiplier: real = multiplier * 2^(shift - 31) -------------------------------------------
@pytest.mark.parametrize("real, expected", [
    (0.0, (0, 0)),
    (0.5, (1 << 30, 0)),
    (0.25, (1 << 30, -1)),
    (1.0, (1 << 30, 1)),
    (0.75, (3 << 29, 0)),
    (-0.5, (-(1 << 30), 0)),
    (3.0, (3 << 29, 2)),
    (2.0 ** -40, (0, 0)),  # a shift below -31 flushes to zero
    (2.0 ** 40, ((1 << 31) - 1, 30)),  # saturates
])
def test_quantize_multiplier_by_hand(real, expected):
    assert quantize_multiplier(real) == expected


def test_quantize_multiplier_mantissa_rounding_up_to_two_to_the_31():
    # frexp gives q = 1 - 2^-40; q * 2^31 rounds to 2^31, which does not fit: halve it, one more shift.
    real = 1.0 - 2.0 ** -40
    assert quantize_multiplier(real) == (1 << 30, 1)
    assert quantize_multiplier(real / 8) == (1 << 30, -2)


def test_quantize_multiplier_is_within_half_a_step():
    for real in np.random.default_rng(3).uniform(1e-6, 100.0, size=200):
        multiplier, shift = quantize_multiplier(float(real))
        assert 1 << 30 <= multiplier < 1 << 31
        assert abs(multiplier * 2.0 ** (shift - 31) - real) <= 2.0 ** (shift - 32)


# -- the arena plan ------------------------------------------------------------------------------------
def lifetimes(tensors, ops, model_input):
    """Storage tensor -> (first op writing it, last op reading it or an alias), computed independently."""
    alias_of = {model_input: model_input}
    first = {model_input: -1}
    last = {model_input: -1}
    for k, op in enumerate(ops):
        for i in op.inputs:
            if i < 0 or tensors[i].data is not None:
                continue
            assert i in alias_of, f"op {k} reads tensor {i} before anything writes it"
            last[alias_of[i]] = k
        if op.kind == "RESHAPE":
            alias_of[op.output] = alias_of[op.inputs[0]]
        else:
            alias_of[op.output] = op.output
            first[op.output] = last[op.output] = k
    last[alias_of[ops[-1].output]] = len(ops)  # the host reads the output after the last op
    return alias_of, {t: (first[t], last[t]) for t in first}


@pytest.mark.parametrize("benchmark_id", BENCHMARKS)
def test_arena_plan_never_shares_bytes_between_live_tensors(reference, benchmark_id):
    tensors, ops, model_input, _ = read_model(model_path(reference, benchmark_id))
    offsets, arena = plan_arena(tensors, ops, model_input)
    alias_of, life = lifetimes(tensors, ops, model_input)
    assert set(offsets) == set(alias_of)
    for tensor, storage in alias_of.items():
        assert offsets[tensor] == offsets[storage], f"alias {tensor} of {storage} moved"
        assert tensors[tensor].size == tensors[storage].size
    spans = {t: (offsets[t], offsets[t] + tensors[t].size) for t in life}
    for t, (start, end) in spans.items():
        assert start % 16 == 0, f"tensor {t} at {start} is not 16-byte aligned"
        assert 0 <= start and end <= arena
    for a in life:
        for b in life:
            if a < b and life[a][0] <= life[b][1] and life[b][0] <= life[a][1]:
                (a0, a1), (b0, b1) = spans[a], spans[b]
                assert a1 <= b0 or b1 <= a0, f"tensors {a} {life[a]} and {b} {life[b]} share bytes"
    aligned = sum((tensors[t].size + 15) // 16 * 16 for t in life)
    peak = max(sum(tensors[t].size for t in life if life[t][0] <= k <= life[t][1]) for k in range(-1, len(ops) + 1))
    assert peak <= arena <= aligned, (peak, arena, aligned)


# -- bit-exact against the TFLM interpreter ------------------------------------------------------------
def build_runner(model: Path, folder: Path, benchmark_id: str) -> tuple[Path, int]:
    generated = generate(model, folder, benchmark_id)
    runner = folder / "runner"
    subprocess.run(["gcc", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(folder),
                    str(folder / "tr_model.c"), str(folder / "tr_nn.c"), str(REPO / "tests" / "c" / "model_runner.c"),
                    "-o", str(runner)], check=True, capture_output=True, text=True, timeout=300)
    return runner, generated.input_bytes


@pytest.mark.parametrize("benchmark_id", BENCHMARKS)
def test_generated_c_is_bit_exact_with_tflm(reference, tmp_path, benchmark_id):
    require_tools("gcc")
    model = model_path(reference, benchmark_id)
    runner, input_bytes = build_runner(model, tmp_path, benchmark_id)
    inputs = np.random.default_rng(2024).integers(-128, 128, size=(INFERENCES, input_bytes), dtype=np.int8)
    assert inputs.min() == -128 and inputs.max() == 127
    proc = subprocess.run([str(runner)], input=inputs.tobytes(), capture_output=True, check=True, timeout=300)
    from_c = np.frombuffer(proc.stdout, dtype=np.int8).reshape(INFERENCES, -1)
    with TflmWorker(model) as tflm:
        from_tflm = np.stack([tflm.run(x) for x in inputs])
    assert from_tflm.dtype == np.int8
    np.testing.assert_array_equal(from_c, from_tflm)


# -- generate() and read_model() on their own ----------------------------------------------------------
@pytest.mark.parametrize("bad_id", ["KWS", "1kws", "kws-01", "", "kws\"01", "_kws"])
def test_generate_refuses_an_id_that_is_not_a_c_identifier(reference, tmp_path, bad_id):
    with pytest.raises(ValueError, match="model id"):
        generate(model_path(reference, "kws01"), tmp_path / "out", bad_id)
    assert not (tmp_path / "out").exists()


def test_read_model_turns_parser_failures_into_model_errors(reference, tmp_path):
    whole = model_path(reference, "kws01").read_bytes()
    for name, data in {"truncated": whole[: len(whole) // 2], "zeros": b"\0" * 64, "empty": b"",
                       "tag_only": b"\0\0\0\0TFL3" + b"\xff" * 32}.items():
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(data)
        with pytest.raises(ModelError):
            read_model(path)


# -- tiny-runner codegen -------------------------------------------------------------------------------
def header(folder: Path) -> str:
    return (folder / "tr_model.h").read_text()


def test_cli_writes_the_sources_with_the_reference_id(cli, reference, tmp_path):
    out = tmp_path / "kws"
    result = cli("codegen", str(model_path(reference, "kws01")), "-o", str(out))
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    for name in SOURCES:
        assert (out / name).is_file(), name
        assert name in result.stdout
    assert '#define TR_MODEL_ID "kws01"' in header(out)
    assert "#define TR_MODEL_BENCHMARK_KWS01 1" in header(out)
    assert re.search(r"model id:\s+kws01$", result.stdout, re.M)
    assert re.search(r"operators:\s+13$", result.stdout, re.M)
    for name in ("tr_nn.h", "tr_nn.c"):
        assert (out / name).read_bytes() == (REPO / "firmware" / "nn" / name).read_bytes()


def test_cli_names_a_reference_model_by_hash_not_by_file_name(cli, reference, tmp_path):
    renamed = tmp_path / "Some Copy.tflite"
    shutil.copyfile(model_path(reference, "ad01"), renamed)
    assert cli("codegen", str(renamed), "-o", str(tmp_path / "out")).code == 0
    assert "#define TR_MODEL_BENCHMARK_AD01 1" in header(tmp_path / "out")


def test_cli_names_a_model_of_ones_own_after_its_file(cli, reference, tmp_path):
    custom = tmp_path / "My-KWS v2.tflite"
    custom.write_bytes(model_path(reference, "kws01").read_bytes() + b"\0" * 16)  # other bytes, same model
    result = cli("codegen", str(custom), "-o", str(tmp_path / "out"))
    assert result.code == 0, result.stderr
    assert '#define TR_MODEL_ID "my_kws_v2"' in header(tmp_path / "out")
    assert "#define TR_MODEL_BENCHMARK_MY_KWS_V2 1" in header(tmp_path / "out")
    assert "KWS01" not in header(tmp_path / "out")


def test_cli_takes_an_explicit_id(cli, reference, tmp_path):
    result = cli("codegen", str(model_path(reference, "kws01")), "-o", str(tmp_path / "out"), "--id", "kws_small")
    assert result.code == 0, result.stderr
    assert '#define TR_MODEL_ID "kws_small"' in header(tmp_path / "out")


def test_cli_starts_an_id_from_a_digit_led_file_name_with_a_letter(cli, reference, tmp_path):
    custom = tmp_path / "2024.tflite"
    custom.write_bytes(model_path(reference, "kws01").read_bytes() + b"\0" * 16)
    assert cli("codegen", str(custom), "-o", str(tmp_path / "out")).code == 0
    assert '#define TR_MODEL_ID "model_2024"' in header(tmp_path / "out")


def test_cli_error_missing_model(cli, tmp_path):
    result = cli("codegen", str(tmp_path / "nope.tflite"), "-o", str(tmp_path / "out"))
    assert_one_line_error(result, 11, "nope.tflite", "not found")
    assert not (tmp_path / "out").exists()


def test_cli_error_not_a_tflite_file(cli, tmp_path):
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(bytes(range(256)) * 8)
    assert_one_line_error(cli("codegen", str(garbage), "-o", str(tmp_path / "out")), 11, "garbage.tflite",
                          "not a TensorFlow Lite model")


def test_cli_error_truncated_flatbuffer(cli, reference, tmp_path):
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(model_path(reference, "kws01").read_bytes()[:4096])
    assert_one_line_error(cli("codegen", str(truncated), "-o", str(tmp_path / "out")), 11, "truncated.tflite",
                          "not a valid TensorFlow Lite flatbuffer")


def with_operator(source: Path, target: Path, operator_name: str) -> None:
    """A copy of `source` whose first operator code is `operator_name`."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(source.read_bytes(), 0)
    code = getattr(schema.BuiltinOperator, operator_name)
    model.operatorCodes[0].builtinCode = code
    model.operatorCodes[0].deprecatedBuiltinCode = code
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    target.write_bytes(bytes(builder.Output()))


def test_cli_error_unsupported_operator(cli, reference, tmp_path):
    tanh = tmp_path / "ad01_tanh.tflite"
    with_operator(model_path(reference, "ad01"), tanh, "TANH")
    assert_one_line_error(cli("codegen", str(tanh), "-o", str(tmp_path / "out")), 11, "operator TANH is not supported")


@pytest.mark.parametrize("bad_id", ["KWS01", "9lives", "kws-01", "_x"])
def test_cli_error_bad_id(cli, reference, tmp_path, bad_id):
    result = cli("codegen", str(model_path(reference, "kws01")), "-o", str(tmp_path / "out"), "--id", bad_id)
    assert_one_line_error(result, 2, "--id")
    assert not (tmp_path / "out").exists()


def test_cli_error_output_below_a_file(cli, reference, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cli("codegen", str(model_path(reference, "kws01")), "-o", str(blocker / "out"))
    assert_one_line_error(result, 2, "output folder", "is not a folder")


def test_cli_error_read_only_output(cli, reference, tmp_path):
    with tmpfs(tmp_path / "locked", "size=64k,ro") as locked:  # read-only for root too
        result = cli("codegen", str(model_path(reference, "kws01")), "-o", str(locked / "out"))
    assert_one_line_error(result, 2, "output folder", "not writable")
