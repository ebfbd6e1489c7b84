"""The appendix's tables: per-λ tables (Tables III–IX) and cross-entropy vs proposed
(Tables I–II), as markdown and LaTeX (booktabs), from run JSONs or the paper's CSVs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ..backbones import REGISTRY
from ..backbones import label as backbone_label
from ..schedule import label as lambda_label
from ..schedule import ordered as ordered_lambdas
from ..tasks import BUILTIN
from ..train.results import read_result

METRIC_LABEL = {"accuracy": "Acc / Rec", "precision": "Prec", "f1": "F1", "auc": "AUC", "ppv": "PPV",
                "sensitivity": "Sensitivity", "specificity": "Specificity", "fdr": "FDR", "for": "FOR",
                "youden": "Youden", "dp": "DP"}
BINARY_ROWS = ("accuracy", "precision", "f1", "auc", "ppv", "sensitivity", "specificity", "fdr", "for")
MULTI_ROWS = ("accuracy", "precision", "f1", "auc")
CE_VS_PROPOSED = ("sensitivity", "specificity", "youden", "dp")
RUN_METRIC = {"precision": "precision_weighted", "f1": "f1_weighted"}


def read_runs(paths: list[Path]) -> pd.DataFrame:
    """Long table of every run's metrics: one row per run × split × metric, with its source file; an
    external set's file (its split: test) names the set and its run's own file (``internal``)."""
    rows = []
    for path in paths:
        result = read_result(path)
        origin = {"external": result.external, "internal": str(internal_of(path)) if result.external else None}
        for split in ("val", "test"):
            for metric, value in (result.splits[split].metrics.items() if split in result.splits else ()):
                rows.append({**result.run.row(), "split": split, "metric": metric, "value": value, "source": str(path),
                             **origin})
    return pd.DataFrame(rows, columns=None if rows else ["source", "external", "internal", "split"])


def internal_of(external: Path) -> Path:
    """A run's own metrics file, beside its ``external/<set>.json``."""
    return Path(external).parent.parent / "metrics.json"


def _auc_halfwidth(result) -> float:
    """Half the width of a run's 95 % bootstrap interval of its test AUC."""
    low, high = result.splits["test"].ci95.get("auc", (np.nan, np.nan))
    return (high - low) / 2


def external_summary(paths: list[Path]) -> pd.DataFrame:
    """Per external set, backbone, objective and λ: the test AUC on the study's own test and on the
    set, and the change: its mean over seeds with a 95 % t-interval (one seed: the interval of the
    difference of two independent bootstrap estimates)."""
    rows = []
    for path in paths:
        ext, own = read_result(path), read_result(internal_of(path))
        rows.append({"set": ext.external, "backbone": ext.run.backbone, "objective": ext.run.variant,
                     "lambda": ext.run.lam, "own": own.metric("test", "auc"), "external": ext.metric("test", "auc"),
                     "halfwidth": float(np.hypot(_auc_halfwidth(own), _auc_halfwidth(ext)))})
    runs = pd.DataFrame(rows)
    out = []
    groups = runs.groupby(["set", "backbone", "objective"])
    for (name, backbone, objective), by_objective in sorted(groups, key=lambda g: (g[0][0], g[0][1], g[0][2] != "ce", g[0][2])):
        for lam in ordered_lambdas(by_objective["lambda"]):
            part = by_objective[by_objective["lambda"] == lam]
            change = part["external"] - part["own"]
            if len(part) > 1:
                half = stats.t.ppf(0.975, len(part) - 1) * change.std(ddof=1) / np.sqrt(len(part))
            else:
                half = part["halfwidth"].iloc[0]
            out.append({"external set": name, "Model": backbone_label(backbone), "objective": objective,
                        "λ": lambda_label(lam), "seeds": len(part), "own test AUC": mean_sd(part["own"]),
                        "external AUC": mean_sd(part["external"]),
                        "change [95% CI]": f"{change.mean():+.3f} [{change.mean() - half:+.3f}, {change.mean() + half:+.3f}]"})
    return pd.DataFrame(out).set_index("external set")


def mean_sd(values: pd.Series) -> str:
    """A table cell: the value, or mean ± sd over seeds; – when missing."""
    if values.isna().all():
        return "–"
    if len(values) == 1:
        return number(values.iloc[0])
    return f"{number(values.mean())} ± {number(values.std(ddof=1))}"


def number(value: float) -> str:
    """Three decimals; an infinite value (a DP at a perfect rate) as ∞, a missing one as –."""
    if np.isnan(value):
        return "–"
    return f"{'−' if value < 0 else ''}∞" if np.isinf(value) else f"{value:.3f}"


