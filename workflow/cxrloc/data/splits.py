"""Patient-disjoint, seeded train/val/test splits from NIH-style metadata (docs/method.md §2),
or a table's own split column, checked to be patient-disjoint.

Positives of each class are split 60/20/20 by image count with whole patients; No
Finding controls come only from patients who never carry one of the task's findings and
are downsampled to the positives of each split (NIH's control class is No Finding; a task
declared in the config names its own: its label 0). An optional test list (NIH publishes
``test_list.txt``; the synthetic set writes its shifted cohort there) fixes the test
pool; the rest is then split 60/20/20 into train, val and ``test_iid``, a test set from
the training distribution (for the synthetic set: the confounder present, as in training).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_path, atomic_write_json
from ..errors import CxrlocError
from ..tasks import Task
from .metadata import GROUPS

SPLITS = ("train", "val", "test", "test_iid")
FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}
WITH_TEST_POOL = {"train": 0.6, "val": 0.2, "test_iid": 0.2}


class SplitError(CxrlocError, ValueError):
    pass


@dataclass(frozen=True)
class SplitConfig:
    task: Task
    seed: int = 0
    balance_to_smallest: bool = True


def assign_patients(counts: pd.DataFrame, fractions: dict[str, float], rng: np.random.Generator,
                     held_out: set[str] = frozenset()) -> dict[str, str]:
    """Greedy patient → split assignment that tracks per-class image targets.

    ``counts`` has one row per patient and one column per class (image counts). Held-out
    patients go to test first and count towards its targets; the others are visited in a
    seeded random order, largest first within ties of size, and each goes to the split
    whose targets it fills best.
    """
    totals = counts.sum(axis=0).to_numpy(dtype=float)
    names = list(fractions)
    target = np.array([[fractions[s] * t for t in totals] for s in names])
    filled = np.zeros_like(target)
    fixed = counts.index.isin(list(held_out))
    out = {pid: "test" for pid in counts.index[fixed]}
    if fixed.any():
        filled[names.index("test")] += counts[fixed].to_numpy(dtype=float).sum(axis=0)
    patients = counts[~fixed].iloc[rng.permutation(int((~fixed).sum()))]
    patients = patients.iloc[np.argsort(-patients.sum(axis=1).to_numpy(), kind="stable")]
    for pid, row in zip(patients.index, patients.to_numpy(dtype=float)):
        deficit = ((target - filled) / np.maximum(target, 1)) @ (row / np.maximum(totals, 1))
        s = int(np.argmax(deficit))
        filled[s] += row
        out[pid] = names[s]
    return out


def _single_label(meta: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    single = meta[meta["labels"].str.len() == 1].copy()
    single["finding"] = single["labels"].str[0]
    return single[single["finding"].isin(names)]


def _balance(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Downsample every positive class of each split to the smallest one's count."""
    parts = []
    for _, group in df.groupby("split"):
        n = group["finding"].value_counts().min()
        for _, cls in group.groupby("finding"):
            parts.append(cls.iloc[np.sort(rng.choice(len(cls), n, replace=False))])
    return pd.concat(parts)


def _controls(meta: pd.DataFrame, task: Task, n_per_split: dict[str, int], fractions, test_patients, held_out,
              rng) -> pd.DataFrame:
    """Images of the control class alone, of patients who never carry a positive class of the task."""
    carriers = set(meta.loc[meta["labels"].apply(lambda ls: bool(set(ls) & set(task.positives))), "patient"])
    pool = meta[(meta["labels"].apply(lambda ls: ls == [task.control])) & ~meta["patient"].isin(carriers)].copy()
    pool["finding"] = task.control
    pool["split"] = _split_of(pool, fractions, test_patients, rng, held_out)
    parts = []
    for split, n in n_per_split.items():
        candidates = pool[pool["split"] == split]
        take = min(n, len(candidates))
        parts.append(candidates.iloc[np.sort(rng.choice(len(candidates), take, replace=False))])
    return pd.concat(parts)


def _split_of(df: pd.DataFrame, fractions: dict[str, float], test_patients: set[str], rng,
              held_out: set[str] = frozenset()) -> pd.Series:
    """Split of every row, by whole patients; rows of test-pool and held-out patients go to test."""
    free = df[~df["patient"].isin(test_patients)]
    counts = pd.crosstab(free["patient"], free["finding"])
    assigned = assign_patients(counts, fractions, rng, held_out)
    return df["patient"].map(lambda p: "test" if p in test_patients else assigned[p])


