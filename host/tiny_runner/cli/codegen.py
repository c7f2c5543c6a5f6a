"""tiny-runner codegen: an int8 .tflite model as C source for the firmware (tr_model.c/h plus the kernels)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import ModelError, UsageError
from ..image.codegen import MODEL_ID_PATTERN, generate
from ..model.reference import REFERENCE_MODELS, sha256_file

WRITTEN = ("tr_model.h", "tr_model.c", "tr_nn.h", "tr_nn.c")


def add_parser(sub) -> None:
    p = sub.add_parser("codegen", help="turn an int8 .tflite model into C source for the firmware",
                       description="Writes tr_model.h, tr_model.c and the int8 kernels tr_nn.h, tr_nn.c to DIR; "
                                   "build the firmware with `make -C firmware MODEL_DIR=DIR`.")
    p.add_argument("model", metavar="MODEL.tflite")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder (created if missing)")
    p.add_argument("--id", dest="model_id", metavar="ID",
                   help="model id compiled into the firmware (default: the benchmark id of a reference model, "
                        "else the file name)")
    p.set_defaults(handler=run)


def default_model_id(path: Path) -> str:
    """The benchmark id for a reference model (by hash), else the file stem made into an identifier."""
    digest = sha256_file(path)
    for ref in REFERENCE_MODELS.values():
        if ref.sha256 == digest:
            return ref.benchmark_id
    stem = re.sub(r"[^a-z0-9_]", "_", path.stem.lower())
    return stem if MODEL_ID_PATTERN.fullmatch(stem) else f"model_{stem}"  # ids start with a letter


def run(args) -> int:
    if args.model_id is not None and not MODEL_ID_PATTERN.fullmatch(args.model_id):
        raise UsageError(f"--id {args.model_id!r}: use lowercase letters, digits and '_', starting with a letter")
    model = Path(args.model)
    if not model.is_file():
        raise ModelError(f"model file {model} not found" if not model.exists() else f"{model} is not a file")
    out = Path(args.out)
    _check_writable(out)
    model_id = args.model_id or default_model_id(model)
    try:
        result = generate(model, out, model_id)
    except OSError as exc:  # a full disk, or a folder that turned read-only under us
        raise UsageError(f"output folder {out} is not writable: {exc.strerror or exc} ({exc.filename})") from None
    print(f"model id:      {model_id}")
    print(f"operators:     {len(result.ops)}")
    print(f"weights:       {result.weight_bytes:,} bytes")
    print(f"arena:         {result.arena_bytes:,} bytes")
    print(f"input/output:  {result.input_bytes:,} / {result.output_bytes:,} bytes")
    print(f"wrote:         {', '.join(str(out / name) for name in WRITTEN)}")
    return 0


def _check_writable(out: Path) -> None:
    """Refuse an output folder that cannot be written before any work is done."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"output folder {out}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"output folder {out} is not writable")
