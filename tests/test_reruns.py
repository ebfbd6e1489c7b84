"""The README's partial-rerun recipes: which jobs Snakemake would run, and, run for real on
one's own study (a CSV set), that what reruns really retrains."""

import re
import shutil

import pandas as pd
import pytest
import yaml

from .workflow import OUT, TINY, snakemake

pytestmark = pytest.mark.workflow
# the default target compiles appendix.pdf where LaTeX is installed: it follows every aggregate
PDF = {"appendix_pdf": 1} if shutil.which("latexmk") and shutil.which("pdflatex") else {}


def planned(work, *args) -> dict[str, int]:
    out = snakemake(work, "--configfile", str(TINY), "-n", *args).stdout
    if "Nothing to be done" in out:
        return {}
    table = out[out.index("Job stats") :]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, re.M) if rule not in ("total", "all")}


def test_stop_after_split_preparation(tmp_path):
    assert planned(tmp_path, "--until", "prepare_splits") == {"synthesize": 1, "prepare_splits": 1}


def test_retrain_one_backbone_only(study):
    models = sorted(str(p.relative_to(study)) for p in (study / OUT / "runs").glob("resnet18_*/model.pt"))
    assert len(models) == 2
    assert planned(study, "--forcerun", *models) == {"train": 2, "evaluate": 2, "aggregate": 1, **PDF}


def test_force_one_rule_reruns_it_and_what_depends_on_it(study):
    assert planned(study, "--forcerun", "precache_masks") == {
        "precache_masks": 1, "finding_coverage": 1, "train": 2, "evaluate": 2, "aggregate": 1, **PDF}


def test_a_parameter_change_retrains_unless_triggers_say_otherwise(own_study, tmp_path):
    cfg = yaml.safe_load((own_study / "own.yaml").read_text())
    cfg["train"]["epochs"] = 3
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    out = snakemake(own_study, "--configfile", str(changed), "-n").stdout
    assert re.search(r"^train\s+1$", out, re.M) and re.search(r"^evaluate\s+1$", out, re.M)
    assert not re.search(r"^precache_masks\s+1$", out, re.M)
    quiet = snakemake(own_study, "--configfile", str(changed), "-n", "--rerun-triggers", "mtime").stdout
    assert "Nothing to be done" in quiet



def test_forcerun_of_one_model_really_retrains(own_study):
    """A rerun never "resumes" a finished run: --forcerun of one model trains it from epoch 0 (that a
    rebuilt cache changes a run's fingerprint, test_resume checks)."""
    work, config = own_study, own_study / "own.yaml"
    model = "results/own/runs/test_efficientnet_own_fluidair_la0.5_t0.5_s0_soft/model.pt"
    log = work / "results/own/logs/train/test_efficientnet_own_fluidair_la0.5_t0.5_s0_soft.log"
    history = work / model.replace("model.pt", "history.csv")
    before = pd.read_csv(history)
    snakemake(work, model, "--forcerun", model, "--configfile", str(config))
    assert "resuming" not in log.read_text() and "epoch 0:" in log.read_text()
    pd.testing.assert_frame_equal(pd.read_csv(history)[["loss", "val_acc"]], before[["loss", "val_acc"]])

