"""Test AUC by subgroup (sex, age band, view) where the source gives them, since classifiers can
under-diagnose some groups (Seyyed-Kalantari et al. 2021): per run, each group's AUC with a
bootstrap interval and the largest gap between the groups of an attribute; per backbone,
objective and λ, the mean over seeds. Read from the runs' test probabilities and the split
table's subgroup columns, in the test's order; a group needs both classes to have an AUC."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.metadata import GROUPS
from ..schedule import label as lambda_label
from ..train.metrics import auc

AGE_BANDS = (0, 40, 60, 80)  # lower ends: <40, 40–59, 60–79, ≥80


def age_band(age) -> str | None:
    try:
        years = float(age)
    except (TypeError, ValueError):
        return None
    if np.isnan(years):
        return None
    k = int(np.searchsorted(AGE_BANDS, years, side="right")) - 1
    return f"≥{AGE_BANDS[-1]}" if k == len(AGE_BANDS) - 1 else (
        f"<{AGE_BANDS[1]}" if k <= 0 else f"{AGE_BANDS[k]}–{AGE_BANDS[k + 1] - 1}")


def test_groups(splits: pd.DataFrame) -> pd.DataFrame:
    """The test images' subgroups, in the split table's order; attributes with fewer than two
    groups are left out."""
    test = splits[splits["split"] == "test"].reset_index(drop=True)
    out = pd.DataFrame(index=test.index)
    for column in GROUPS:
        if column not in test:
            continue
        values = test[column].map(age_band) if column == "age" else test[column].astype("string").str.upper()
        if values.dropna().nunique() >= 2:
            out[column] = values
    return out


def _auc_ci(y: np.ndarray, p: np.ndarray, n_bootstrap: int, seed: int) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    draws = [auc(y[idx], p[idx]) for idx in rng.integers(0, len(y), (n_bootstrap, len(y)))]
    lo, hi = np.nanpercentile(draws, [2.5, 97.5]) if np.isfinite(draws).any() else (np.nan, np.nan)
    return auc(y, p), float(lo), float(hi)


def run_rows(path: Path, groups: pd.DataFrame, n_bootstrap: int) -> list[dict]:
    """One row per subgroup of a run's test: its AUC, 95 % bootstrap interval and size."""
    result = json.loads(Path(path).read_text())
    y = np.asarray(result["test"]["labels"])
    positive = np.asarray(result["test"]["proba"])
    if len(y) != len(groups):
        raise ValueError(f"{path}: {len(y)} test images, the split table {len(groups)}: rerun its evaluation")
    proba = np.column_stack([1 - positive.sum(1), positive])
    run = result["run"]
    rows = []
    for attribute in groups.columns:
        for group, members in groups.groupby(attribute).groups.items():
            idx = np.asarray(members)
            value, lo, hi = _auc_ci(y[idx], proba[idx], n_bootstrap, run["seed"])
            rows.append({"backbone": run["backbone"], "objective": run["objective"], "lambda": run["lambda"],
                         "seed": run["seed"], "attribute": attribute, "group": group, "n": len(idx), "auc": value,
                         "low": lo, "high": hi})
    return rows


def _gaps(rows: pd.DataFrame) -> pd.Series:
    """Per run, the largest AUC gap between the groups of one attribute, and which attribute."""
    keys = ["backbone", "objective", "lambda", "seed"]
    spread = rows.groupby([*keys, "attribute"])["auc"].agg(lambda a: a.max() - a.min())
    widest = spread.groupby(level=keys).idxmax().map(lambda k: k[-1])
    return spread.groupby(level=keys).max().map("{:.3f}".format) + " (" + widest + ")"


def _ordered(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows in the attributes' order, groups sorted (age bands youngest first)."""
    bands = [age_band(a) for a in AGE_BANDS]
    key = [(GROUPS.index(a), bands.index(g) if a == "age" else 0, g) for a, g in zip(rows["attribute"], rows["group"])]
    return rows.iloc[sorted(range(len(rows)), key=key.__getitem__)]


def per_run(rows: pd.DataFrame) -> pd.DataFrame:
    """A row per run, a column per subgroup (AUC [95 % interval], n), and the largest gap."""
    rows = _ordered(rows)
    rows = rows.assign(cell=[f"{a:.3f} [{lo:.3f}, {hi:.3f}]" if np.isfinite(a) else "–"
                             for a, lo, hi in rows[["auc", "low", "high"]].itertuples(index=False)],
                       column=rows["attribute"] + ": " + rows["group"] + " (n " + rows["n"].astype(str) + ")")
    keys = ["backbone", "objective", "lambda", "seed"]
    table = rows.pivot_table(index=keys, columns="column", values="cell", aggfunc="first", sort=False)
    table = table[list(dict.fromkeys(rows["column"]))]
    table["largest gap"] = _gaps(rows)
    return _labelled(table)


def aggregated(rows: pd.DataFrame) -> pd.DataFrame:
    """Per backbone, objective and λ: each subgroup's AUC as mean ± sd over seeds, and the mean of
    the runs' largest gaps."""
    keys = ["backbone", "objective", "lambda"]
    rows = _ordered(rows)
    rows = rows.assign(column=rows["attribute"] + ": " + rows["group"])
    stats = rows.groupby([*keys, "column"], sort=False)["auc"].agg(["mean", "std"])
    cells = [("–" if not np.isfinite(m) else f"{m:.3f} ± {s:.3f}" if np.isfinite(s) else f"{m:.3f}")
             for m, s in stats.itertuples(index=False)]
    table = pd.Series(cells, index=stats.index).unstack("column")[list(dict.fromkeys(rows["column"]))]
    gap = rows.groupby([*keys, "seed", "attribute"])["auc"].agg(lambda a: a.max() - a.min())
    table["largest gap (mean)"] = gap.groupby(level=[*keys, "seed"]).max().groupby(level=keys).mean().map("{:.3f}".format)
    return _labelled(table)


def _labelled(table: pd.DataFrame) -> pd.DataFrame:
    """The runs' keys as the index, λ as the tables write it."""
    table = table.reset_index()
    table["lambda"] = table["lambda"].map(lambda_label)
    return table.rename(columns={"lambda": "λ"}).set_index([k for k in ("backbone", "objective", "λ", "seed")
                                                             if k in table.columns or k == "λ"])
