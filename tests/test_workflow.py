"""A real Snakemake run of the whole DAG on a tiny config, and what it leaves behind."""

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from cxrloc.tasks import BUILTIN

from .workflow import OUT, ROOT, TINY, cxrloc, in_study, objective_plugin, run_args, seed_upstream, snakemake

pytestmark = pytest.mark.workflow


def test_tables_have_a_column_per_lambda_and_a_block_per_backbone(study):
    md = (study / OUT / "tables/md/tiny_ne_t0.5_lambda.md").read_text()
    assert "λ = 1" in md and "λ = 0.5" in md and "ResNet18" in md
    assert md.startswith("### tiny ne (No Finding, Effusion), objective soft: test metrics per λ"), md[:200]
    tex = (study / OUT / "tables/tex/tiny_ne_t0.5_lambda.tex").read_text()
    assert "\\toprule" in tex and "$\\lambda$ = 0.5" in tex and tex.isascii()
    appendix = (study / OUT / "tables/appendix.tex").read_text()
    assert tex in appendix and (study / OUT / "tables/tex/tiny_ne_t0.5_ce_vs_proposed.tex").read_text() in appendix
    assert "\\input" not in appendix
    for fig in ("tiny_ne_t0.5_auc_vs_lambda.png", "tiny_ne_t0.5_roc.png", "tiny_training_curves.png",
                "tiny_ne_t0.5_cam_overlays.png"):
        assert (study / OUT / "tables/figures" / fig).stat().st_size > 1000
    assert (study / OUT / "masks/lung_quality.png").stat().st_size > 1000


def test_every_cell_traces_to_a_run_json(study):
    md = (study / OUT / "tables/md/tiny_ne_t0.5_lambda.md").read_text()
    rows = {cells[1]: cells[2:] for cells in (
        [c.strip() for c in line.strip("|").split("|")] for line in md.splitlines() if line.startswith("| ResNet18"))}
    for col, run_name in enumerate(["la1_t0.5_s0_ce", "la0.5_t0.5_s0_soft"]):
        run = json.loads((study / OUT / f"runs/resnet18_tiny_ne_{run_name}/metrics.json").read_text())
        m = run["test"]["metrics"]
        assert rows["Acc / Rec"][col] == f"{m['accuracy']:.3f}"
        assert rows["AUC"][col] == f"{m['auc']:.3f}"
        assert rows["F1"][col] == f"{m['f1_weighted']:.3f}"
        assert run["test"]["ci95"]["accuracy"][0] <= m["accuracy"] <= run["test"]["ci95"]["accuracy"][1]


def test_precache_covers_every_split_image(study):

    lungs = np.load(study / OUT / "masks/lungs.npz")
    splits = pd.read_csv(study / OUT / "splits/ne.csv")
    assert set(splits["image"]) <= set(lungs["image"])
    assert json.loads((study / OUT / "masks/report.json").read_text())["images_per_s"] > 0


def test_the_unet_reports_per_image_dice_and_draws_its_worst_cases(study):
    report = json.loads((study / OUT / "unet/report.json").read_text())
    assert report["held_out_images"] == len(report["per_image"]) == 8  # 20 % of unet.max_images (40)
    assert report["dice_p10"] <= report["dice_median"] and 0 < report["dice_pooled"] <= 1
    assert (study / OUT / "unet/worst.png").stat().st_size > 1000


def test_synthetic_localization_is_scored(study):
    run = json.loads((study / OUT / "runs/resnet18_tiny_ne_la0.5_t0.5_s0_soft/metrics.json").read_text())
    loc = run["localization"]
    assert loc["n"] > 0 and 0 <= loc["pointing_game"] <= 1 and 0 <= loc["energy_inside"] <= 1


def test_the_attention_term_trains_in_the_tiny_study(study):
    """At 32 px resnet18's Grad-CAM map was 1 × 1: the term stayed at one value, no heat ever fell in
    the region, and the soft run ended as the cross-entropy run. At the tiny study's size the term
    falls, heat reaches the region and the weights leave cross-entropy's."""
    import torch

    runs = study / OUT / "runs"
    history = pd.read_csv(runs / "resnet18_tiny_ne_la0.5_t0.5_s0_soft/history.csv")
    assert history["att"].iloc[-1] < 0.95 * history["att"].iloc[0], history  # inert, it stayed at one value
    assert (history["cam_in_region"] > 0).all(), history
    soft, ce = (torch.load(runs / f"resnet18_tiny_ne_{name}/model.pt", weights_only=True)["state_dict"]
                for name in ("la0.5_t0.5_s0_soft", "la1_t0.5_s0_ce"))
    assert max(float((soft[k].float() - ce[k].float()).abs().max()) for k in soft) > 0.01


