"""Does segmentation-driven attention help when films are few? The learning curve: each objective
against cross-entropy at each share of the training patients, over paired seeds (a seed's subset
is every objective's at that share), λ chosen on validation at each share. Reads the runs' JSONs
(``shortcut.read``): the test AUC, and the pointing game and Grad-CAM mass inside the true finding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ..schedule import label as lambda_label
from .shortcut import chosen, difference, paired
from .tables import number

SCORES = {"shifted_auc": "test AUC", "pointing": "pointing game", "cam_in_finding": "CAM in finding"}
PAIRED = {"shifted_auc": "AUC", "pointing": "pointing"}  # compared with cross-entropy; pointing stands for localization


def images_at(splits: pd.DataFrame, shares: list[float], seeds: list[int]) -> dict[float, float]:
    """The mean number of distinct training images a run trains on at each share (over the seeds; a
    generated set's variants of one film are images of their own)."""
    from ..train.subset import subset_rows

    part = splits[splits["split"] == "train"]
    return {share: float(np.mean([len(set(subset_rows(part, share, seed))) for seed in seeds])) for share in shares}


def comparisons(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per share × objective (λ chosen on val at that share): the scores' mean and sd over seeds,
    and for each of ``PAIRED`` the paired difference to cross-entropy, its 95 % t-interval and p."""
    rows = []
    for share, at in runs.groupby("patients"):
        pick = chosen(at)
        ce = pick[pick["objective"] == "ce"].set_index("seed")
        for objective, part in pick.groupby("objective", sort=False):
            part = part.set_index("seed")
            row = {"patients": share, "objective": objective, "seeds": len(part),
                   "λ": lambda_label(part["lambda"].iloc[0], int(part["warmup"].iloc[0]))}
            for col in SCORES:
                row |= {f"{col}_mean": part[col].mean(), f"{col}_sd": part[col].std(ddof=1)}
            for col in PAIRED:
                d, lo, hi, p = paired(part[col] - ce[col]) if objective != "ce" else (np.nan,) * 4
                row |= {f"{col}_diff": d, f"{col}_lo": lo, f"{col}_hi": hi, f"{col}_p": p}
            rows.append(row)
    return pd.DataFrame(rows)


def table(compared: pd.DataFrame, images: dict[float, float]) -> pd.DataFrame:
    """The learning curve as a table: per share and objective, the scores mean ± sd over seeds and the
    paired differences to cross-entropy."""
    out = []
    for _, r in compared.iterrows():
        ce = r["objective"] == "ce"
        row = {"patients": f"{100 * r['patients']:.0f} %", "training images": f"{images[r['patients']]:.0f}",
               "objective": r["objective"], "λ": r["λ"], "seeds": r["seeds"]}
        row |= {label: f"{number(r[f'{col}_mean'])} ± {number(r[f'{col}_sd'])}" for col, label in SCORES.items()}
        for col, label in PAIRED.items():
            row[f"Δ{label} vs CE [95% CI]"] = "–" if ce else difference(r[f"{col}_diff"], r[f"{col}_lo"], r[f"{col}_hi"])
            row[f"p ({label})"] = "–" if ce or np.isnan(r[f"{col}_p"]) else f"{r[f'{col}_p']:.3g}"
        out.append(row)
    return pd.DataFrame(out).set_index("patients")


def beats(compared: pd.DataFrame, col: str) -> pd.Series:
    """Per row: whether the objective beats cross-entropy on ``col`` (a positive paired difference, p < 0.05)."""
    return (compared[f"{col}_diff"] > 0) & (compared[f"{col}_p"] < 0.05)


def verdict(compared: pd.DataFrame, images: dict[float, float]) -> pd.DataFrame:
    """Per objective: at which training-set sizes, if any, it beats cross-entropy on AUC and on
    localization (the pointing game), each with p < 0.05 over paired seeds."""
    rows = []
    for objective, part in compared[compared["objective"] != "ce"].groupby("objective", sort=False):
        row = {"objective": objective}
        for col, label in PAIRED.items():
            won = part.loc[beats(part, col), "patients"]
            row[f"beats CE on {label} at"] = ", ".join(f"{100 * s:.0f} % ({images[s]:.0f} images)" for s in won) or "no size"
        rows.append(row)
    return pd.DataFrame(rows).set_index("objective")


def figure(compared: pd.DataFrame, images: dict[float, float], out: Path) -> None:
    """Test AUC and pointing game against the number of training images, one line per objective
    (mean over seeds, 95 % t-interval)."""
    import matplotlib.pyplot as plt

    from .figures import save

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, (col, label) in zip(axes, (("shifted_auc", "test AUC"), ("pointing", "pointing game"))):
        for objective, part in compared.groupby("objective", sort=False):
            x = [images[s] for s in part["patients"]]
            half = stats.t.ppf(0.975, np.maximum(part["seeds"] - 1, 1)) * part[f"{col}_sd"] / np.sqrt(part["seeds"])
            ax.errorbar(x, part[f"{col}_mean"], yerr=half.fillna(0), marker="o", capsize=3, label=objective,
                        ls="--" if objective == "ce" else "-")
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(sorted(images.values()), [f"{v:.0f}" for v in sorted(images.values())])
        ax.set_xlabel("training images")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=7)
    save(fig, out)


def write(run_files: list[Path], splits: Path, prefix: Path) -> pd.DataFrame:
    """``<prefix>.md`` (the table and the verdict), ``<prefix>.png`` (the figure) and ``<prefix>.json``
    (the compared rows) from the runs' metrics files and the task's split table; returns the rows."""
    from ..atomic import atomic_write_text
    from ..train.splitdata import read_splits
    from .shortcut import read
    from .tables import to_markdown

    runs = read(run_files)
    compared = comparisons(runs)
    images = images_at(read_splits(splits), sorted(runs["patients"].unique()), sorted(runs["seed"].unique()))
    text = "\n".join([to_markdown(table(compared, images), "Learning curve: each objective against cross-entropy"),
                      to_markdown(verdict(compared, images), "Verdict: where an objective beats cross-entropy (p < 0.05)")])
    atomic_write_text(prefix.with_suffix(".md"), text)
    atomic_write_text(prefix.with_suffix(".json"), compared.assign(images=compared["patients"].map(images)).to_json(
        orient="records", indent=1) + "\n")
    figure(compared, images, prefix.with_suffix(".png"))
    return compared
