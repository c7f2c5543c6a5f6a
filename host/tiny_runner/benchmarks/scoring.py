"""How benchmarks are scored and how their figures are worded: classification (top-1 and AUC)
and anomaly detection (per-file mean MSE, AUC). A benchmark names one of these, or a Scoring
of its own, in its declaration."""

from __future__ import annotations

import numpy as np

from ..analysis.accuracy import anomaly_metrics, classification_metrics


def auc_text(auc) -> str:
    return "undefined" if auc is None else f"{auc:.3f}"


class Scoring:
    """What an accuracy run does with a benchmark's result vectors, and how it reports them."""

    metric = ""

    def file_score(self, values: list[list[float]]):
        """The score of one dataset file from the result vectors of its inputs."""
        raise NotImplementedError

    def output_row(self, file: str, label: int, score, inputs: int) -> list:
        """The file's row in the run directory's outputs."""
        raise NotImplementedError

    def metrics(self, labels: list[int], scores: list) -> dict:
        raise NotImplementedError

    def figure_name(self, synthetic: bool) -> str:
        """What an accuracy run measures, as every human-facing line names it."""
        return "accuracy"

    def synthetic_violation(self, bench) -> str:
        return f"synthetic dataset (dataset.json): not the {bench.id} test set, so the figures are not accuracy"

    def result_lines(self, results: dict, prefix: str, scored: bool) -> list[str]:
        raise NotImplementedError

    def summary_lines(self, results: dict) -> list[str]:
        raise NotImplementedError

    def quality_text(self, results: dict) -> str:
        raise NotImplementedError

    @staticmethod
    def checker_lines(prefix: str, top1: float, auc) -> list[str]:
        """The MLCommons runner's two accuracy lines, which the submission checker scores."""
        lines = [f"{prefix} Top 1% = {top1:2.1f}"]
        if auc is not None:
            lines.append(f"{prefix} AUC = {auc:.3f}")
        return lines


class Classification(Scoring):
    """Top-1 against the label, and AUC (binary, or one-vs-rest over the classes present)."""

    metric = "top1"

    def file_score(self, values):
        return values[0]

    def output_row(self, file, label, score, inputs):
        return [file, label, *score]

    def metrics(self, labels, scores):
        return classification_metrics(labels, scores)

    def figure_name(self, synthetic):
        return "agreement with the reference model (synthetic dataset)" if synthetic else "accuracy"

    def synthetic_violation(self, bench):
        return ("synthetic dataset (dataset.json): its labels are the reference model's own top-1, so top-1 "
                "measures agreement with the reference model, not accuracy")

    def result_lines(self, results, prefix, scored):
        top1, auc = results["top1_pct"], results.get("auc")
        if scored:
            return self.checker_lines(prefix, top1, auc)
        if results.get("stimuli", {}).get("synthetic_dataset"):
            figures = ("agreement with the reference model on a synthetic dataset: "
                       f"top-1 {top1:.1f} %, AUC {auc_text(auc)}")
        else:
            figures = f"top-1 {top1:.1f} %, AUC {auc_text(auc)}"
        return [f"{prefix} NOT VALID: {figures}"]

    def summary_lines(self, results):
        auc = results.get("auc")
        auc_part = f", AUC {auc:.4f}" if auc is not None else ""
        if auc is not None and results.get("auc_classes") != results.get("classes"):
            auc_part += f" (over the {results['auc_classes']} of {results['classes']} classes present)"
        figures = f"top-1 {results['top1_pct']:.2f} %{auc_part}"
        synthetic = results.get("stimuli", {}).get("synthetic_dataset")
        return [f"  agreement with the reference model: {figures}" if synthetic else f"  {figures}"]

    def quality_text(self, results):
        return f"top-1 {results['top1_pct']:.1f} % agreement over {results['files']} files"


class AnomalyDetection(Scoring):
    """Each file scored by the mean of its windows' first result (the reconstruction MSE);
    AUC over the files, and the precision/recall figure the MLCommons runner prints as 'Top 1%'."""

    metric = "auc"

    def file_score(self, values):
        return float(np.mean([v[0] for v in values]))

    def output_row(self, file, label, score, inputs):
        return [file, label, f"{score:.6f}", inputs]

    def metrics(self, labels, scores):
        return anomaly_metrics(labels, scores)

    def figure_name(self, synthetic):
        return "AUC on a synthetic dataset" if synthetic else "accuracy"

    def synthetic_violation(self, bench):
        return ("synthetic dataset (dataset.json): synthetic spectrograms labelled by construction, not the "
                f"{bench.id} test set, so the AUC is not the model's accuracy")

    def result_lines(self, results, prefix, scored):
        top1, auc = results["pr_accuracy_pct"], results.get("auc")
        if scored:
            return self.checker_lines(prefix, top1, auc)
        figures = f"AUC {auc_text(auc)}, precision/recall accuracy {top1:.1f} %"
        if results.get("stimuli", {}).get("synthetic_dataset"):
            figures += " on a synthetic dataset"
        return [f"{prefix} NOT VALID: {figures}"]

    def summary_lines(self, results):
        auc = f"AUC {results['auc']:.4f}" if results.get("auc") is not None else "AUC undefined"
        synthetic = results.get("stimuli", {}).get("synthetic_dataset")
        if synthetic:
            return [f"  {auc} on a synthetic dataset (not the {results['benchmark']} test set)"]
        return [f"  {auc}"]

    def quality_text(self, results):
        return f"AUC {results['auc']:.3f} over {results['files']} files"