def cells(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """``backbone, lambda, metric, value`` with the value a formatted cell (mean ± sd over seeds)."""
    part = runs[runs["split"] == split]
    wanted = {RUN_METRIC.get(m, m): m for m in METRIC_LABEL}
    part = part[part["metric"].isin(wanted)].assign(metric=lambda d: d["metric"].map(wanted))
    return part.groupby(["backbone", "lambda", "metric"], sort=False)["value"].apply(mean_sd).reset_index()


def lambda_table(cell_df: pd.DataFrame, binary: bool, metrics: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Rows (Model, Metric), one column per λ: the layout of appendix Tables III–IX.

    ``metrics`` picks the rows (the original README shows only Acc / Rec, Prec, F1, AUC).
    """
    metrics = metrics or (BINARY_ROWS if binary else MULTI_ROWS)
    lams = ordered_lambdas(cell_df["lambda"])
    wide = cell_df.pivot_table(index=["backbone", "metric"], columns="lambda", values="value", aggfunc="first", sort=False)
    backbones = list(dict.fromkeys(cell_df["backbone"]))
    index = pd.MultiIndex.from_tuples([(backbone_label(b), METRIC_LABEL[m]) for b in backbones for m in metrics],
                                      names=["Model", "Metric"])
    values = [[wide.loc[(b, m), lam] if (b, m) in wide.index else "–" for lam in lams] for b in backbones for m in metrics]
    return pd.DataFrame(values, index=index, columns=[lambda_label(lam) for lam in lams])


def best_lambda(runs: pd.DataFrame, backbone: str) -> str:
    """The proposed λ of a backbone: the best mean weighted F1 on val, never on test."""
    part = runs[(runs["backbone"] == backbone) & (runs["split"] == "val") & (runs["metric"] == "f1_weighted")
                & (runs["lambda"] != "1")]
    return str(part.groupby("lambda")["value"].mean().idxmax())


def ce_vs_proposed(runs: pd.DataFrame) -> pd.DataFrame:
    """Rows per backbone, ``cross-entropy/proposed`` cells: the layout of appendix Tables I–II."""
    test = runs[runs["split"] == "test"].set_index(["backbone", "lambda", "metric"])["value"]
    rows = {}
    for backbone in dict.fromkeys(runs["backbone"]):
        lam = best_lambda(runs, backbone)
        cell = {}
        for metric in CE_VS_PROPOSED:
            ce, proposed = (np.mean(test.get((backbone, la, metric), np.nan)) for la in ("1", lam))
            cell[METRIC_LABEL[metric]] = f"{number(ce)}/{number(proposed)}"
        cell["proposed λ"] = lambda_label(lam)
        rows[backbone_label(backbone)] = cell
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("Model")


def paired_tests(runs: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    """Each λ against λ = 1 on the test metric, paired by seed: mean difference and t-test p."""
    test = runs[(runs["split"] == "test") & (runs["metric"] == metric)]
    out = []
    for backbone in dict.fromkeys(test["backbone"]):
        part = test[test["backbone"] == backbone].pivot_table(index="seed", columns="lambda", values="value")
        for lam in [la for la in ordered_lambdas(part.columns) if la != "1"]:
            diff = (part[lam] - part["1"]).dropna()
            p = stats.ttest_rel(part[lam], part["1"], nan_policy="omit").pvalue if len(diff) > 1 else np.nan
            out.append({"Model": backbone_label(backbone), "λ": lambda_label(lam), "seeds": len(diff),
                        f"Δ{metric.upper()} vs λ = 1": f"{diff.mean():+.3f}", "p": "–" if np.isnan(p) else f"{p:.3f}"})
    return pd.DataFrame(out)


def to_markdown(table: pd.DataFrame, title: str) -> str:
    """The table as written, cell for cell (tabulate would reformat a column of numbers: 0.400 as 0.4)."""
    return f"### {title}\n\n{table.reset_index().to_markdown(index=False, disable_numparse=True)}\n"


def paper_lambda_table(reference: pd.DataFrame, dataset: str, task: str, metrics: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The paper's own per-λ table, from ``paper_lambda_sweep.csv`` (values kept as printed)."""
    part = reference[(reference["dataset"] == dataset) & (reference["task"] == task)]
    return lambda_table(part[["backbone", "lambda", "metric", "value"]], binary=BUILTIN[task].binary, metrics=metrics)


PAPER_KEY = {name: b.paper_key for name, b in REGISTRY.items() if b.paper_key}


def paper_vs_ours(our_cells: pd.DataFrame, reference: pd.DataFrame, dataset: str, task: str) -> pd.DataFrame:
    """The per-λ layout with ``ours / paper`` in every cell the paper printed."""
    paper = reference[(reference["dataset"] == dataset) & (reference["task"] == task)]
    paper = paper.set_index(["backbone", "lambda", "metric"])["value"]
    ours = our_cells[our_cells["backbone"].isin(PAPER_KEY)].copy()
    key = list(zip(ours["backbone"].map(PAPER_KEY), ours["lambda"], ours["metric"]))
    ours["value"] = [f"{v} / {paper.get(k, '–')}" for v, k in zip(ours["value"], key)]
    return lambda_table(ours, binary=BUILTIN[task].binary)


def reference_data(name: str) -> pd.DataFrame:
    """The paper's numbers shipped with the package (see ``reference/REFERENCE.md`` for their source)."""
    return pd.read_csv(Path(__file__).parents[1] / "reference" / name, dtype={"value": str, "lambda": str})
