"""The C firmware against TFLM bit for bit.

Every reference model runs the input path the DUT runs: the bytes `db` delivers go through the
firmware's port layer (tr_model_port.c, which quantises ad01's float windows itself) into the
generated kernels, in one runner process per model. The input tensor, the output tensor and the
m-results text are compared with the host's conversion (reference_port), the TFLM interpreter
(in its worker process) and the host's formatting of that output. Each fixed-point step of the
kernels is also checked on its own against a reference of TFLM's integer arithmetic: ties at
.5, INT32 extremes, shift extremes and int8 clamps.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, require_tools
from support.reference import model_path
from tiny_runner.benchmarks import AD_STRIDE_BYTES, AD_WINDOW_BYTES, get_benchmark
from tiny_runner.benchmarks.synth import stimulus
from tiny_runner.image.codegen import _fc_params, generate, read_model
from tiny_runner.model.tflm import TflmWorker

FIRMWARE = REPO / "firmware"
# Inputs per model, 10 200 in all: the small models carry the count, the image models get fewer.
COUNTS = {"ad01": 6000, "kws01": 3000, "vww01": 400, "ic01": 500, "ic02": 300}
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


# -- building the runners, once per model ------------------------------------------------------------
def compile_c(out: Path, *args: str) -> Path:
    flags = ["-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off"]  # the firmware's float rules
    subprocess.run(["gcc", *flags, *args, "-o", str(out)], check=True, capture_output=True, text=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def db_runner(reference, tmp_path_factory):
    """benchmark id -> a runner over the port layer that reads `db` bytes (built on first use)."""
    require_tools("gcc")
    built = {}

    def build(benchmark_id: str) -> Path:
        if benchmark_id not in built:
            folder = tmp_path_factory.mktemp(benchmark_id)
            generate(model_path(reference, benchmark_id), folder, benchmark_id)
            built[benchmark_id] = compile_c(
                folder / "db_runner", "-DTR_RUNNER_DB_INPUT", "-I", str(folder), "-I", str(FIRMWARE / "core"),
                "-I", str(FIRMWARE / "model"), str(REPO / "tests" / "c" / "model_runner.c"), str(folder / "tr_model.c"),
                str(folder / "tr_nn.c"), str(FIRMWARE / "core" / "tr_format.c"))
        return built[benchmark_id]

    return build


def run_db_runner(runner: Path, inputs: list[bytes], input_n: int, output_n: int):
    """(input tensors, output tensors, result texts) the C port layer produced for each input."""
    proc = subprocess.run([str(runner)], input=b"".join(inputs), capture_output=True, check=True, timeout=300)
    out, pos = proc.stdout, 0
    tensors_in, tensors_out, texts = [], [], []
    for _ in inputs:
        tensors_in.append(np.frombuffer(out, np.int8, input_n, pos))
        tensors_out.append(np.frombuffer(out, np.int8, output_n, pos + input_n))
        end = out.index(b"\n", pos + input_n + output_n)
        texts.append(out[pos + input_n + output_n:end].decode())
        pos = end + 1
    assert pos == len(out)
    return np.stack(tensors_in), np.stack(tensors_out), texts


def check_against_tflm(reference: Path, runner: Path, benchmark_id: str, inputs: list[bytes]) -> int:
    """Compare the C port layer with the host path on every input; returns how many were compared."""
    model = model_path(reference, benchmark_id)
    with TflmWorker(model) as tflm, np.errstate(over="ignore", invalid="ignore"):  # ad01's edges hold infinities
        expected_in, floats = zip(*(get_benchmark(benchmark_id).convert_input(raw, tflm.input_quant) for raw in inputs))
        expected_out = np.stack([tflm.run(x) for x in expected_in])
        expected_text = [get_benchmark(benchmark_id).results_line(y, tflm.output_quant, f)[len("m-results-["):-1]
                         for y, f in zip(expected_out, floats)]
    c_in, c_out, c_text = run_db_runner(runner, inputs, len(expected_in[0]), expected_out.shape[1])
    np.testing.assert_array_equal(c_in, np.stack(expected_in), err_msg=f"{benchmark_id}: input conversion")
    bad = np.nonzero((c_out != expected_out).any(axis=1))[0]
    assert not len(bad), (f"{benchmark_id}: {len(bad)} of {len(inputs)} output tensors differ from TFLM, first at "
                          f"input {bad[0]}: elements {np.nonzero(c_out[bad[0]] != expected_out[bad[0]])[0].tolist()}")
    assert c_text == expected_text
    return len(inputs)


# -- the inputs `db` delivers ----------------------------------------------------------------------
def ad01_windows(data: bytes) -> list[bytes]:
    count = (len(data) - AD_WINDOW_BYTES) // AD_STRIDE_BYTES + 1
    return [data[i * AD_STRIDE_BYTES:i * AD_STRIDE_BYTES + AD_WINDOW_BYTES] for i in range(count)]


def ad01_edge_windows(scale: float, zero_point: int, rng: np.random.Generator) -> list[bytes]:
    """Float windows at the quantiser's edges: exact .5 ties of every int8 step (and the floats
    either side of them), both clamps, infinities, signed zeros, subnormals, huge values."""
    scale32 = np.float32(scale)
    halves = (np.arange(-128, 128) - zero_point + 0.5).astype(np.float32)
    ties = (halves * scale32).astype(np.float32)
    ties = ties[ties / scale32 == halves]  # only floats that really divide to k + 1/2
    assert len(ties) > 100, len(ties)
    around = np.concatenate([ties, np.nextafter(ties, np.float32(np.inf)), np.nextafter(ties, np.float32(-np.inf)),
                             -ties])
    specials = np.array([np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 1e-38, 3.4e38, -3.4e38, 1e6, -1e6,
                         (127.5 - zero_point) * scale, (-128.5 - zero_point) * scale, 400.0, -400.0, 401.0, -401.0],
                        dtype=np.float32)
    pool = np.concatenate([around, specials])
    windows = []
    for _ in range(60):
        window = rng.choice(pool, AD_WINDOW_BYTES // 4)
        windows.append(window.astype("<f4").tobytes())
    windows.append(np.resize(pool, AD_WINDOW_BYTES // 4).astype("<f4").tobytes())
    spread = rng.uniform(-150, 150, (40, AD_WINDOW_BYTES // 4)) * np.float32(scale)
    windows += [w.astype("<f4").tobytes() for w in spread]
    return windows


def db_inputs(reference: Path, benchmark_id: str, count: int) -> list[bytes]:
    bench = get_benchmark(benchmark_id)
    rng = np.random.default_rng(11)
    if benchmark_id == "ad01":
        inputs = ad01_windows((reference / "ad01" / "normal_id_01_00000000_hist_librosa.bin").read_bytes())
        with TflmWorker(model_path(reference, benchmark_id)) as tflm:
            quant = tflm.input_quant
        inputs += ad01_edge_windows(quant.scale, quant.zero_point, rng)
        index = 0
        while len(inputs) < count:
            inputs += ad01_windows(stimulus(bench, 5, index)[0])
            index += 1
        return inputs[:count]
    size = bench.input_bytes
    inputs = [bytes([0]) * size, bytes([127]) * size, bytes([128]) * size, bytes([255]) * size]
    synthetic = count // 2
    inputs += [stimulus(bench, 5, i)[0] for i in range(synthetic)]
    inputs += [rng.integers(0, 256, size, dtype=np.uint8).tobytes() for _ in range(count - len(inputs))]
    return inputs


@pytest.mark.parametrize("benchmark_id", list(COUNTS))
def test_port_layer_and_kernels_match_tflm_on_every_input(reference, db_runner, benchmark_id):
    inputs = db_inputs(reference, benchmark_id, COUNTS[benchmark_id])
    assert len(inputs) == COUNTS[benchmark_id]
    assert check_against_tflm(reference, db_runner(benchmark_id), benchmark_id, inputs) == COUNTS[benchmark_id]


def test_ad01_window_whose_last_layer_lands_next_to_a_rounding_boundary(reference, db_runner):
    # Seed 99, file 3, window 179 (`dataset synth --benchmark ad --seed 99`): one accumulator of the
    # last layer scales to -117.4990; a float32 product of the scales rounded it to -118 and the
    # window printed 22.878 instead of TFLM's 22.883.
    window = ad01_windows(stimulus(get_benchmark("ad01"), 99, 3)[0])[179]
    runner = db_runner("ad01")
    _, _, texts = run_db_runner(runner, [window], 640, 640)
    assert texts == ["22.883"]
    check_against_tflm(reference, runner, "ad01", [window])


def test_fully_connected_multiplier_multiplies_the_scales_in_double(reference):
    tensors, ops, _, _ = read_model(model_path(reference, "ad01"))
    last = _fc_params(ops[-1], tensors)
    assert (last["multiplier"], last["shift"]) == (1462485049, -9)  # a float32 product gives 1462485078


# -- each fixed-point step against TFLM's arithmetic -------------------------------------------------
def wrap32(x: int) -> int:
    return (x + 2**31) % 2**32 - 2**31


def c_div(a: int, b: int) -> int:
    """C's integer division, which truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def ref_srdhm(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    return c_div(ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30)), 1 << 31)