def given_splits(meta: pd.DataFrame, task: Task, where: str | Path) -> pd.DataFrame:
    """The table's own splits (its ``split`` column): every single-label image of the task's
    classes, as the table assigns it; a patient in two splits or an unknown split is an error."""
    names = task.classes
    unknown = sorted(set(meta["split"].dropna()) - set(SPLITS))
    if unknown or meta["split"].isna().any():
        raise SplitError(f"{where}: split column holds {unknown or 'empty cells'}; valid: {', '.join(SPLITS)}")
    out = _single_label(meta, names)
    shared = out.groupby("patient")["split"].nunique()
    if (shared > 1).any():
        some = ", ".join(shared[shared > 1].index[:10])
        raise SplitError(f"{where}: {int((shared > 1).sum())} patient(s) in more than one split ({some}); "
                         "splits must be patient-disjoint: fix the split column, or drop it and let cxrloc split")
    return _ordered(out, names)


def external_split(meta: pd.DataFrame, task: Task, where: str | Path) -> pd.DataFrame:
    """An external test set: every single-label image of the task's classes, all in ``test``; a class
    without an image is an error naming the set."""
    out = _single_label(meta, task.classes).assign(split="test")
    absent = [c for c in task.classes if c not in set(out["finding"])]
    if absent:
        raise SplitError(f"{where}: no single-label image of {', '.join(absent)}; an external test set of task "
                         f"{task.name} needs images of every class")
    return _ordered(out, task.classes)


def _ordered(out: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    out = out.assign(label=out["finding"].map({n: i for i, n in enumerate(names)}),
                     split=pd.Categorical(out["split"], SPLITS, ordered=True))
    out = out.sort_values(["split", "label", "image"]).reset_index(drop=True)
    groups = [g for g in GROUPS if g in out.columns]  # subgroups, where the table has them
    return out[["image", "patient", "finding", "label", "split", *groups]].astype({"split": str})


def prepare_splits(meta: pd.DataFrame, cfg: SplitConfig, test_list: set[str] = frozenset(),
                   held_out: set[str] = frozenset()) -> pd.DataFrame:
    """One row per image used: ``image, patient, finding, label, split``.

    ``held_out`` patients (those of the localization set) never enter train or val.
    """
    names = cfg.task.classes
    rng = np.random.default_rng(cfg.seed)
    fractions = WITH_TEST_POOL if test_list else FRACTIONS
    test_patients = set(meta.loc[meta["image"].isin(test_list), "patient"])
    if test_list:
        test_patients, held_out = test_patients | set(held_out), frozenset()
    pos = _single_label(meta, names[1:])
    if pos.empty:
        raise SplitError(f"task {cfg.task.name}: no single-label images of {names[1:]} in the metadata")
    pos["split"] = _split_of(pos, fractions, test_patients, rng, held_out)
    if len(names) > 2 and cfg.balance_to_smallest:
        pos = _balance(pos, rng)
    per_split = pos.groupby("split").size() // (len(names) - 1)
    neg = _controls(meta, cfg.task, per_split.to_dict(), fractions, test_patients, held_out, rng)
    return _ordered(pd.concat([pos, neg]), names)


def report(splits: pd.DataFrame) -> dict:
    """Counts per class and split, patients per split, and patients shared between splits."""
    present = [s for s in SPLITS if (splits["split"] == s).any()]
    by_split = {s: set(splits.loc[splits["split"] == s, "patient"]) for s in present}
    overlap = {f"{a}-{b}": len(by_split[a] & by_split[b]) for i, a in enumerate(present) for b in present[i + 1 :]}
    counts = splits.groupby(["split", "finding"]).size().unstack(fill_value=0)
    return {
        "images": {s: {k: int(v) for k, v in counts.loc[s].items()} for s in counts.index},
        "patients": {s: len(p) for s, p in by_split.items()},
        "shared_patients": overlap,
    }


def check_splits(splits: pd.DataFrame, task: Task, where: str | Path,
                 required: tuple[str, ...] = ("train", "val", "test")) -> None:
    """Every image once; the ``required`` splits present, each with every class of the task (a
    one-class val or test split would give AUC NaN after training, not an error before it)."""
    duplicated = splits.loc[splits["image"].duplicated(), "image"].unique().tolist()
    if duplicated:
        raise SplitError(f"{where}: image(s) in more than one row: {', '.join(duplicated[:10])}")
    names = task.classes
    for split in required:
        have = set(splits.loc[splits["split"] == split, "label"])
        absent = [f"{name} (label {i})" for i, name in enumerate(names) if i not in have]
        if absent:
            raise SplitError(f"{where}: split {split!r} has no image of class {', '.join(absent)}; task {task.name} "
                             f"needs every class in {', '.join(required)}: add images or choose another task")


def write_splits(splits: pd.DataFrame, out: str | Path, task: Task) -> None:
    """The split CSV and, beside it, ``<name>.report.json``, once the splits pass ``check_splits``."""
    out = Path(out)
    check_splits(splits, task, out)
    with atomic_path(out) as tmp:
        splits.to_csv(tmp, index=False)
    atomic_write_json(out.with_suffix(".report.json"), report(splits))
