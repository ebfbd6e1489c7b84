"""Aggregate every run of a dataset into the appendix: tables, figures and ``appendix.tex``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..atomic import atomic_write_text
from ..backbones import label as backbone_label
from ..data.imagecache import ImageCache
from ..lungs.lungcache import LungCache
from ..objectives import BASELINES
from ..schedule import label as lambda_label
from ..tasks import is_binary
from . import figures, latex, shortcut, subgroups, tables


def _write(table: pd.DataFrame, out: Path, stem: str, title: str) -> list[str]:
    """``md/<stem>.md`` and ``tex/<stem>.tex`` (to ``\\input`` into a paper)."""
    atomic_write_text(out / "md" / f"{stem}.md", tables.to_markdown(table, title))
    atomic_write_text(out / "tex" / f"{stem}.tex", latex.to_latex(table, title, f"tab:{stem}"))
    return [stem]


def _title(part: pd.DataFrame) -> str:
    """The runs' task for captions: its name and its classes (``ne (No Finding, Effusion)``)."""
    return f"{part['task'].iloc[0]} ({', '.join(part['classes'].iloc[0])})"


def _shortcut_report(part: pd.DataFrame, dataset: str, thresh, out: Path, cache: Path | None,
                     lungs: Path | None) -> list[str]:
    runs = shortcut.read([Path(f) for f in part["source"].unique()])
    task = _title(part)
    tag = f"{dataset}_{part['task'].iloc[0]}_t{thresh:g}_shortcut"
    shortcut.figure(runs, out / "figures" / f"{tag}_auc_vs_lambda.png")
    if cache and lungs:
        figures.cam_overlays(shortcut.overlay_rows(runs), ImageCache(cache), LungCache.read(lungs),
                             out / "figures" / f"{tag}_cam_overlays.png")
    made = (_write(shortcut.table(runs), out, tag,
                   f"{dataset} {task}: objectives against the shortcut (λ and warm-up chosen on val; paired over seeds)")
            + _write(shortcut.table(runs, every_setting=True), out, f"{tag}_settings",
                     f"{dataset} {task}: every objective × λ × warm-up against cross-entropy (paired over seeds)"))
    verdict = shortcut.verdict(runs)
    if len(verdict):
        made += _write(verdict, out, f"{tag}_verdict", f"{dataset} {task}: does an objective remove the shortcut? "
                       + "; ".join(f"{k}: {v}" for k, v in shortcut.CRITERIA.items()))
    return made


def _task_tables(part: pd.DataFrame, dataset: str, thresh, out: Path, suffix: str = "", on: str | None = None) -> list[str]:
    """The per-λ, cross-entropy vs proposed and paired tables of one task's runs, on their own test
    or, ``on`` an external set, on that set (λ still chosen on the study's own val)."""
    name, task = part["task"].iloc[0], _title(part)
    objective = ", ".join(v for v in dict.fromkeys(part["variant"]) if v != "ce")
    if objective:  # what the columns at λ < 1 trained with: no table leaves a reader to guess it
        task += f", objective {objective}"
    tag = f"{dataset}_{name}_t{thresh:g}{suffix}"
    test = f"the external set {on}" if on else "test"
    made = _write(tables.lambda_table(tables.cells(part), is_binary(part["classes"].iloc[0])), out, f"{tag}_lambda",
                  f"{dataset} {task}: {test} metrics per λ (threshold {thresh:g})")
    if "1" in set(part["lambda"]) and len(set(part["lambda"])) > 1:
        made += _write(tables.ce_vs_proposed(part), out, f"{tag}_ce_vs_proposed",
                       f"{dataset} {task}: cross-entropy / proposed (best val F1 λ), {test} (threshold {thresh:g})")
    if part["seed"].nunique() > 1:
        made += _write(tables.paired_tests(part), out, f"{tag}_paired",
                       f"{dataset} {task}: each λ vs λ = 1 on {test}, paired by seed")
    reference = tables.reference_data("paper_lambda_sweep.csv")
    if on is None and dataset == "nih" and ((reference["dataset"] == "nih") & (reference["task"] == name)).any():
        made += _write(tables.paper_vs_ours(tables.cells(part), reference, "nih", name), out,
                       f"{tag}_paper_vs_ours", f"NIH {task}: ours / the paper's (appendix), test, per λ")
    return made


def _overlay_rows(part: pd.DataFrame) -> list[tuple[str, Path]]:
    """Per backbone (first seed): the CAM files of λ = 1 and of the best-val-F1 λ."""
    rows = []
    for backbone in dict.fromkeys(part["backbone"]):
        if not ({"1"} < set(part.loc[part["backbone"] == backbone, "lambda"])):
            continue
        lam = tables.best_lambda(part, backbone)
        pick = part[(part["backbone"] == backbone) & (part["seed"] == part["seed"].min())]
        for la in ("1", lam):
            source = Path(pick.loc[pick["lambda"] == la, "source"].iloc[0])
            rows.append((f"{backbone_label(backbone)} {lambda_label(la)}", source.with_name("cams.npz")))
    return rows