def ref_rdbpot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if (x & mask) > threshold else 0)


def ref_satpot(x: int, exponent: int) -> int:
    threshold = (1 << (31 - exponent)) - 1
    return INT32_MAX if x > threshold else INT32_MIN if x < -threshold else wrap32(x << exponent)


def ref_mbqm(x: int, multiplier: int, shift: int) -> int:
    """TFLM's MultiplyByQuantizedMultiplier with its default double rounding (the left shift wraps)."""
    return ref_rdbpot(ref_srdhm(wrap32(x << max(shift, 0)), multiplier), max(-shift, 0))


def ref_requant(acc: int, multiplier: int, shift: int, offset: int, low: int, high: int) -> int:
    return min(max(ref_mbqm(acc, multiplier, shift) + offset, low), high)


def ref_average(total: int, count: int) -> int:
    return c_div(total + count // 2, count) if total > 0 else c_div(total - count // 2, count)


REFERENCE = {"srdhm": ref_srdhm, "rdbpot": ref_rdbpot, "satpot": ref_satpot, "mbqm": ref_mbqm,
             "requant": ref_requant, "average": ref_average}


@pytest.fixture(scope="module")
def arith(tmp_path_factory):
    require_tools("gcc")
    folder = tmp_path_factory.mktemp("arith")
    runner = compile_c(folder / "nn_arith", "-I", str(FIRMWARE / "nn"), str(REPO / "tests" / "c" / "nn_arith.c"))

    def run(step: str, cases: list[tuple[int, ...]]) -> list[int]:
        text = "".join(f"{step} {' '.join(map(str, case))}\n" for case in cases)
        proc = subprocess.run([str(runner)], input=text, capture_output=True, text=True, check=True, timeout=120)
        return [int(v) for v in proc.stdout.split()]

    return run


def edge_int32s(rng: np.random.Generator, n: int) -> list[int]:
    extremes = [INT32_MIN, INT32_MIN + 1, -(1 << 30), -1, 0, 1, 1 << 30, INT32_MAX - 1, INT32_MAX]
    return extremes + [int(v) for v in rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)]