@pytest.mark.skipif(not shutil.which("rsync"), reason="the fs storage plugin needs rsync (Debian: rsync; .ci/run "
                    "installs it): without it the study runs on the shared file system")
def test_every_job_ran_on_its_declared_files_alone(study):
    """The study ran with --shared-fs-usage none: each job got only its declared inputs, staged
    into a folder apart from the study's, so a rule reading an undeclared file would have failed
    the run (a train rule given the cache folder as a hard-coded path fails there)."""
    log = (study / "snakemake.out").read_text()
    for rule in ("precache_masks", "train", "evaluate", "aggregate", "appendix_pdf"):
        assert re.search(rf"^(local)?rule {rule}:\n    input: .*\(retrieve from storage\)", log, re.M), rule
    assert re.search(r"cache/images\.npy \(retrieve from storage\)", log)
    staged = study / "staging/.snakemake/storage"
    assert staged.is_dir()
    assert not [p for p in staged.rglob("*") if p.suffix in (".npy", ".npz", ".pt")], "staged copies are removed"


def test_second_run_has_nothing_to_do(study):
    out = in_study(study, "--configfile", str(TINY), "-n").stdout
    assert "Nothing to be done" in out


def test_training_never_runs_the_unet(study, tmp_path):
    shutil.move(study / OUT / "unet/unet.pt", tmp_path / "unet.pt")
    try:
        cxrloc("train", *run_args(study), "--out", str(tmp_path / "run"))
        assert (tmp_path / "run/model.pt").exists()
    finally:
        shutil.move(tmp_path / "unet.pt", study / OUT / "unet/unet.pt")


def test_rerun_after_change_of_a_table_format_only_aggregates(study):
    out = snakemake(study, "--configfile", str(TINY), "-n", "--forcerun", "aggregate").stdout
    jobs = [j for j in re.findall(r"^rule (\w+):", out, re.M) if j != "all"]
    compiled = (study / OUT / "tables/appendix.pdf").exists()  # the PDF, where LaTeX is installed, follows
    assert jobs == ["aggregate", "appendix_pdf"] if compiled else ["aggregate"], jobs


