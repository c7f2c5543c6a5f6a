"""Static facts about a .tflite model: operators, multiply-accumulates, tensor quantisation.

Read with the flatbuffer schema that ships inside tflite-micro, so no interpreter is needed.
The MAC count drives the virtual lab's latency model.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ModelError


@dataclass(frozen=True)
class ModelInfo:
    macs: int
    operators: int
    op_counts: dict[str, int]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_type: str  # the schema's tensor type name: "INT8", "FLOAT32", ...
    output_type: str


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


@lru_cache(maxsize=16)
def model_info(path: Path) -> ModelInfo:
    schema = _schema()
    try:
        model = schema.ModelT.InitFromPackedBuf(Path(path).read_bytes(), 0)
        graph = model.subgraphs[0]
    except Exception as exc:  # the flatbuffer reader raises assorted errors on garbage
        raise ModelError(f"{path} is not a readable .tflite model ({type(exc).__name__})") from None
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    counts: Counter[str] = Counter()
    macs = 0
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        name = op_names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")
        counts[name] += 1
        out = graph.tensors[op.outputs[0]].shape
        weights = graph.tensors[op.inputs[1]].shape if len(op.inputs) > 1 and op.inputs[1] >= 0 else None
        if name == "CONV_2D":  # weights [out_c, kh, kw, in_c]
            macs += int(np.prod(out)) * int(np.prod(weights[1:]))
        elif name == "DEPTHWISE_CONV_2D":  # weights [1, kh, kw, out_c]
            macs += int(np.prod(out)) * int(weights[1] * weights[2])
        elif name == "FULLY_CONNECTED":  # weights [out, in]
            macs += int(np.prod(out)) * int(weights[1])
    inputs, outputs = graph.inputs, graph.outputs
    type_names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    return ModelInfo(
        macs=macs,
        operators=len(graph.operators),
        op_counts=dict(counts),
        input_shape=tuple(int(d) for d in graph.tensors[inputs[0]].shape),
        output_shape=tuple(int(d) for d in graph.tensors[outputs[0]].shape),
        input_type=type_names.get(graph.tensors[inputs[0]].type, "UNKNOWN"),
        output_type=type_names.get(graph.tensors[outputs[0]].type, "UNKNOWN"),
    )
