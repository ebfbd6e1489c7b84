"""Subgroup tables (``cxrloc.report.subgroups``): NIH's real table carries sex, age and view into the
splits; each group's AUC is the AUC of its own test images, with an interval around it; the
largest gap names its attribute; the aggregate is the mean over seeds."""

import json

import numpy as np
import pandas as pd
import pytest
from cxrloc.report import subgroups
from cxrloc.train.metrics import auc


def test_nih_splits_carry_sex_age_and_view(nih_metadata):
    from cxrloc.data.splits import SplitConfig, prepare_splits
    from cxrloc.tasks import BUILTIN

    splits = prepare_splits(nih_metadata, SplitConfig(BUILTIN["ne"]))
    assert {"sex", "age", "view"} <= set(splits.columns)
    assert set(splits["sex"]) == {"M", "F"} and set(splits["view"]) == {"PA", "AP"}
    groups = subgroups.test_groups(splits)
    assert list(groups.columns) == ["sex", "age", "view"] and len(groups) == (splits["split"] == "test").sum()
    assert set(groups["age"].dropna()) <= {"<40", "40–59", "60–79", "≥80"} and groups["age"].nunique() == 4


@pytest.mark.parametrize("age, band", [(0, "<40"), (39, "<40"), (40, "40–59"), (59.5, "40–59"), (60, "60–79"),
                                       (80, "≥80"), ("95", "≥80"), ("", None), (None, None)])
def test_age_bands(age, band):
    assert subgroups.age_band(age) == band


def metrics_file(tmp_path, seed, y, p, name="run"):
    path = tmp_path / f"{name}_{seed}.json"
    run = {"backbone": "resnet18", "objective": "soft", "lambda": "0.5", "seed": seed}
    path.write_text(json.dumps({"run": run, "test": {"labels": y.tolist(), "proba": p[:, None].tolist()}}))
    return path


def test_each_groups_auc_is_its_own_images_auc_and_the_gap_names_its_attribute(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    sex = np.where(np.arange(n) % 2, "F", "M")
    y = rng.integers(0, 2, n)
    p = np.clip(y * np.where(sex == "F", 0.35, 0.1) + rng.uniform(0, 0.65, n), 0, 1)  # better on F
    splits = pd.DataFrame({"image": [f"{i}.png" for i in range(n)], "split": "test", "sex": sex,
                           "age": rng.integers(20, 90, n), "view": "PA"})
    groups = subgroups.test_groups(splits)
    assert list(groups.columns) == ["sex", "age"], "one view is no subgroup"
    rows = pd.DataFrame([r for seed in (0, 1) for r in subgroups.run_rows(metrics_file(tmp_path, seed, y, p), groups, 50)])
    female = rows[(rows["group"] == "F") & (rows["seed"] == 0)].iloc[0]
    f = sex == "F"
    assert female["auc"] == pytest.approx(auc(y[f], np.column_stack([1 - p[f], p[f]]))) and female["n"] == f.sum()
    assert female["low"] < female["auc"] < female["high"]
    table = subgroups.per_run(rows)
    assert table["largest gap"].iloc[0].endswith("(sex)") or table["largest gap"].iloc[0].endswith("(age)")
    spread = rows[rows["seed"] == 0].groupby("attribute")["auc"].agg(lambda a: a.max() - a.min())
    assert table["largest gap"].iloc[0] == f"{spread.max():.3f} ({spread.idxmax()})"
    summary = subgroups.aggregated(rows)
    assert len(summary) == 1 and summary.index.get_level_values("λ")[0] == "λ = 0.5"
    assert [c for c in summary.columns if c.startswith("age")] == [f"age: {b}" for b in ("<40", "40–59", "60–79", "≥80")]
    assert summary["sex: F"].iloc[0] == f"{female['auc']:.3f} ± 0.000"


def test_a_test_of_another_length_is_an_error_naming_the_run(tmp_path):
    splits = pd.DataFrame({"image": ["a", "b", "c"], "split": "test", "sex": ["M", "F", "M"]})
    path = metrics_file(tmp_path, 0, np.array([0, 1]), np.array([0.2, 0.7]))
    with pytest.raises(ValueError, match="2 test images, the split table 3"):
        subgroups.run_rows(path, subgroups.test_groups(splits), 10)
