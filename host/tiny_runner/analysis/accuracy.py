"""Accuracy metrics as the MLPerf Tiny rules name them (tiny_protocol.md §6.4).

Top-1: argmax (ties to the lowest index) against the label. AUC: sklearn's roc_auc_score
semantics, computed here with numpy as the Mann-Whitney statistic (ties count one half),
which equals the area under the trapezoidal ROC curve: binary for two classes, one-vs-rest
macro average for more. Result vectors are normalised to sum to 1 first, as the MLCommons
runner does (the DUT prints three decimals).
"""

from __future__ import annotations

import numpy as np


def normalise_rows(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    sums = scores.sum(axis=1, keepdims=True)
    uniform = np.full_like(scores, 1.0 / scores.shape[1])
    return np.where(sums > 0, scores / np.where(sums > 0, sums, 1.0), uniform)


def top1_percent(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(100.0 * np.mean(np.argmax(scores, axis=1) == np.asarray(labels)))


def binary_auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve; None when only one class is present (undefined)."""
    positive = np.asarray(positive, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(score, kind="mergesort")
    sorted_scores = score[order]
    ranks = np.empty(len(score))
    # average ranks over ties (1-based)
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def ovr_macro_auc(labels: np.ndarray, scores: np.ndarray) -> tuple[float | None, list[int]]:
    """One-vs-rest macro AUC over the classes present in labels; also returns those classes.
    (sklearn refuses when a class is absent; here the absent ones are left out and named.)"""
    labels = np.asarray(labels)
    per_class = []
    used = []
    for c in range(scores.shape[1]):
        auc = binary_auc(labels == c, scores[:, c])
        if auc is not None:
            per_class.append(auc)
            used.append(c)
    return (float(np.mean(per_class)) if per_class else None), used


def classification_metrics(labels, results) -> dict:
    scores = normalise_rows(np.asarray(results, dtype=np.float64))
    labels = np.asarray(labels)
    n_classes = scores.shape[1]
    if n_classes == 2:
        auc = binary_auc(labels == 1, scores[:, 1])
        used = [0, 1] if auc is not None else []
    else:
        auc, used = ovr_macro_auc(labels, scores)
    return {
        "top1_pct": top1_percent(labels, scores),
        "auc": auc,
        "auc_classes": len(used),
        "classes": n_classes,
        "samples": int(len(labels)),
    }


def pr_accuracy_percent(labels, scores, thresholds: int = 100) -> float:
    """The figure the MLCommons runner prints as 'Top 1%' for ad01, computed as it does: the best
    mean of precision and recall over thresholds from the lowest score up in steps of 1/thresholds
    of the score range (the highest score is not one), a file counting as an anomaly when its
    score is above the threshold."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    low, high = scores.min(), scores.max()
    best = 0.0
    for threshold in low + np.arange(0.0, 1.0, 1.0 / thresholds) * (high - low):
        predicted = scores > threshold
        tp = np.sum(predicted & labels)
        precision = tp / max(np.sum(predicted), 1)
        recall = tp / max(np.sum(labels), 1)
        best = max(best, 100.0 * (precision + recall) / 2.0)
    return float(best)


def anomaly_metrics(labels, file_scores) -> dict:
    labels = np.asarray(labels)
    return {
        "auc": binary_auc(labels == 1, np.asarray(file_scores)),
        "pr_accuracy_pct": pr_accuracy_percent(labels, file_scores),
        "samples": int(len(labels)),
    }
