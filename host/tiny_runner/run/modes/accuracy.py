"""Accuracy mode (tiny_protocol.md §6.4): every file of the label list (or the first K),
`infer 1 0` on each input (every window of a file at its stride, for ad01), each file scored and
the files' scores turned into metrics by the benchmark: top-1 and AUC for the classifiers,
per-file mean MSE and AUC for ad01.

On a synthetic dataset (dataset.json says so) the figures are not accuracy: classifier labels
are the reference model's own answers, so top-1 is agreement with it; ad01's stimuli are not
the benchmark's test set. Such a run is never valid for submission."""

from __future__ import annotations

import statistics

from ...errors import ProtocolError, UsageError
from .. import rules
from ..record import AccuracyFigures, InputResult, LatencySummary, Stimuli
from . import Procedure

_FIRST_TIMEOUT_S = 60.0


class AccuracyRun(Procedure):
    def run(self) -> None:
        dataset, bench = self.req.dataset, self.req.benchmark
        if dataset is None:
            raise UsageError(
                "accuracy mode needs --dataset DIR (y_labels.csv and its .bin files); "
                "`tiny-runner dataset synth` writes a synthetic one"
            )
        entries = dataset.entries[: self.req.limit] if self.req.limit else dataset.entries
        self.recorder.set_stimuli(Stimuli(
            "dataset", dataset=str(dataset.root), labels_file=dataset.labels_path.name,
            synthetic_dataset=dataset.synthetic, labels=dataset.meta.get("labels", "from the dataset"),
            files_in_dataset=len(dataset.entries)))
        self.recorder.start_windows()  # accuracy mode has no timed windows
        labels, scores, latencies_us = [], [], []
        timeout = _FIRST_TIMEOUT_S
        self.progress.start(f"{bench.id} {bench.figure_name(dataset.synthetic)}: {len(entries)} files")
        for done, entry in enumerate(entries, start=1):
            data = dataset.read(entry)
            values = []
            for number, window in enumerate(dataset.windows(entry, data)):
                self.dut.load(window)
                reply = self.dut.infer(1, 0, timeout)
                latencies_us.append(reply.elapsed_us)
                timeout = rules.infer_timeout_s(max(latencies_us) / 1e6)
                if len(reply.results) != bench.output_size:
                    raise ProtocolError(
                        f"{entry.file}: the DUT returned {len(reply.results)} values; "
                        f"{bench.id} results have {bench.output_size}"
                    )
                values.append(reply.results)
                if self.golden:
                    label = f"{entry.file}#{number}" if entry.window_bytes else entry.file
                    self.golden.check(label, window, reply.results)
            labels.append(entry.label)
            score = bench.file_score(values)
            scores.append(score)
            self.recorder.add_input(InputResult(entry.file, entry.label, score, len(values)),
                                    bench.output_row(entry.file, entry.label, score, len(values)))
            self.progress.update(done, len(entries), entry.file)

        metrics = bench.metrics(labels, scores)
        latency = LatencySummary(statistics.median(latencies_us) / 1e3, min(latencies_us) / 1e3,
                                 max(latencies_us) / 1e3)
        self.recorder.set_accuracy(AccuracyFigures(metrics, len(entries), len(latencies_us), latency))
        if dataset.synthetic:
            self.recorder.add_violation(bench.synthetic_violation())
        if self.req.limit and self.req.limit < len(dataset.entries):
            self.recorder.add_violation(
                f"--limit {self.req.limit}: {len(entries)} of {len(dataset.entries)} files; "
                "an accuracy result needs every file"
            )
        self.log(f"{bench.figure_name(dataset.synthetic)}: {len(entries)} files, {len(latencies_us)} inferences, "
                 f"metrics {metrics}")
