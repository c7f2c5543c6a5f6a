"""Download efficiency of `db` transfers on the virtual DUT at real-time speed.

efficiency = payload bytes / (seconds x baud / 10): the share of the UART's byte rate that
carries input data. Commands are `db <hex>%` (2 characters per byte plus 4 of framing) and
each waits for `m-ready\\r\\n`, so the ceiling with 38-byte chunks is 38 / (80 + 9) = 0.427
before any turnaround time; with the MLCommons runner's 31-byte chunks it is 31 / (66 + 9).

    TINY_RUNNER_MODEL_DIR=../shared/reference python benchmarks/download_efficiency.py [--baud 115200]
"""

from __future__ import annotations

import argparse
import time

from tiny_runner.benchmarks import get_benchmark
from tiny_runner.benchmarks.synth import performance_stimuli
from tiny_runner.lab.bench_process import BenchConfig
from tiny_runner.lab.launcher import VirtualBench
from tiny_runner.model.reference import resolve_model
from tiny_runner.protocol.dut import DutClient
from tiny_runner.protocol.link import Link


def measure(bench_id: str, baud: int, chunk: int, repeats: int) -> tuple[int, float]:
    bench = get_benchmark(bench_id)
    model = resolve_model(bench.id)
    config = BenchConfig(benchmark_id=bench.id, model_path=str(model.path), inference_us=1000.0,
                              baud=baud, speed=1.0)
    data = performance_stimuli(bench, count=1)[0][1]
    with VirtualBench(config) as lab, Link(lab.url, baud) as link:
        lab.power_on()
        dut = DutClient(link, db_chunk_bytes=chunk)
        dut.read_banner(5)
        start = time.perf_counter()
        for _ in range(repeats):
            dut.load(data)
        seconds = time.perf_counter() - start
    return len(data) * repeats, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baud", type=int, default=115_200)
    args = parser.parse_args()
    line_rate = args.baud / 10
    print(f"virtual DUT at lab speed 1 (real time), {args.baud} baud = {line_rate:.0f} bytes/s on the wire")
    print(f"{'input':<8} {'chunk':>5} {'payload B':>10} {'seconds':>8} {'payload B/s':>12} "
          f"{'efficiency':>10} {'ceiling':>8}")
    for bench_id, repeats in (("kws01", 10), ("ic01", 2), ("vww01", 1)):
        for chunk in (31, 38):
            payload, seconds = measure(bench_id, args.baud, chunk, repeats)
            ceiling = chunk / (2 * chunk + 4 + 9)
            print(f"{bench_id:<8} {chunk:>5} {payload:>10} {seconds:>8.3f} {payload / seconds:>12.0f} "
                  f"{payload / (seconds * line_rate):>10.3f} {ceiling:>8.3f}")


if __name__ == "__main__":
    main()
