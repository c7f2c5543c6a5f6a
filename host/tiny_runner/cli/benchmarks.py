"""tiny-runner benchmarks: the benchmarks this installation measures, built in or plug-ins."""

from __future__ import annotations

import json

from ..benchmarks import broken_plugins, plugins


def add_parser(sub) -> None:
    p = sub.add_parser("benchmarks", help="list the benchmarks tiny-runner measures (built in and plug-ins)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def entries() -> list[dict]:
    return [{"id": b.id, "name": b.short, "task": b.task, "metric": b.metric, "modes": list(b.procedures),
             "quality_target": b.quality_target, "input_bytes": b.input_bytes, "output_values": b.output_size,
             "reference_model": b.model_file}
            for b in plugins().values()]


def run(args) -> int:
    listed, notes = entries(), list(broken_plugins().values())
    if args.json:
        print(json.dumps({"benchmarks": listed, "notes": notes}))
        return 0
    for b in listed:
        print(f"  --benchmark {b['name']:<6} {b['id']:<8} {b['task']} ({b['metric']}; modes {', '.join(b['modes'])})")
    for text in notes:
        print(f"  ({text})")
    return 0
