"""tflite -> C: the model's weights, quantisation parameters and op sequence for the int8
kernels in firmware/nn, so a DUT needs no interpreter.

Every integer parameter is derived the way the TFLM kernels derive it at Prepare time (the
same float/double arithmetic, the same QuantizeMultiplier), which is what makes the C output
identical to TFLM's. Activation tensors share one arena, planned first-fit by lifetime;
RESHAPE is an alias, not a copy. The input keeps its bytes through the whole graph, so the
model can run again on the same input without reloading it.
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..benchmarks import find_benchmark
from ..errors import ModelError
from .tree import firmware_source_dir

SUPPORTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "ADD", "RESHAPE", "SOFTMAX")
_INT8, _INT32 = 9, 2  # TensorType
_RELU, _RELU6 = 1, 3  # ActivationFunctionType
_SAME = 0  # Padding
_ALIGN = 16
# The id becomes a C string and part of a macro name (TR_MODEL_BENCHMARK_<ID>), so it stays an identifier.
MODEL_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
_FILE_IDENTIFIER = b"TFL3"  # bytes 4..8 of every TensorFlow Lite flatbuffer


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    fixed = int(math.floor(abs(q) * (1 << 31) + 0.5)) * (1 if q >= 0 else -1)  # std::round
    if fixed == 1 << 31:
        fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return (1 << 31) - 1, 30
    return fixed, shift


def activation_range(activation: int, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8."""
    low, high = -128, 127
    if activation in (_RELU, _RELU6):
        low = max(low, zero_point)
    if activation == _RELU6:
        high = min(high, zero_point + int(round_half_away(np.float32(6.0) / np.float32(scale))))
    elif activation not in (0, _RELU):
        raise ModelError(f"fused activation {activation} is not supported")
    return low, high


def round_half_away(x: float) -> float:
    return math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1)


def compute_padding(stride: int, dilation: int, in_size: int, filter_size: int, out_size: int) -> int:
    effective = (filter_size - 1) * dilation + 1
    total = (out_size - 1) * stride + effective - in_size
    return max(int(total / 2), 0)  # C integer division truncates toward zero


@dataclass
class Tensor:
    index: int
    shape: tuple[int, ...]
    scale: list[float]
    zero_point: list[int]
    data: np.ndarray | None  # constant tensors only

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class Op:
    kind: str
    inputs: list[int]
    output: int
    options: object
    params: dict = field(default_factory=dict)


def _unpack(path: Path, schema):
    """The flatbuffer as schema objects; anything that is not a usable tflite model is a ModelError."""
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read: {exc.strerror}") from None
    if buf[4:8] != _FILE_IDENTIFIER:
        raise ModelError(f"{path}: not a TensorFlow Lite model (no TFL3 flatbuffer identifier)")
    try:
        model = schema.ModelT.InitFromPackedBuf(buf, 0)
    except Exception as exc:  # the generated parser fails with struct.error, IndexError, TypeError, ...
        raise ModelError(f"{path}: not a valid TensorFlow Lite flatbuffer ({type(exc).__name__}: {exc})") from None
    graphs = model.subgraphs or []
    if len(graphs) != 1:
        raise ModelError(f"{path}: expected one subgraph, found {len(graphs)}")
    graph = graphs[0]
    if not graph.tensors or not graph.operators or model.operatorCodes is None or model.buffers is None:
        raise ModelError(f"{path}: the model has no tensors, operators or buffers")
    if graph.inputs is None or len(graph.inputs) != 1 or graph.outputs is None or len(graph.outputs) != 1:
        raise ModelError(f"{path}: expected one input and one output tensor")
    return model