def _variant_tables(part: pd.DataFrame, variants: list[str], dataset: str, thresh, out: Path, suffix: str = "",
                    on: str | None = None) -> list[str]:
    """``_task_tables`` of each objective (with cross-entropy beside it)."""
    stems = []
    for name in variants or ["ce"]:
        tag = suffix + ("" if len(variants) <= 1 else f"_{name}")
        stems += _task_tables(part[part["variant"].isin([name, "ce"])], dataset, thresh, out, tag, on)
    return stems


def _external_tables(part: pd.DataFrame, ext: pd.DataFrame, variants: list[str], dataset: str, thresh,
                     out: Path) -> list[str]:
    """Per external set, the task's tables on it (λ chosen on the study's own val), and one summary:
    internal against external AUC per backbone, objective and λ."""
    mine = ext[ext["internal"].isin(set(part["source"]))]
    stems = []
    for name, on in mine.groupby("external", sort=True):
        stems += _variant_tables(pd.concat([part[part["split"] == "val"], on]), variants, dataset, thresh, out,
                                 f"_external_{name}", name)
    if len(mine):
        stems += _write(tables.external_summary([Path(f) for f in mine["source"].unique()]), out,
                        f"{dataset}_{part['task'].iloc[0]}_t{thresh:g}_external",
                        f"{dataset} {_title(part)}: test AUC on its own test set and on each external set, and the "
                        "change (mean over seeds, 95 % interval)")
    return stems


def _subgroup_tables(part: pd.DataFrame, splits: Path | None, dataset: str, thresh, out: Path,
                     n_bootstrap: int) -> list[str]:
    """Where the task's split table has subgroups (sex, age, view): the test AUC per subgroup, per
    backbone, objective and λ (mean over seeds) and per run (with bootstrap intervals)."""
    from ..train.splitdata import read_splits

    groups = subgroups.test_groups(read_splits(splits)) if splits else pd.DataFrame()
    if not len(groups.columns):
        return []
    rows = pd.DataFrame([r for f in part["source"].unique() for r in subgroups.run_rows(Path(f), groups, n_bootstrap)])
    tag, task = f"{dataset}_{part['task'].iloc[0]}_t{thresh:g}_subgroups", _title(part)
    return (_write(subgroups.aggregated(rows), out, tag, f"{dataset} {task}: test AUC by subgroup (mean ± sd over "
                   "seeds) and the largest gap between the groups of one attribute")
            + _write(subgroups.per_run(rows), out, f"{tag}_runs", f"{dataset} {task}: test AUC by subgroup per run "
                     f"[95 % bootstrap interval, {n_bootstrap} resamples] and its largest gap"))


def aggregate(run_files: list[Path], histories: list[Path], dataset: str, out: Path,
              cache: Path | None = None, lungs: Path | None = None, externals: list[Path] = (),
              splits: dict[str, Path] | None = None, n_bootstrap: int = 200) -> list[str]:
    runs = tables.read_runs(run_files)
    ext = tables.read_runs(list(externals))
    figs = out / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    stems: list[str] = []
    for (task, thresh), part in runs.groupby(["task", "thresh"], sort=False):
        variants = [m for m in dict.fromkeys(part["variant"]) if m not in BASELINES]
        stems += _variant_tables(part, variants, dataset, thresh, out)
        stems += _external_tables(part, ext, variants, dataset, thresh, out)
        stems += _subgroup_tables(part, (splits or {}).get(task), dataset, thresh, out, n_bootstrap)
        if len(variants) > 1 or set(part["variant"]) & (set(BASELINES) - {"ce"}):
            stems += _shortcut_report(part, dataset, thresh, out, cache, lungs)
        shown = part[part["variant"].isin(variants[:1] + ["ce"])]
        task_files = [Path(f) for f in shown["source"].unique()]
        classes = part["classes"].iloc[0]
        figures.metric_vs_lambda(task_files, figs / f"{dataset}_{task}_t{thresh:g}_auc_vs_lambda.png", _title(part))
        if is_binary(classes):
            figures.roc_curves(task_files, figs / f"{dataset}_{task}_t{thresh:g}_roc.png",
                               f"{classes[1]} vs {classes[0]}")
        rows = _overlay_rows(shown)
        if cache and lungs and rows:
            figures.cam_overlays(rows, ImageCache(cache), LungCache.read(lungs),
                                 figs / f"{dataset}_{task}_t{thresh:g}_cam_overlays.png")
    figures.training_curves(histories, figs / f"{dataset}_training_curves.png")
    atomic_write_text(out / "appendix.tex", latex.document([(out / "tex" / f"{s}.tex").read_text() for s in stems],
                                                           "Appendix: regenerated tables"))
    atomic_write_text(out / "README.md", "".join((out / "md" / f"{s}.md").read_text() + "\n" for s in stems))
    return stems