def ties(exponent: int) -> list[int]:
    """x / 2^exponent exactly k + 1/2, for small and extreme k of both signs."""
    if exponent == 0:
        return []
    half = 1 << (exponent - 1)
    out = [k * (1 << exponent) + half for k in (-3, -2, -1, 0, 1, 2)]
    out += [INT32_MAX - ((INT32_MAX - half) % (1 << exponent)), INT32_MIN + half]
    return [v for v in out if INT32_MIN <= v <= INT32_MAX]


def step_cases(step: str) -> list[tuple[int, ...]]:
    rng = np.random.default_rng(list(REFERENCE).index(step))
    values = edge_int32s(rng, 300)
    multipliers = [0, 1, 1 << 30, (1 << 30) + 1, INT32_MAX, INT32_MIN, -(1 << 30)] + \
        [int(v) for v in rng.integers(1 << 30, 1 << 31, 40)]
    if step == "srdhm":
        cases = [(a, b) for a in values[:40] for b in multipliers]
        cases += [(a, b) for a, b in zip(values, reversed(values))]
        # products exactly halfway between two results, both signs
        cases += [(k, 1 << 30) for k in (-5, -3, -1, 1, 3, 5)] + [(k, -(1 << 30)) for k in (-3, -1, 1, 3)]
        return cases
    if step == "rdbpot":
        return [(x, e) for e in range(32) for x in values[:60] + ties(e)]
    if step == "satpot":
        return [(x, e) for e in range(31) for x in values[:40] + [(1 << (31 - e)) - 1, 1 << (31 - e), -(1 << (31 - e)),
                                                                -(1 << (31 - e)) + 1] if INT32_MIN <= x <= INT32_MAX]
    if step == "mbqm":
        shifts = [-31, -30, -20, -9, -1, 0, 1, 2, 10, 30]
        cases = [(x, m, s) for s in shifts for m in multipliers[:12] if m >= 0 for x in values[:30]]
        # multiplier 2^30 is exactly 1/2, so odd x land on ties in the multiply or the shift
        odd = (-7, -5, -3, -1, 1, 3, 5, 7, -(1 << 10) - (1 << 9))
        cases += [(x, 1 << 30, s) for s in (0, -1, -5, -30) for x in odd]
        cases += [(x, int(m), int(s)) for x, m, s in zip(values, rng.integers(1 << 30, 1 << 31, len(values)),
                                                         rng.integers(-31, 8, len(values)))]
        return cases
    if step == "requant":
        cases = []
        for offset in (-128, -1, 0, 96, 127):
            for low, high in ((-128, 127), (offset, 127), (-128, 0), (0, 6)):
                cases += [(acc, 1 << 30, 1, offset, low, high)  # multiplier 1.0: acc passes through
                          for acc in (-300, -257, -256, -129, -128, -127, -1, 0, 1, 126, 127, 128, 255, 256, 300)]
                cases += [(acc, m, s, offset, low, high) for acc, m, s in
                          zip(values[:40], rng.integers(1 << 30, 1 << 31, 40), rng.integers(-31, 3, 40))]
        return cases
    if step == "average":
        cases = [(total, count) for count in (1, 2, 3, 4, 9, 16, 25, 49, 64)
                 for total in range(-3 * count, 3 * count + 1)]
        cases += [(int(t), int(c)) for t, c in zip(rng.integers(-128 * 64, 127 * 64, 300), rng.integers(1, 65, 300))]
        return cases
    raise AssertionError(step)


