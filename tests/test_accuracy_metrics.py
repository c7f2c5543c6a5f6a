"""Top-1 and AUC against sklearn's roc_auc_score, which the MLPerf Tiny rules name."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tiny_runner.analysis.accuracy import (
    anomaly_metrics,
    binary_auc,
    classification_metrics,
    normalise_rows,
    pr_accuracy_percent,
    top1_percent,
)
from tiny_runner.analysis.stats import window_stats


@pytest.mark.parametrize("seed", range(5))
def test_binary_auc_matches_sklearn_including_ties(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.random(200) + 0.3 * labels, 2)  # 2 decimals: many ties
    assert binary_auc(labels == 1, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


@pytest.mark.parametrize("classes", [3, 10, 12])
def test_ovr_macro_auc_matches_sklearn(classes):
    rng = np.random.default_rng(classes)
    labels = np.concatenate([np.arange(classes), rng.integers(0, classes, 300)])
    raw = np.round(rng.random((len(labels), classes)) + np.eye(classes)[labels] * 0.4, 3)
    got = classification_metrics(labels, raw)
    expected = roc_auc_score(labels, normalise_rows(raw), multi_class="ovr", average="macro")
    assert got["auc"] == pytest.approx(expected, abs=1e-12)
    assert got["auc_classes"] == classes


def test_two_class_results_use_the_positive_column():
    labels = np.array([0, 1, 1, 0, 1])
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3], [0.1, 0.9]])
    got = classification_metrics(labels, scores)
    assert got["auc"] == pytest.approx(roc_auc_score(labels, scores[:, 1]))
    assert got["top1_pct"] == pytest.approx(80.0)


def test_top1_ties_go_to_the_lowest_index():
    assert top1_percent([0, 1], np.array([[0.5, 0.5], [0.5, 0.5]])) == 50.0


def test_auc_undefined_with_one_class_and_absent_classes_are_left_out():
    assert binary_auc(np.array([True, True]), np.array([0.1, 0.2])) is None
    labels = np.array([0, 1, 0, 1])
    scores = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1]])
    got = classification_metrics(labels, scores)
    assert got["auc_classes"] == 2 and got["auc"] == pytest.approx(1.0)


def test_zero_rows_normalise_to_uniform():
    rows = normalise_rows(np.array([[0.0, 0.0], [1.0, 3.0]]))
    assert rows.tolist() == [[0.5, 0.5], [0.25, 0.75]]


def test_anomaly_metrics_and_pr_accuracy():
    labels = [0, 0, 1, 1]
    scores = [1.0, 2.0, 3.0, 4.0]
    got = anomaly_metrics(labels, scores)
    assert got["auc"] == 1.0
    assert got["pr_accuracy_pct"] == 100.0  # threshold 3.0 separates perfectly
    # as the MLCommons runner: a file is an anomaly when its score is above the threshold, and the
    # thresholds run from the lowest score up to just below the highest
    assert pr_accuracy_percent([0, 1], [2.0, 1.0]) == 0.0  # only the normal file is ever above one
    assert pr_accuracy_percent([1, 0, 1], [1.0, 2.0, 3.0]) == pytest.approx(75.0)  # above 2: p=1, r=.5


def test_window_stats():
    stats = window_stats([5.0, 4.0, 6.0, 5.5, 4.5])
    assert stats["median"] == 5.0 and stats["min"] == 4.0 and stats["max"] == 6.0
    assert stats["spread_pct"] == pytest.approx(40.0)
