"""Metrics of docs/method.md §8 and their bootstrap intervals."""

import numpy as np
import pytest
from cxrloc.report.tables import reference_data
from cxrloc.train.metrics import bootstrap_ci, discriminant_power, point_metrics


def test_bootstrap_intervals_contain_the_estimate_and_narrow_with_more_images():
    rng = np.random.default_rng(0)
    widths = []
    for n in (60, 600):
        y = rng.integers(0, 2, n)
        p1 = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1)
        proba = np.stack([1 - p1, p1], axis=1)
        ci, m = bootstrap_ci(y, proba, 200), point_metrics(y, proba)
        for key, (lo, hi) in ci.items():
            assert lo <= m[key] <= hi, key
        widths.append(ci["auc"][1] - ci["auc"][0])
    assert widths[1] < 0.6 * widths[0]


def test_discriminant_power_fits_the_papers_binary_tables():
    """Every binary cell of Tables I–II but the two that REFERENCE.md lists as misprinted."""
    ref = reference_data("paper_ce_vs_proposed.csv").astype({"cross_entropy": str, "proposed": str})
    wide = ref.pivot_table(index=["table", "task", "backbone"], columns="metric", values=["cross_entropy", "proposed"],
                           aggfunc="first")
    misprinted = {("II", "ne", "vgg16", "proposed"), ("II", "ne", "resnet50", "cross_entropy")}
    checked = 0
    for (table, task, backbone), row in wide.iterrows():
        if task == "nep":
            continue
        for side in ("cross_entropy", "proposed"):
            if (table, task, backbone, side) in misprinted:
                continue
            sens, spec, dp = (float(row[(side, m)]) for m in ("sensitivity", "specificity", "dp"))
            assert discriminant_power(sens, spec) == pytest.approx(dp, abs=0.006), (table, task, backbone, side)
            checked += 1
    assert checked == 28


def test_binary_metrics_on_a_known_confusion_matrix():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    p1 = np.array([0.9, 0.8, 0.2, 0.1, 0.6, 0.3, 0.2, 0.7])
    m = point_metrics(y, np.stack([1 - p1, p1], axis=1))
    assert m["sensitivity"] == 0.75 and m["specificity"] == 0.75 and m["ppv"] == 0.75
    assert m["fdr"] == 0.25 and m["for"] == 0.25 and m["youden"] == 0.5 and m["accuracy"] == 0.75
