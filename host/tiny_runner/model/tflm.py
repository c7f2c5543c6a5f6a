"""The TFLM interpreter (PyPI `tflite-micro`), in-process or in a worker process.

TFLM can abort the whole process on a model it dislikes, so the runner never loads it into
its own process: `TflmWorker` runs `python -m tiny_runner.model.tflm MODEL` and talks to it over
pipes (length-prefixed int8 tensors). The virtual DUT is already a separate process and uses
`TflmModel` directly.
"""

from __future__ import annotations

import json
import signal
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

from ..benchmarks.reference_port import Quantization
from ..errors import InferenceError
from ..run.stopping import lab_process_options

_LEN = struct.Struct("<I")


class TflmModel:
    """One interpreter for one model; `run` takes and returns flat int8 arrays."""

    def __init__(self, path: Path):
        from tflite_micro.python.tflite_micro import runtime

        self.path = Path(path)
        self._interp = runtime.Interpreter.from_file(str(self.path))
        self.input_details = self._interp.get_input_details(0)
        self.output_details = self._interp.get_output_details(0)
        self.input_quant = _quant(self.input_details)
        self.output_quant = _quant(self.output_details)

    def run(self, data: np.ndarray) -> np.ndarray:
        shape = tuple(self.input_details["shape"])
        self._interp.set_input(np.asarray(data, dtype=self.input_details["dtype"]).reshape(shape), 0)
        self._interp.invoke()
        return np.array(self._interp.get_output(0)).reshape(-1)

    def describe(self) -> dict:
        return {
            "input_shape": [int(d) for d in self.input_details["shape"]],
            "output_shape": [int(d) for d in self.output_details["shape"]],
            "input_dtype": np.dtype(self.input_details["dtype"]).name,
            "output_dtype": np.dtype(self.output_details["dtype"]).name,
            "input_quant": [self.input_quant.scale, self.input_quant.zero_point],
            "output_quant": [self.output_quant.scale, self.output_quant.zero_point],
        }


def _quant(details: dict) -> Quantization:
    q = details["quantization_parameters"]
    scales, zero_points = q["scales"], q["zero_points"]
    return Quantization(float(scales[0]) if len(scales) else 1.0, int(zero_points[0]) if len(zero_points) else 0)


class TflmWorker:
    """A TFLM interpreter in a child process; a crash there becomes an InferenceError here."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tiny_runner.model.tflm", str(self.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **lab_process_options(),
        )
        header = self._proc.stdout.readline()
        if not header:
            raise self._failure("could not load the model")
        info = json.loads(header)
        self.input_quant = Quantization(*info["input_quant"])
        self.output_quant = Quantization(*info["output_quant"])
        self.input_shape = tuple(info["input_shape"])
        self._out_dtype = np.dtype(info["output_dtype"])

    def run(self, data: np.ndarray) -> np.ndarray:
        payload = np.ascontiguousarray(data).tobytes()
        try:
            self._proc.stdin.write(_LEN.pack(len(payload)) + payload)
            self._proc.stdin.flush()
            size = self._proc.stdout.read(_LEN.size)
            out = self._proc.stdout.read(_LEN.unpack(size)[0]) if len(size) == _LEN.size else b""
        except (BrokenPipeError, struct.error):
            out = b""
        if not out:
            raise self._failure("died during an inference")
        return np.frombuffer(out, dtype=self._out_dtype)

    def _failure(self, what: str) -> InferenceError:
        code = self._proc.wait(timeout=10)
        detail = self._proc.stderr.read().decode(errors="replace").strip().splitlines()
        last = f": {detail[-1]}" if detail else ""
        return InferenceError(f"host TFLM interpreter for {self.path.name} {what} (exit code {code}){last}")

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdout, self._proc.stderr):
            stream.close()

    def __enter__(self) -> "TflmWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve(path: str) -> None:
    model = TflmModel(Path(path))
    out = sys.stdout.buffer
    out.write(json.dumps(model.describe()).encode() + b"\n")
    out.flush()
    dtype = np.dtype(model.input_details["dtype"])
    while True:
        size = sys.stdin.buffer.read(_LEN.size)
        if len(size) < _LEN.size:
            return
        data = np.frombuffer(sys.stdin.buffer.read(_LEN.unpack(size)[0]), dtype=dtype)
        result = model.run(data).tobytes()
        out.write(_LEN.pack(len(result)) + result)
        out.flush()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends the worker by closing its stdin
    _serve(sys.argv[1])