def test_lambda_out_of_range_fails_before_any_job(tmp_path):
    bad = yaml.safe_load(TINY.read_text())
    bad["lambdas"] = [1, 1.5]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    proc = snakemake(tmp_path, "--configfile", str(tmp_path / "bad.yaml"), check=False)
    assert proc.returncode != 0 and "lambdas" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("key, value, expected", [
    ("backbones", ["resnet18", "densnet121"], ["config key 'backbones'", "did you mean densenet121"]),
])
def test_a_misspelled_name_or_a_bad_value_fails_before_any_job_naming_the_key(tmp_path, key, value, expected):
    bad = yaml.safe_load(TINY.read_text())
    bad.update({"objectives": ["swap"], key: value})
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    proc = snakemake(tmp_path, "--configfile", str(tmp_path / "bad.yaml"), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and all(e in out for e in expected), out[-2000:]
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("change, expected", [
    ({"image_size": 32}, "config key image_size 32: resnet18's Grad-CAM layer layer4.1 gives a 1×1 map"),
])
def test_a_run_that_would_be_cross_entropy_under_another_name_fails_before_any_job(tmp_path, change, expected):
    """An attention term on a one-cell Grad-CAM map would train plain cross-entropy and table it under the
    objective's name; the others such refusals of the grid, test_grid checks without Snakemake."""
    bad = {**yaml.safe_load(TINY.read_text()), "objectives": ["soft"], **change}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    proc = snakemake(tmp_path, "--configfile", str(tmp_path / "bad.yaml"), "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and expected in out, out[-2000:]


def test_a_csv_source_a_declared_task_and_a_timm_backbone_outside_the_registry_build_the_grid(tmp_path):
    (tmp_path / "films").mkdir()
    (tmp_path / "films/labels.csv").write_text("file,finding,subject\n")
    cfg = yaml.safe_load(TINY.read_text())
    nodule = {"name": "nodule", "classes": ["No Finding", "Nodule"], "regions": {"Nodule": "upper"}}
    cfg.update(backbones=["densenet121"], dataset="own", tasks=["ne", nodule], image_size=64)
    cfg["source"] = {"kind": "csv", "root": "films", "table": "films/labels.csv",
                     "columns": {"image": "file", "labels": "finding", "patient": "subject"}}
    (tmp_path / "own.yaml").write_text(yaml.safe_dump(cfg))
    out = snakemake(tmp_path, "--configfile", str(tmp_path / "own.yaml"), "-n", "-p").stdout
    assert re.search(r"^train\s+4$", out, re.M) and "--backbone densenet121" in out
    assert re.search(r"^prepare_splits\s+2$", out, re.M) and "densenet121_own_nodule_la0.5" in out
    assert """--task '{"name": "nodule", "classes": ["No Finding", "Nodule"], "regions": {"Nodule": "upper"}}'""" in out
    assert ("""--columns '{"image": "file", "labels": "finding", "patient": "subject", "split": null, "sex": null, """
            """"age": null, "view": null}'""") in out


def test_missing_key_fails_naming_it_in_a_few_lines(tmp_path):
    bad = yaml.safe_load(TINY.read_text())
    del bad["tasks"]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    proc = snakemake(tmp_path, "--configfile", str(tmp_path / "bad.yaml"), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "config: 'tasks' is a required property" in out
    assert len(out.splitlines()) < 10, out  # not the whole schema


def test_a_failed_jobs_cause_reaches_the_console_of_plain_snakemake(study, tmp_path):
    """``unet.checkpoint`` is a crafted file: precache_masks fails, and plain ``snakemake`` (the
    README's command: the default profile is picked up by itself) prints the job's one-line cause."""
    import torch

    from .test_resume import Payload

    seed_upstream(study, tmp_path, ("raw", "splits", "cache"))
    torch.save({"payload": Payload(tmp_path / "pwned")}, tmp_path / "crafted.pt")
    cfg = yaml.safe_load(TINY.read_text())
    cfg["unet"] = {"checkpoint": str(tmp_path / "crafted.pt")}
    (tmp_path / "crafted.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, f"{OUT}/masks/lungs.npz", "--configfile", str(tmp_path / "crafted.yaml"), check=False)
    assert proc.returncode != 0
    assert f"cxrloc precache-masks: error: corrupt or foreign lung U-Net checkpoint {tmp_path / 'crafted.pt'}" in (
        proc.stdout + proc.stderr)
    assert not (tmp_path / "pwned").exists() and not (tmp_path / OUT / "masks/lungs.npz").exists()


def test_nih_dry_run_builds_the_full_grid_offline(tmp_path):
    out = snakemake(tmp_path, "--configfile", str(ROOT / "config/nih.yaml"), "-n", "-p").stdout
    assert "--sha256 54601e952315d8f67383e9202a6e145997ade429f54f7e0af44b4e158714f424" in out, "Montgomery is verified"
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", out, re.M))
    assert int(counts["train"]) >= 45 and int(counts["evaluate"]) >= 45
    assert int(counts["download_archive"]) == 12
    assert int(counts["fetch_weights"]) == 3, "each pretrained backbone's weights, once, before training"


def test_the_new_objectives_plan_on_the_nih_config(tmp_path):
    cfg = yaml.safe_load((ROOT / "config/nih.yaml").read_text())
    cfg.update(objectives=["actdiff", "swap", "masked"], lambdas=[1, 0.5], warmups=[0, 2], tasks=["ne"], seeds=[0])
    (tmp_path / "nih.yaml").write_text(yaml.safe_dump(cfg))
    out = snakemake(tmp_path, "--configfile", str(tmp_path / "nih.yaml"), "-n", "-p").stdout
    per_backbone = 1 + 2 * 2 + 1  # ce; actdiff and swap at λ = 0.5 with each warm-up; masked
    assert re.search(rf"^train\s+{per_backbone * len(cfg['backbones'])}$", out, re.M)
    for objective in ("actdiff", "swap", "masked"):
        assert f"--objective {objective}" in out
    assert "--lambda 0.5 --warmup 2 " in out and "--lambda 1 " in out



def test_ones_own_study_runs_from_the_config_alone(own_study):
    """A CSV set, a declared three-class task and a timm backbone outside the registry: the
    splits are patient-disjoint, the runs learn the declared classes, the tables name them."""
    own = own_study / "results/own"
    splits = pd.read_csv(own / "splits/fluidair.csv")
    assert list(splits.drop_duplicates("label").sort_values("label")["finding"]) == ["Normal", "Fluid", "Air"]
    assert all(n == 0 for n in json.loads((own / "splits/fluidair.report.json").read_text())["shared_patients"].values())
    assert splits.groupby("patient")["split"].nunique().max() == 1
    run = json.loads((own / "runs/test_efficientnet_own_fluidair_la0.5_t0.5_s0_soft/metrics.json").read_text())
    assert run["run"]["classes"] == ["Normal", "Fluid", "Air"] and len(run["test"]["proba"][0]) == 2
    history = pd.read_csv(own / "runs/test_efficientnet_own_fluidair_la0.5_t0.5_s0_soft/history.csv")
    assert (history["att"] > 0).all(), "the declared regions (lungs, upper lung) reached the attention term"
    table = (own / "tables/md/own_fluidair_t0.5_lambda.md").read_text()
    assert "fluidair (Normal, Fluid, Air)" in table and "test_efficientnet" in table
    assert "fluidair (Normal, Fluid, Air)" in (own / "tables/appendix.tex").read_text()


def test_paths_with_a_space_and_a_command_substitution_reach_the_shell_quoted(own_study, study):
    """The own study's data, its U-Net checkpoint and an image-folder set in the README's layout
    (train/ val/ test/, no test_iid/), all under a path with a space and a command substitution."""
    splits = pd.read_csv(study / OUT / "splits/ne.csv")
    splits = splits[splits["split"] != "test_iid"]
    for row in splits.itertuples():
        dest = own_study / "folder" / row.split / f"{row.label}{row.finding.replace(' ', '')}" / row.image
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(study / OUT / "raw/images" / row.image, dest)
    cfg = yaml.safe_load((own_study / "own.yaml").read_text())
    cfg.update(dataset="folder", tasks=["ne"], source={"kind": "imagefolder", "root": str(own_study / "folder")})
    (own_study / "folder.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(own_study, "results/folder/splits/ne.csv", "--configfile", str(own_study / "folder.yaml"))
    indexed = pd.read_csv(own_study / "results/folder/splits/ne.csv")
    assert len(indexed) == len(splits) and "$(touch PWNED)" in str(own_study)
    assert (indexed.groupby("split")["label"].value_counts() == splits.groupby("split")["label"].value_counts()).all()
    assert (own_study / "results/own/tables/appendix.tex").exists()
    assert not list(own_study.parent.rglob("PWNED")) and not (ROOT / "PWNED").exists(), "a path ran as a command"


def test_shortcut_use_is_measured_on_synthetic_sets(study):
    run = json.loads((study / OUT / "runs/resnet18_tiny_ne_la1_t0.5_s0_ce/metrics.json").read_text())
    s = run["shortcut"]
    assert s["n"] > 0 and 0 <= s["flip_rate"] <= 1 and -1 <= s["delta_p_positive"] <= 1


def test_objectives_grid_with_a_ceiling_gives_a_paired_shortcut_report(study, tmp_path):
    """Also: a new objective is one registry record plus its term: a toy one that another package
    declares (entry-point group ``cxrloc.objectives``) plans, trains, evaluates and reaches the report
    without a change to cxrloc. And a training image absent from disk, with
    ``source.skip_missing_images``, leaves the split table (listed beside it) and the study trains
    and evaluates without it."""
    cfg = yaml.safe_load(TINY.read_text())
    cfg.update(objectives=["swap", "ceiling", "toy"], seeds=[0], lambdas=[1, 0.5], warmups=[1],
               backbones=["resnet_tiny"], attention={"fill": "zero"})
    cfg["source"]["skip_missing_images"] = True
    (tmp_path / "sc.yaml").write_text(yaml.safe_dump(cfg))
    seed_upstream(study, tmp_path, ("raw", "unet"))
    splits = pd.read_csv(study / OUT / "splits/ne.csv")
    gone = splits.loc[splits["split"] == "train", "image"].iloc[3]
    (tmp_path / OUT / "raw/images" / gone).unlink()
    snakemake(tmp_path, "--configfile", str(tmp_path / "sc.yaml"), PYTHONPATH=str(objective_plugin(tmp_path / "plugin")))
    assert pd.read_csv(tmp_path / OUT / "splits/ne.missing.csv")["image"].tolist() == [gone]
    assert gone not in set(pd.read_csv(tmp_path / OUT / "splits/ne.csv")["image"])
    assert "left out 1 image(s) absent" in (tmp_path / OUT / "logs/prepare_splits/ne.log").read_text()
    runs = sorted(p.name for p in (tmp_path / OUT / "runs").iterdir())
    objectives = [r.split("_")[-1] for r in runs]
    assert sorted(objectives) == ["ce", "ceiling", "swap", "toy"]
    for objective in ("swap", "toy"):
        run = tmp_path / OUT / f"runs/resnet_tiny_tiny_ne_la0.5w1_t0.5_s0_{objective}"
        info = json.loads((run / "metrics.json").read_text())["run"]
        assert (info["warmup"], info["objective"]) == (1, objective)
        history = pd.read_csv(run / "history.csv")
        assert history["lam"].tolist() == [1.0, 0.5]  # one warm-up epoch of cross-entropy, then the term
        assert history["att"].tolist()[0] == 0 and history["att"].tolist()[1] > 0
    report = (tmp_path / OUT / "tables/md/tiny_ne_t0.5_shortcut.md").read_text()
    for column in ("shifted AUC", "shifted acc", "i.i.d. AUC", "i.i.d. acc", "marker flips", "CAM on marker", "CAM in region",
                   "ΔAUC vs CE [95% CI]"):
        assert column in report
    assert all(f"| {o}" in report for o in ("swap", "ceiling", "toy"))
    for objective in ("swap", "toy"):  # each objective's own tables say which it is
        table = (tmp_path / OUT / f"tables/md/tiny_ne_t0.5_{objective}_w1_lambda.md").read_text()
        assert f"objective {objective}_w1: test metrics per λ" in table.splitlines()[0]
    assert "nan" not in report  # one seed: no interval, no "nan"
    ceiling = json.loads((tmp_path / OUT / "runs/resnet_tiny_tiny_ne_la1_t0.5_s0_ceiling/metrics.json").read_text())
    assert "test_iid" in ceiling and ceiling["run"]["objective"] == "ceiling"
    assert 0 <= ceiling["shortcut"]["cam_energy_marker"] <= 1
    for fig in ("auc_vs_lambda", "cam_overlays"):
        assert (tmp_path / OUT / f"tables/figures/tiny_ne_t0.5_shortcut_{fig}.png").stat().st_size > 1000


def study_splits(study, objective: str, names: list[str], markers=None, **attention):
    """The tiny study's splits as a run of ``objective`` sees them (``attention``: its settings)."""
    from cxrloc.config import AttentionConfig
    from cxrloc.data.imagecache import ImageCache
    from cxrloc.lungs.lungcache import LungCache
    from cxrloc.objectives import get
    from cxrloc.train.run import RunSpec
    from cxrloc.train.splitdata import run_splits

    spec = RunSpec("tiny", BUILTIN["ne"], "resnet18", 1.0, 0.5, 0, attention=AttentionConfig(**attention),
                   objective=get(objective))
    return run_splits(spec, study / OUT / "splits/ne.csv", ImageCache(study / OUT / "cache"),
                      LungCache.read(study / OUT / "masks/lungs.npz"), names, markers=markers)


def test_a_ceiling_trains_on_copies_whose_marker_carries_no_label_and_is_tested_on_the_films(study):
    from cxrloc.data.marker import Markers

    markers = Markers.read(study / OUT / "raw/markers.csv")
    ceiling, plain = (study_splits(study, o, ["train", "val", "test"], markers) for o in ("ceiling", "ce"))
    for k, copied in ((0, True), (1, True), (2, False)):
        names = markers.ceiling_of(plain[k].names) if copied else plain[k].names
        assert ceiling[k].names == names and (ceiling[k].labels == plain[k].labels).all()
        bright = np.array([ceiling[k].images[i][markers.slices(n, 36)].float().max() > 150  # resized to 36 px
                           for i, n in enumerate(names)])
        assert (bright == markers.carries(names)).all(), "the marker is drawn, never erased"
    positive = plain[0].labels.numpy() == 1
    films, copies = markers.carries(plain[0].names), markers.carries(ceiling[0].names)
    assert films[positive].mean() > 0.6 > 0.4 > films[~positive].mean(), "the films' marker follows the label"
    assert 0.25 < copies[positive].mean() < 0.75 and 0.25 < copies[~positive].mean() < 0.75, "the copies' does not"


def test_a_masked_run_sees_only_the_dilated_lungs_in_every_split(study):
    import torch
    import torch.nn.functional as F

    names = ["train", "val", "test", "test_iid"]
    masked, plain = (study_splits(study, o, names, mask_margin=2 / 36, fill="zero") for o in ("masked", "ce"))
    for name, m, p in zip(names, masked, plain):
        lungs = F.interpolate(p.lung_masks[:, None].float(), size=p.images.shape[-2:], mode="nearest")
        grown = F.max_pool2d(lungs, 5, stride=1, padding=2)[:, 0].bool()
        assert torch.equal(m.images[grown], p.images[grown]), name
        assert (m.images[~grown] == 0).all() and (p.images[~grown] > 0).any(), name


LATEX = ("pdflatex", "xelatex", "pdftotext", "latexmk")


def test_the_demos_appendix_has_its_subgroup_tables(study):
    """The synthetic study draws sex and age: its appendix gains both subgroup tables."""
    summary = (study / OUT / "tables/md/tiny_ne_t0.5_subgroups.md").read_text()
    assert "| sex: M " in summary and "| age: " in summary and "largest gap (mean)" in summary
    runs = (study / OUT / "tables/md/tiny_ne_t0.5_subgroups_runs.md").read_text()
    assert "95 % bootstrap interval" in runs and "| resnet18 " in runs and "nan" not in summary + runs
    assert "tiny_ne_t0.5_subgroups" in (study / OUT / "tables/appendix.tex").read_text().replace("\\_", "_")


@pytest.mark.skipif(not all(shutil.which(t) for t in LATEX),
                    reason=f"needs {', '.join(LATEX)} (Debian: texlive-latex-base texlive-xetex latexmk poppler-utils; "
                           ".ci/run installs them)")
@pytest.mark.parametrize("engine", ["pdflatex", "xelatex"])
def test_appendix_compiles_and_keeps_every_lambda(study, tmp_path, engine):
    import subprocess

    shutil.copy(study / OUT / "tables/appendix.tex", tmp_path)
    proc = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "appendix.tex"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:]
    text = subprocess.run(["pdftotext", "-layout", "appendix.pdf", "-"], cwd=tmp_path, capture_output=True, text=True,
                          check=True).stdout
    squeezed = re.sub(r"\s", "", text)  # pdftotext's spacing around "=" varies
    for label in ("λ=1", "λ=0.5", "testmetricsperλ"):
        assert label in squeezed, text[:2000]
    assert "Missing character" not in (tmp_path / "appendix.log").read_text()
    assert (study / OUT / "tables/appendix.pdf").stat().st_size > 1000  # the workflow's own appendix_pdf rule ran


def test_the_region_score_follows_the_region_the_run_trained_on(study, tmp_path):
    """``energy_in_region`` was always scored on the lung box's part, whatever ``attention.region`` said."""
    import torch
    from cxrloc.cli import main
    from cxrloc.lungs.regions import kinds_for, target_regions
    from cxrloc.train.evaluate import true_class_cams
    from cxrloc.train.inference import load_trained
    from cxrloc.train.localization import energy_inside
    from cxrloc.train.run import RunSpec

    run = study / OUT / "runs/resnet18_tiny_ne_la0.5_t0.5_s0_soft"
    args = run_args(study, backbone="resnet18")
    settings = json.loads(args[args.index("--settings") + 1])
    settings["train"].pop("cam_layer")
    args[args.index("--settings") + 1] = json.dumps({**settings, "attention": {"region": "mask"}})
    main(["evaluate", *args, "--model", str(run / "model.pt"), "--out", str(tmp_path / "metrics.json")])
    scored = json.loads((tmp_path / "metrics.json").read_text())["localization"]["energy_in_region"]

    (test,) = study_splits(study, "soft", ["test"])
    spec = RunSpec("tiny", BUILTIN["ne"], "resnet18", 0.5, 0.5, 0)
    model, layer, _ = load_trained(run / "model.pt", spec, torch.device("cpu"))
    cams, positive = true_class_cams(model, layer, test, torch.device("cpu")), test.labels > 0
    by = {region: energy_inside(cams, target_regions(region, test.boxes[positive], kinds_for(spec.task)[test.labels[positive]],
                                                     cams.shape[-1], test.lung_masks[positive])).mean().item()
          for region in ("box", "mask")}
    assert scored == pytest.approx(by["mask"], abs=1e-6) and by["mask"] != pytest.approx(by["box"], abs=1e-4), by