def read_model(path: Path) -> tuple[list[Tensor], list[Op], int, int]:
    """Tensors, operators, input and output tensor index; ModelError for anything codegen cannot compile."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = _unpack(Path(path), schema)
    try:
        return _read_graph(path, model, schema)
    except (IndexError, KeyError, TypeError, ValueError) as exc:  # indices or sizes that point nowhere
        raise ModelError(f"{path}: malformed TensorFlow Lite model ({type(exc).__name__}: {exc})") from None


def _read_graph(path: Path, model, schema) -> tuple[list[Tensor], list[Op], int, int]:
    graph = model.subgraphs[0]
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    tensors = []
    for i, t in enumerate(graph.tensors):
        q = t.quantization
        buffer = model.buffers[t.buffer].data if t.buffer < len(model.buffers) else None
        data = None
        if buffer is not None and len(buffer):
            dtype = {_INT8: np.int8, _INT32: np.int32}.get(t.type)
            if dtype is None:
                raise ModelError(f"{path}: constant tensor {i} has unsupported type {t.type}")
            data = np.frombuffer(bytes(buffer), dtype=dtype).reshape([int(d) for d in t.shape])
        elif t.type != _INT8:
            raise ModelError(f"{path}: tensor {i} is not int8 (type {t.type}); only int8 models are supported")
        if t.type == _INT8 and (q is None or q.scale is None or not len(q.scale) or q.zeroPoint is None
                                or not len(q.zeroPoint)):
            raise ModelError(f"{path}: int8 tensor {i} has no quantisation parameters")
        tensors.append(Tensor(i, tuple(int(d) for d in t.shape),
                              [float(s) for s in q.scale] if q is not None and q.scale is not None else [],
                              [int(z) for z in q.zeroPoint] if q is not None and q.zeroPoint is not None else [],
                              data))
    ops = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        kind = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")
        if kind not in SUPPORTED:
            raise ModelError(f"{path}: operator {kind} is not supported (supported: {', '.join(SUPPORTED)})")
        ops.append(Op(kind, [int(i) for i in op.inputs], int(op.outputs[0]), op.builtinOptions))
    return tensors, ops, int(graph.inputs[0]), int(graph.outputs[0])


# -- parameters, as the TFLM kernels compute them at Prepare time ---------------------------------------
def _conv_params(op: Op, t: list[Tensor], depthwise: bool) -> dict:
    x, w, y = t[op.inputs[0]], t[op.inputs[1]], t[op.output]
    bias = t[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    o = op.options
    _, in_h, in_w, in_c = x.shape
    _, out_h, out_w, out_c = y.shape
    k_h, k_w = w.shape[1], w.shape[2]
    pad_h = compute_padding(o.strideH, o.dilationHFactor, in_h, k_h, out_h) if o.padding == _SAME else 0
    pad_w = compute_padding(o.strideW, o.dilationWFactor, in_w, k_w, out_w) if o.padding == _SAME else 0
    scales = w.scale if len(w.scale) == out_c else w.scale * out_c
    pairs = [quantize_multiplier(float(np.float64(np.float32(x.scale[0])) * np.float64(np.float32(s))
                                       / np.float64(np.float32(y.scale[0])))) for s in scales]
    act_min, act_max = activation_range(o.fusedActivationFunction, y.scale[0], y.zero_point[0])
    return dict(in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w, out_c=out_c, k_h=k_h, k_w=k_w,
                stride_h=o.strideH, stride_w=o.strideW, dilation_h=o.dilationHFactor, dilation_w=o.dilationWFactor,
                pad_h=pad_h, pad_w=pad_w, depth_multiplier=o.depthMultiplier if depthwise else 1,
                input_offset=-x.zero_point[0], output_offset=y.zero_point[0], act_min=act_min, act_max=act_max,
                filter=w.data, bias=bias.data if bias is not None else None,
                multiplier=[m for m, _ in pairs], shift=[s for _, s in pairs])


def _fc_params(op: Op, t: list[Tensor]) -> dict:
    x, w, y = t[op.inputs[0]], t[op.inputs[1]], t[op.output]
    bias = t[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    if len(w.scale) != 1:
        raise ModelError("per-channel FULLY_CONNECTED weights are not supported")
    # Both scales are widened to double before they are multiplied: the TFLM interpreter the host checks
    # against computes GetQuantizedConvolutionMultipler that way (cvtss2sd, cvtss2sd, mulsd in its FC
    # Prepare). A float32 product, as that function's source reads, moves the multiplier by up to 2^-24
    # relative, and an accumulator whose scaled value lies within that of a .5 boundary then requantises
    # one step apart: ad01 printed an MSE of 22.878 where TFLM gives 22.883.
    real = np.float64(np.float32(x.scale[0])) * np.float64(np.float32(w.scale[0])) / np.float64(np.float32(y.scale[0]))
    multiplier, shift = quantize_multiplier(float(real))
    act_min, act_max = activation_range(op.options.fusedActivationFunction, y.scale[0], y.zero_point[0])
    return dict(in_n=w.shape[1], out_n=w.shape[0], input_offset=-x.zero_point[0], filter_offset=-w.zero_point[0],
                output_offset=y.zero_point[0], multiplier=multiplier, shift=shift, act_min=act_min, act_max=act_max,
                filter=w.data, bias=bias.data if bias is not None else None)


def _pool_params(op: Op, t: list[Tensor]) -> dict:
    x, y = t[op.inputs[0]], t[op.output]
    o = op.options
    _, in_h, in_w, c = x.shape
    _, out_h, out_w, _ = y.shape
    pad_h = compute_padding(o.strideH, 1, in_h, o.filterHeight, out_h) if o.padding == _SAME else 0
    pad_w = compute_padding(o.strideW, 1, in_w, o.filterWidth, out_w) if o.padding == _SAME else 0
    act_min, act_max = activation_range(o.fusedActivationFunction, y.scale[0], y.zero_point[0])
    return dict(in_h=in_h, in_w=in_w, c=c, out_h=out_h, out_w=out_w, k_h=o.filterHeight, k_w=o.filterWidth,
                stride_h=o.strideH, stride_w=o.strideW, pad_h=pad_h, pad_w=pad_w, act_min=act_min, act_max=act_max)


def _add_params(op: Op, t: list[Tensor]) -> dict:
    a, b, y = t[op.inputs[0]], t[op.inputs[1]], t[op.output]
    if a.shape != b.shape:
        raise ModelError("ADD with broadcasting is not supported")
    left_shift = 20
    s1, s2, so = (np.float64(np.float32(v.scale[0])) for v in (a, b, y))
    twice_max = 2 * max(s1, s2)
    m1 = quantize_multiplier(float(s1 / twice_max))
    m2 = quantize_multiplier(float(s2 / twice_max))
    mo = quantize_multiplier(float(twice_max / ((1 << left_shift) * so)))
    act_min, act_max = activation_range(op.options.fusedActivationFunction, y.scale[0], y.zero_point[0])
    return dict(n=a.size, input1_offset=-a.zero_point[0], input2_offset=-b.zero_point[0],
                output_offset=y.zero_point[0], left_shift=left_shift, input1_multiplier=m1[0], input1_shift=m1[1],
                input2_multiplier=m2[0], input2_shift=m2[1], output_multiplier=mo[0], output_shift=mo[1],
                act_min=act_min, act_max=act_max)


def _softmax_params(op: Op, t: list[Tensor]) -> dict:
    x, y = t[op.inputs[0]], t[op.output]
    if (y.scale[0], y.zero_point[0]) != (1 / 256, -128):
        raise ModelError("SOFTMAX output must be quantised with scale 1/256 and zero point -128")
    integer_bits = 5
    beta, scale = (np.float64(np.float32(v)) for v in (op.options.beta, x.scale[0]))
    real = min(beta * scale * (1 << (31 - integer_bits)), float((1 << 31) - 1))
    multiplier, left_shift = quantize_multiplier(float(real))
    radius = math.floor(((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) / (1 << left_shift))
    return dict(rows=int(np.prod(x.shape[:-1])), depth=x.shape[-1], input_multiplier=multiplier,
                input_left_shift=left_shift, diff_min=-radius)


_PARAMS = {"CONV_2D": lambda op, t: _conv_params(op, t, False),
           "DEPTHWISE_CONV_2D": lambda op, t: _conv_params(op, t, True),
           "FULLY_CONNECTED": _fc_params, "AVERAGE_POOL_2D": _pool_params, "ADD": _add_params,
           "SOFTMAX": _softmax_params, "RESHAPE": lambda op, t: {}}


# -- the arena ---------------------------------------------------------------------------------------
def plan_arena(tensors: list[Tensor], ops: list[Op], model_input: int) -> tuple[dict[int, int], int]:
    """Offsets of every activation tensor in one arena (first fit, largest first, by lifetime)."""
    storage = {model_input: model_input}  # tensor -> the tensor whose memory it uses (RESHAPE aliases)
    life = {model_input: [-1, -1]}
    for k, op in enumerate(ops):
        for i in op.inputs:
            if i >= 0 and i in storage:
                life[storage[i]][1] = k
        if op.kind == "RESHAPE":
            storage[op.output] = storage[op.inputs[0]]
        else:
            storage[op.output] = op.output
            life[op.output] = [k, k]
    life[storage[ops[-1].output]][1] = len(ops)  # the output outlives the graph
    life[model_input][1] = len(ops)  # and so does the input: `infer N` runs the graph N times on it
    placed: list[tuple[int, int, int, int]] = []  # offset, size, first, last
    offsets = {}
    for tensor in sorted(life, key=lambda i: -tensors[i].size):
        first, last = life[tensor]
        size = (tensors[tensor].size + _ALIGN - 1) // _ALIGN * _ALIGN
        offset = 0
        for o, s, f, la in sorted(placed):
            if f <= last and first <= la and offset < o + s and o < offset + size:
                offset = (o + s + _ALIGN - 1) // _ALIGN * _ALIGN
        for o, s, f, la in sorted(placed):  # a second pass settles overlaps the first pass moved into
            if f <= last and first <= la and offset < o + s and o < offset + size:
                offset = (o + s + _ALIGN - 1) // _ALIGN * _ALIGN
        placed.append((offset, size, first, last))
        offsets[tensor] = offset
    return {t: offsets[s] for t, s in storage.items()}, max(o + s for o, s, _, _ in placed)


# -- emitting C ----------------------------------------------------------------------------------------
def _float(value: float) -> str:
    """A float32 as an exact C hexadecimal literal."""
    return float(np.float32(value)).hex() + "f"


def _array(ctype: str, name: str, values) -> str:
    flat = [int(v) for v in np.asarray(values).reshape(-1)]
    rows = [", ".join(map(str, flat[i:i + 24])) for i in range(0, len(flat), 24)]
    return f"static const {ctype} {name}[{len(flat)}] = {{\n    " + ",\n    ".join(rows) + "\n};\n"


_STRUCT = {"CONV_2D": ("tr_conv_params", "tr_conv2d"), "DEPTHWISE_CONV_2D": ("tr_conv_params", "tr_depthwise_conv2d"),
           "FULLY_CONNECTED": ("tr_fc_params", "tr_fully_connected"),
           "AVERAGE_POOL_2D": ("tr_pool_params", "tr_average_pool"), "ADD": ("tr_add_params", "tr_add"),
           "SOFTMAX": ("tr_softmax_params", "tr_softmax")}


@dataclass
class Generated:
    arena_bytes: int
    weight_bytes: int
    input_bytes: int
    output_bytes: int
    ops: list[str]


def _download_bytes_per_element(model_id: str) -> int:
    """4 for a benchmark with float input windows, which its port quantises itself (ad01,
    tiny_protocol.md §3.7); 1 for int8 input and for a model of no registered benchmark."""
    benchmark = find_benchmark(model_id)
    return benchmark.input_element_bytes if benchmark else 1


def generate(model_path: Path, out_dir: Path, model_id: str = "model") -> Generated:
    if not isinstance(model_id, str) or not MODEL_ID_PATTERN.fullmatch(model_id):
        raise ValueError(f"model id {model_id!r} must match ^[a-z][a-z0-9_]*$ (it becomes a C identifier)")
    tensors, ops, model_input, model_output = read_model(model_path)
    for op in ops:
        op.params = _PARAMS[op.kind](op, tensors)
    offsets, arena = plan_arena(tensors, ops, model_input)
    body, calls, weight_bytes = [], [], 0
    for k, op in enumerate(ops):
        if op.kind == "RESHAPE":
            continue
        struct, function = _STRUCT[op.kind]
        fields = []
        for key, value in op.params.items():
            if key in ("filter", "bias", "multiplier", "shift"):
                if value is None:
                    fields.append(f".{key} = 0")
                    continue
                ctype = "int8_t" if key == "filter" else "int32_t"
                if key in ("multiplier", "shift") and op.kind == "FULLY_CONNECTED":
                    fields.append(f".{key} = {int(value)}")
                    continue
                body.append(_array(ctype, f"op{k}_{key}", value))
                weight_bytes += np.asarray(value).size * (1 if ctype == "int8_t" else 4)
                fields.append(f".{key} = op{k}_{key}")
            else:
                fields.append(f".{key} = {int(value)}")
        body.append(f"static const {struct} op{k} = {{{', '.join(fields)}}};\n")
        ins = ", ".join(f"arena + {offsets[i]}" for i in op.inputs[: 2 if op.kind == "ADD" else 1])
        calls.append(f"    {function}(&op{k}, {ins}, arena + {offsets[op.output]});")
    x, y = tensors[model_input], tensors[model_output]
    out_dir.mkdir(parents=True, exist_ok=True)
    banner = f"/* Generated by tiny-runner codegen from {Path(model_path).name}. Do not edit. */"
    (out_dir / "tr_model.h").write_text(f"""{banner}
