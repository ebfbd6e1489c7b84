"""Does steering attention help against a shortcut? Objectives compared with cross-entropy
over paired seeds (same data, same initialization), with λ chosen on validation.

Reads the runs' JSONs: ``test`` is the shifted test (the confounder uninformative),
``test_iid`` the test from the training distribution; ``shortcut.flip_rate`` measures use of
the confounder directly; ``ceiling`` runs trained where it carried no label (the shifted test's rate).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ..objectives import BASELINES
from ..schedule import label as lambda_label
from ..schedule import ordered as ordered_lambdas
from ..train.results import read_result
from .tables import mean_sd

SCORES = {  # column: (JSON section, key)
    "pointing": ("localization", "pointing_game"),
    "cam_in_finding": ("localization", "energy_inside"),
    "cam_in_region": ("localization", "energy_in_region"),
    "cam_on_marker": ("shortcut", "cam_energy_marker"),
    "points_at_marker": ("shortcut", "points_at_marker"),
    "flip_rate": ("shortcut", "flip_rate"),
    "unmarked_auc": ("shortcut", "auc_unmarked"),
}
COLUMNS = {"val_auc": "val AUC", "iid_auc": "i.i.d. AUC", "iid_accuracy": "i.i.d. acc", "shifted_auc": "shifted AUC",
           "shifted_acc": "shifted acc", "unmarked_auc": "marker-free AUC",
           "cam_in_region": "CAM in region", "cam_on_marker": "CAM on marker", "points_at_marker": "max on marker",
           "pointing": "pointing game", "flip_rate": "marker flips"}


def read(run_files: list[Path]) -> pd.DataFrame:
    """One row per run: objective, λ, warm-up, seed, share of the training patients, and the scores compared."""
    rows = []
    for f in run_files:
        r = read_result(f)
        sections = {"localization": r.localization, "shortcut": r.shortcut}
        rows.append({
            "objective": r.run.objective, "lambda": r.run.lam, "warmup": r.run.warmup, "seed": r.run.seed,
            "patients": r.run.patients, "backbone": r.run.backbone, "cams": str(r.cams),
            "val_auc": r.metric("val", "auc"), "shifted_auc": r.metric("test", "auc"),
            "shifted_acc": r.metric("test", "accuracy"),
            **{f"iid_{m}": r.metric("test_iid", m) for m in ("auc", "accuracy")},
            **{col: (sections[section] or {}).get(key, np.nan) for col, (section, key) in SCORES.items()},
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


def difference(d: float, lo: float, hi: float) -> str:
    """``+0.120 [+0.030, +0.210]``; the difference alone where one seed gives no interval."""
    return f"{d:+.3f}" if np.isnan(lo) else f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def chosen(runs: pd.DataFrame) -> pd.DataFrame:
    """Per objective, the λ and warm-up with the best mean validation AUC (never the test's)."""
    att = runs[~runs["objective"].isin(list(BASELINES))]
    best = att.groupby(["objective", "lambda", "warmup"])["val_auc"].mean().groupby("objective").idxmax()
    return pd.concat([runs[runs["objective"].isin(list(BASELINES))],
                      *(att[(att["objective"] == o) & (att["lambda"] == lam) & (att["warmup"] == w)]
                        for o, lam, w in best.values)])


def gap_closed(auc: float, ce: float, ceiling: float) -> str:
    """How much of the shifted-AUC gap between cross-entropy and the ceiling a model closes."""
    return "–" if np.isnan(ceiling) or ceiling <= ce else f"{100 * (auc - ce) / (ceiling - ce):.0f} %"


def table(runs: pd.DataFrame, every_setting: bool = False) -> pd.DataFrame:
    """Objective rows (λ and warm-up chosen on val), or one row per objective × λ × warm-up:
    scores mean ± sd over seeds; shifted AUC paired against CE, and the share of CE's gap to the
    ceiling closed."""
    ce = runs[runs["objective"] == "ce"].set_index("seed")["shifted_auc"]
    ceiling = runs.loc[runs["objective"] == "ceiling", "shifted_auc"].mean()
    out = []
    for (objective, lam, warmup), part in (runs if every_setting else chosen(runs)).groupby(
            ["objective", "lambda", "warmup"], sort=every_setting):
        d, lo, hi, p = paired(part.set_index("seed")["shifted_auc"] - ce)
        out.append({"objective": objective, "λ": lambda_label(lam, warmup), "seeds": len(part),
                    **{label: mean_sd(part[col]) for col, label in COLUMNS.items()},
                    "ΔAUC vs CE [95% CI]": "–" if objective == "ce" else difference(d, lo, hi),
                    "gap closed": "–" if objective in ("ce", "ceiling") else gap_closed(part["shifted_auc"].mean(),
                                                                                        ce.mean(), ceiling),
                    "p": "–" if objective == "ce" or np.isnan(p) else f"{p:.3g}"})
    return pd.DataFrame(out).set_index("objective")


CRITERIA = {  # what "removes the shortcut" means: the four questions each objective is asked
    "beats CE (p < 0.05)": "paired over seeds, on the shifted test's AUC",
    "closes ≥ 2/3 of the gap": "between cross-entropy and the ceiling, on shifted AUC",
    "halves the flips": "marker flips at most half of cross-entropy's",
    "keeps the finding": "marker-free AUC within 0.02 of the ceiling's",
}


def verdict(runs: pd.DataFrame) -> pd.DataFrame:
    """For each objective with a term (λ chosen on val), whether it meets each of ``CRITERIA``
    against cross-entropy and the ceiling (run with the same seeds), with the figure behind it."""
    pick = chosen(runs)
    by = {o: part.set_index("seed") for o, part in pick.groupby("objective")}
    if "ce" not in by or "ceiling" not in by:
        return pd.DataFrame()
    ce, ceiling = by["ce"], by["ceiling"]
    rows = []
    for objective, part in by.items():
        if objective in BASELINES:
            continue
        d, _, _, p = paired(part["shifted_auc"] - ce["shifted_auc"])
        gap = (part["shifted_auc"].mean() - ce["shifted_auc"].mean()) / (ceiling["shifted_auc"].mean() - ce["shifted_auc"].mean())
        flips = part["flip_rate"].mean() / ce["flip_rate"].mean()
        kept = part["unmarked_auc"].mean() - ceiling["unmarked_auc"].mean()
        rows.append({"objective": objective, "λ": lambda_label(part["lambda"].iloc[0], int(part["warmup"].iloc[0])),
                     "beats CE (p < 0.05)": f"{'yes' if d > 0 and p < 0.05 else 'no'} ({d:+.3f}, p = {p:.3g})",
                     "closes ≥ 2/3 of the gap": f"{'yes' if gap >= 2 / 3 else 'no'} ({100 * gap:.0f} %)",
                     "halves the flips": f"{'yes' if flips <= 0.5 else 'no'} (× {flips:.2f})",
                     "keeps the finding": f"{'yes' if kept >= -0.02 else 'no'} ({kept:+.3f})"})
    return pd.DataFrame(rows).set_index("objective")


def overlay_rows(runs: pd.DataFrame) -> list[tuple[str, Path]]:
    """The CAM files of the first seed of each objective as the table shows it (λ chosen on val)."""
    pick = chosen(runs)
    pick = pick[pick["seed"] == pick["seed"].min()]
    return [(f"{r.objective} ({lambda_label(r['lambda'], r.warmup)})", Path(r.cams)) for _, r in pick.iterrows()]


def figure(runs: pd.DataFrame, out: Path) -> None:
    """Shifted AUC against the λ schedule per objective (mean, 95% t-interval over seeds); CE
    and the ceiling as lines."""
    import matplotlib.pyplot as plt

    from .figures import save

    att = runs[~runs["objective"].isin(list(BASELINES))]
    order = {lam: i for i, lam in enumerate(ordered_lambdas(att["lambda"]))}
    keys = sorted(set(zip(att["lambda"], att["warmup"])), key=lambda k: (order[k[0]], k[1]))
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    x = np.arange(len(keys))
    for objective, part in att.groupby("objective"):
        g = part.groupby(["lambda", "warmup"])["shifted_auc"]
        mean, sem, n = (v.reindex(keys) for v in (g.mean(), g.sem(), g.count()))
        half = stats.t.ppf(0.975, np.maximum(n.fillna(1) - 1, 1)) * sem.fillna(0)
        ax.errorbar(x, mean, yerr=half, marker="o", capsize=3, label=objective)
    for name, style in (("ce", "k--"), ("ceiling", "g:"), ("masked", "m-.")):
        ref = runs.loc[runs["objective"] == name, "shifted_auc"]
        if len(ref):
            ax.axhline(ref.mean(), color=style[0], ls=style[1:], label=f"{name} (mean)")
    ax.set_xticks(x, [lambda_label(*k).replace(", ", "\n") for k in keys], fontsize=7)
    ax.set_ylabel("shifted-test AUC")
    ax.legend(fontsize=7, ncol=2)
    save(fig, out)
