"""The learning curve: a run trains on a share of the training patients (whole patients, nested
across shares, cycled to the split's length), says so in its results, and the report compares each
objective with cross-entropy at each share."""

import json

import numpy as np
import pandas as pd
import pytest
from cxrloc import cli
from cxrloc.config import ConfigError
from cxrloc.report.curve import comparisons, verdict
from cxrloc.train.subset import check_classes, subset_rows

from .workflow import OUT, run_args


@pytest.fixture(scope="module")
def part(nih_metadata):
    """The real NIH table's first 400 films as one training split."""
    return nih_metadata.head(400).rename(columns={"Patient ID": "patient"}).reset_index(drop=True)


def patients_of(part, rows):
    return set(part["patient"].iloc[rows])


def test_a_share_takes_whole_patients_nested_within_every_larger_share(part):
    everyone = part["patient"].nunique()
    for seed in (0, 1):
        chosen = {share: patients_of(part, subset_rows(part, share, seed)) for share in (0.1, 0.25, 0.5)}
        assert [len(chosen[s]) for s in (0.1, 0.25, 0.5)] == [round(s * everyone) for s in (0.1, 0.25, 0.5)]
        assert chosen[0.1] < chosen[0.25] < chosen[0.5]
        rows = set(subset_rows(part, 0.25, seed))
        assert rows == set(np.flatnonzero(part["patient"].isin(chosen[0.25])))  # every film of a chosen patient
    assert patients_of(part, subset_rows(part, 0.25, 0)) != patients_of(part, subset_rows(part, 0.25, 1))
    assert (subset_rows(part, 0.25, 3) == subset_rows(part, 0.25, 3)).all()
    assert (subset_rows(part, 1.0, 0) == np.arange(len(part))).all()


def test_a_share_trains_as_many_steps_as_the_whole_split(part):
    rows = subset_rows(part, 0.1, 0)
    counts = np.bincount(rows)[np.unique(rows)]
    assert len(rows) == len(part) and counts.max() - counts.min() <= 1 and counts.min() >= 5


def test_a_share_without_a_class_names_the_key():
    with pytest.raises(ConfigError, match=r"train.patients 0.05: seed 2's share .* no Effusion film"):
        check_classes(np.zeros(6, dtype=int), ("No Finding", "Effusion"), 0.05, 2)


def test_a_run_trains_on_its_share_records_it_and_the_curve_compares_it(study, tmp_path):
    from cxrloc.data.imagecache import ImageCache
    from cxrloc.lungs.lungcache import LungCache
    from cxrloc.tasks import BUILTIN
    from cxrloc.train.run import resolve_run
    from cxrloc.train.splitdata import read_splits, run_splits

    splits = study / OUT / "splits/ne.csv"
    spec = resolve_run("tiny", BUILTIN["ne"], "resnet_tiny", "1", 0.5, 0, {"train": {"patients": 0.25}})
    (train,) = run_splits(spec, splits, ImageCache(study / OUT / "cache"), LungCache.read(study / OUT / "masks/lungs.npz"),
                          ["train"])
    table = read_splits(splits)
    whole = table[table["split"] == "train"]
    kept = set(table.set_index("image").loc[train.names, "patient"])
    assert len(train) == len(whole) and len(kept) == round(0.25 * whole["patient"].nunique())

    files = []
    for lam, objective in (("1", "ce"), ("0.5", "soft")):
        args, run = run_args(study, lam=lam, epochs=1, patients=0.25), tmp_path / objective
        cli.main(["train", *args, "--objective", objective, "--out", str(run)])
        cli.main(["evaluate", *args, "--objective", objective, "--model", str(run / "model.pt"), "--bootstrap", "2",
                  "--out", str(run / "metrics.json")])
        assert json.loads((run / "metrics.json").read_text())["run"]["patients"] == 0.25
        files.append(str(run / "metrics.json"))
    files += [str(f) for f in (study / OUT / "runs").glob("*_s0_*/metrics.json")]
    cli.main(["learning-curve", "--runs", *files, "--splits", str(splits), "--out", str(tmp_path / "curve")])
    text = (tmp_path / "curve.md").read_text()
    assert "| 25 %" in text and "| 100 %" in text and "Verdict" in text
    rows = pd.DataFrame(json.loads((tmp_path / "curve.json").read_text()))
    assert set(rows["patients"]) == {0.25, 1.0} and (tmp_path / "curve.png").stat().st_size > 0
    assert rows.loc[rows["patients"] == 0.25, "images"].iloc[0] == len(set(whole.index[whole["patient"].isin(kept)]))


def fabricated(effect: dict[float, float]) -> pd.DataFrame:
    """Five paired seeds at two shares: soft beats cross-entropy by ``effect[share]`` on AUC (with
    noise), and on the pointing game everywhere."""
    rng = np.random.default_rng(0)
    rows = []
    for share in effect:
        for seed in range(5):
            base = 0.7 + rng.normal(0, 0.02)
            rows += [{"patients": share, "seed": seed, "objective": "ce", "lambda": "1", "warmup": 0, "val_auc": 0.8,
                      "shifted_auc": base, "pointing": 0.5, "cam_in_finding": 0.2},
                     {"patients": share, "seed": seed, "objective": "soft", "lambda": "0.5", "warmup": 0, "val_auc": 0.9,
                      "shifted_auc": base + effect[share] + rng.normal(0, 0.005), "pointing": 0.8 + rng.normal(0, 0.01),
                      "cam_in_finding": 0.4},
                     {"patients": share, "seed": seed, "objective": "soft", "lambda": "0.25", "warmup": 0, "val_auc": 0.7,
                      "shifted_auc": 0.99, "pointing": 0.0, "cam_in_finding": 0.0}]
    return pd.DataFrame(rows)


def test_the_verdict_names_the_sizes_where_an_objective_beats_cross_entropy():
    compared = comparisons(fabricated({0.1: 0.05, 1.0: 0.0}))
    soft = compared[compared["objective"] == "soft"].set_index("patients")
    assert (soft["λ"] == "λ = 0.5").all(), "λ chosen on validation, never on test"
    assert soft.loc[0.1, "shifted_auc_diff"] == pytest.approx(0.05, abs=0.01) and soft.loc[0.1, "shifted_auc_p"] < 0.001
    row = verdict(compared, {0.1: 12.0, 1.0: 120.0}).loc["soft"]
    assert row["beats CE on AUC at"] == "10 % (12 images)"
    assert row["beats CE on pointing at"] == "10 % (12 images), 100 % (120 images)"
