"""What the C firmware costs per model on the emulated Cortex-M4 (board qemu-m4).

For each reference model: the image's flash (code apart from the weights, the weights and
quantisation parameters) and static RAM (the activation arena within it), then the
instructions one inference executes. Under `-icount shift=3` one instruction is 8 ns of
virtual time, so instructions = latency on the firmware's own timer / 8 ns. Also the host
seconds QEMU needs per inference on this machine.

    TINY_RUNNER_MODEL_DIR=../shared/reference python benchmarks/firmware_footprint.py [--iterations 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tiny_runner.benchmarks import BENCHMARKS
from tiny_runner.benchmarks.synth import performance_stimuli
from tiny_runner.boards import load_board
from tiny_runner.errors import DutTimeout
from tiny_runner.image.build import build_image
from tiny_runner.lab.firmware_dut import FirmwareDut
from tiny_runner.model.reference import resolve_model
from tiny_runner.protocol.dut import DutClient
from tiny_runner.protocol.link import Link

BOARD = "qemu-m4"


def instructions_per_inference(image: Path, qemu: dict, data: bytes, iterations: int) -> tuple[float, float]:
    """(instructions, host seconds) per inference, from one `infer N 1` on the image."""
    ns_per_instruction = 2 ** qemu["icount_shift"]
    with tempfile.TemporaryDirectory() as scratch, FirmwareDut.qemu(qemu, image, Path(scratch) / "log") as qemu_dut:
        with Link(qemu_dut.url, 115_200) as link:
            dut = DutClient(link)
            dut.read_banner(5, first_line_s=0.5)
            for _ in range(3):  # QEMU may hold back the first bytes for up to a second
                try:
                    dut.name(2.0)
                    break
                except DutTimeout:
                    continue
            dut.load(data)
            start = time.perf_counter()
            reply = dut.infer(iterations, 1, timeout_s=600)
            host_s = (time.perf_counter() - start) / (iterations + 1)
    return reply.elapsed_us * 1000 / ns_per_instruction / iterations, host_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3, help="timed inferences per model")
    args = parser.parse_args()
    board = load_board(BOARD)
    print(f"{'model':<7} {'code B':>8} {'weights B':>10} {'flash B':>9} {'RAM B':>8} {'arena B':>8} "
          f"{'instructions':>13} {'virtual ms':>10} {'host s/inf':>10}")
    for bench in BENCHMARKS.values():
        model = resolve_model(bench.id)
        image = build_image(board.firmware_port, model.path, bench.id, "performance", board.vendor_string)
        data = performance_stimuli(bench, count=1)[0][1]
        instructions, host_s = instructions_per_inference(image.path, board.qemu, data, args.iterations)
        virtual_ms = instructions * 2 ** board.qemu["icount_shift"] / 1e6
        print(f"{bench.id:<7} {image.code_bytes:>8,} {image.weight_bytes:>10,} "
              f"{image.text_bytes + image.data_bytes:>9,} {image.data_bytes + image.bss_bytes:>8,} "
              f"{image.arena_bytes:>8,} {instructions:>13,.0f} {virtual_ms:>10.2f} {host_s:>10.3f}")


if __name__ == "__main__":
    main()