#ifndef TR_MODEL_H
#define TR_MODEL_H

#include <stdint.h>

#define TR_MODEL_ID "{model_id}"
#define TR_MODEL_BENCHMARK_{model_id.upper()} 1
#define TR_MODEL_ARENA_BYTES {arena}
#define TR_MODEL_INPUT_OFFSET {offsets[model_input]}
#define TR_MODEL_INPUT_BYTES {x.size}
#define TR_MODEL_DB_BYTES {x.size * _download_bytes_per_element(model_id)} /* downloaded per input */
#define TR_MODEL_INPUT_SCALE {_float(x.scale[0])} /* {float(np.float32(x.scale[0])):.9g} */
#define TR_MODEL_INPUT_ZERO_POINT {x.zero_point[0]}
#define TR_MODEL_OUTPUT_OFFSET {offsets[model_output]}
#define TR_MODEL_OUTPUT_BYTES {y.size}
#define TR_MODEL_OUTPUT_SCALE {_float(y.scale[0])} /* {float(np.float32(y.scale[0])):.9g} */
#define TR_MODEL_OUTPUT_ZERO_POINT {y.zero_point[0]}
#define TR_MODEL_WEIGHT_BYTES {weight_bytes}

/* Run the model on the input at arena + TR_MODEL_INPUT_OFFSET; the output lands at
 * arena + TR_MODEL_OUTPUT_OFFSET. The arena must hold TR_MODEL_ARENA_BYTES; the kernels read
 * bytes, so it needs no particular alignment (tensors start at multiples of 16 within it). */
void tr_model_invoke(int8_t *arena);

#endif
""")
    (out_dir / "tr_model.c").write_text(
        f"{banner}\n"
        '#include "tr_model.h"\n#include "tr_nn.h"\n\n' + "\n".join(body)
        + "\nvoid tr_model_invoke(int8_t *arena)\n{\n" + "\n".join(calls) + "\n}\n")
    kernels = firmware_source_dir() / "nn"
    for name in ("tr_nn.h", "tr_nn.c"):
        shutil.copy(kernels / name, out_dir / name)
    return Generated(arena, weight_bytes, x.size, y.size, [op.kind for op in ops])