@pytest.mark.parametrize("step, case, expected", [
    ("srdhm", (INT32_MIN, INT32_MIN), INT32_MAX),  # the one product that overflows saturates
    ("srdhm", (INT32_MAX, INT32_MAX), INT32_MAX - 1),
    ("srdhm", (INT32_MIN, INT32_MAX), INT32_MIN + 1),
    ("srdhm", (1, 1 << 30), 1),  # 1/2 rounds up
    ("srdhm", (-1, 1 << 30), 0),  # -1/2 rounds up too: the negative nudge is 1/2 - 2^-31
    ("srdhm", (3, 1 << 30), 2),
    ("srdhm", (-3, 1 << 30), -1),
    ("rdbpot", (5, 1), 3),  # 2.5 -> 3: halves go away from zero
    ("rdbpot", (-5, 1), -3),
    ("rdbpot", (-3, 1), -2),
    ("rdbpot", (3, 2), 1),  # 0.75
    ("rdbpot", (-6, 2), -2),  # -1.5
    ("rdbpot", (INT32_MIN, 31), -1),
    ("rdbpot", (INT32_MAX, 31), 1),
    ("rdbpot", (1 << 30, 31), 1),  # exactly 1/2
    ("rdbpot", (-(1 << 30), 31), -1),
    ("rdbpot", (7, 0), 7),
    ("satpot", (1 << 28, 2), 1 << 30),  # fits
    ("satpot", (1 << 29, 2), INT32_MAX),
    ("satpot", (-(1 << 29), 2), INT32_MIN),
    ("satpot", (-(1 << 29) + 1, 2), -(1 << 31) + 4),
    ("mbqm", (-60160, 1 << 30, 1), -60160),  # multiplier 1.0
    ("mbqm", (-235, 1 << 30, -1), -59),  # -58.75
    ("mbqm", (-234, 1 << 30, -1), -59),  # -58.5: away from zero
    ("mbqm", (234, 1 << 30, -1), 59),
    ("mbqm", (-88337, 1462485078, -9), -118),  # the ad01 accumulator: a double-rounding tie
    ("mbqm", (-88337, 1462485049, -9), -117),
    ("mbqm", (INT32_MAX, INT32_MAX, 0), INT32_MAX - 1),
    ("mbqm", (INT32_MIN, INT32_MAX, -31), -1),
    ("mbqm", (1, 1 << 30, 30), 1 << 29),
    ("mbqm", (12345, 1 << 30, -31), 0),
    ("requant", (1000, 1 << 30, 1, 0, -128, 127), 127),
    ("requant", (-1000, 1 << 30, 1, 0, -128, 127), -128),
    ("requant", (-5, 1 << 30, 1, 3, 3, 127), 3),  # ReLU: the zero point is the floor
    ("requant", (200, 1 << 30, 1, -128, -128, 127), 72),
    ("average", (5, 2), 3),  # 2.5 -> 3
    ("average", (-5, 2), -3),
    ("average", (-4, 3), -1),
    ("average", (0, 9), 0),
])
def test_fixed_point_step_by_hand(arith, step, case, expected):
    assert REFERENCE[step](*case) == expected  # the reference itself, checked by hand
    assert arith(step, [case]) == [expected]


@pytest.mark.parametrize("step", list(REFERENCE))
def test_fixed_point_step_matches_tflm_arithmetic_on_edges(arith, step):
    cases = step_cases(step)
    assert len(cases) >= 300
    got = arith(step, cases)
    expected = [REFERENCE[step](*case) for case in cases]
    wrong = [(case, g, e) for case, g, e in zip(cases, got, expected) if g != e]
    assert len(got) == len(cases) and not wrong, wrong[:10]
