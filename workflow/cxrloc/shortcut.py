"""Does steering attention help against a shortcut? Objectives compared with cross-entropy
over paired seeds (same data, same initialization), with λ chosen on validation.

Reads the runs' JSONs: ``test`` is the shifted test (the confounder uninformative),
``test_iid`` the test from the training distribution; ``shortcut.flip_rate`` measures use of
the confounder directly; ``ceiling`` runs never saw it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .tables import LAMBDA_LABEL


def read(run_files: list[Path]) -> pd.DataFrame:
    """One row per run: objective, λ, seed, and the scores compared."""
    rows = []
    for f in run_files:
        r = json.loads(Path(f).read_text())
        loc = r.get("localization") or {}
        rows.append({
            "objective": r["run"]["mode"], "lambda": r["run"]["lambda"], "seed": r["run"]["seed"],
            "backbone": r["run"]["backbone"],
            "val_auc": r["val"]["metrics"]["auc"], "shifted_auc": r["test"]["metrics"]["auc"],
            "shifted_acc": r["test"]["metrics"]["accuracy"],
            "iid_auc": r.get("test_iid", {}).get("metrics", {}).get("auc", np.nan),
            "pointing": loc.get("pointing_game", np.nan),
            "flip_rate": (r.get("shortcut") or {}).get("flip_rate", np.nan),
        })
    return pd.DataFrame(rows)


def paired(diff: pd.Series) -> tuple[float, float, float, float]:
    """Mean paired difference, its 95% t-interval and the paired t-test p-value."""
    d = diff.dropna().to_numpy()
    if len(d) < 2:
        return float(d.mean()) if len(d) else np.nan, np.nan, np.nan, np.nan
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    p = stats.ttest_1samp(d, 0.0).pvalue
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half), float(p)


def chosen(runs: pd.DataFrame) -> pd.DataFrame:
    """Per objective, the λ with the best mean validation AUC (never the test's)."""
    att = runs[~runs["objective"].isin(["ce", "ceiling"])]
    best = att.groupby(["objective", "lambda"])["val_auc"].mean().groupby("objective").idxmax()
    return pd.concat([runs[runs["objective"].isin(["ce", "ceiling"])],
                      *(att[(att["objective"] == o) & (att["lambda"] == lam)] for o, lam in best.values)])


def table(runs: pd.DataFrame) -> pd.DataFrame:
    """Objective rows (λ chosen on val): scores mean ± sd over seeds; shifted AUC paired against CE."""
    ce = runs[runs["objective"] == "ce"].set_index("seed")["shifted_auc"]
    out = []
    for (objective, lam), part in chosen(runs).groupby(["objective", "lambda"], sort=False):
        d, lo, hi, p = paired(part.set_index("seed")["shifted_auc"] - ce)
        fmt = lambda c: f"{part[c].mean():.3f} ± {part[c].std(ddof=1):.3f}" if len(part) > 1 else f"{part[c].mean():.3f}"  # noqa: E731
        out.append({"objective": objective, "λ": LAMBDA_LABEL.get(lam, lam), "seeds": len(part),
                    "i.i.d. AUC": fmt("iid_auc"), "shifted AUC": fmt("shifted_auc"),
                    "shifted acc": fmt("shifted_acc"), "pointing game": fmt("pointing"),
                    "marker flips": fmt("flip_rate"),
                    "ΔAUC vs CE [95% CI]": "–" if objective == "ce" else f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]",
                    "p": "–" if objective == "ce" or np.isnan(p) else f"{p:.3g}"})
    return pd.DataFrame(out).set_index("objective")


def figure(runs: pd.DataFrame, out: Path) -> None:
    """Shifted AUC against λ per objective (mean, 95% t-interval over seeds); CE and ceiling as lines."""
    import matplotlib.pyplot as plt

    from .figures import _save

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    lams = [lam for lam in LAMBDA_LABEL if lam in set(runs["lambda"]) and lam != "1"]
    x = np.arange(len(lams))
    for objective, part in runs[~runs["objective"].isin(["ce", "ceiling"])].groupby("objective"):
        g = part.groupby("lambda")["shifted_auc"]
        mean, sem, n = g.mean().reindex(lams), g.sem().reindex(lams), g.count().reindex(lams)
        half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * sem.fillna(0)
        ax.errorbar(x, mean, yerr=half, marker="o", capsize=3, label=objective)
    for name, style in (("ce", "k--"), ("ceiling", "g:")):
        ref = runs.loc[runs["objective"] == name, "shifted_auc"]
        if len(ref):
            ax.axhline(ref.mean(), color=style[0], ls=style[1:], label=f"{name} (mean)")
    ax.set_xticks(x, [LAMBDA_LABEL[lam] for lam in lams])
    ax.set_ylabel("shifted-test AUC")
    ax.legend(fontsize=7, ncol=2)
    _save(fig, out)
