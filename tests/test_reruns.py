"""The README's partial-rerun recipes, each run through Snakemake: which jobs would run."""

import re

import pytest
import yaml

from .workflow import OUT, TINY, snakemake

pytestmark = pytest.mark.workflow


def planned(work, *args) -> dict[str, int]:
    out = snakemake(work, "--configfile", str(TINY), "-n", *args).stdout
    if "Nothing to be done" in out:
        return {}
    table = out[out.index("Job stats") :]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, re.M) if rule not in ("total", "all")}


def test_stop_after_split_preparation(tmp_path):
    assert planned(tmp_path, "--until", "prepare_splits") == {"synthesize": 1, "prepare_splits": 1}


def test_retrain_one_lambda_only(study):
    model = f"{OUT}/runs/resnet18_tiny_ne_la0.5_t0.5_s0_soft/model.pt"
    assert planned(study, "--forcerun", model) == {"train": 1, "evaluate": 1, "aggregate": 1}


def test_retrain_one_backbone_only(study):
    models = sorted(str(p.relative_to(study)) for p in (study / OUT / "runs").glob("resnet18_*/model.pt"))
    assert len(models) == 2
    assert planned(study, "--forcerun", *models) == {"train": 2, "evaluate": 2, "aggregate": 1}


def test_force_one_rule_reruns_it_and_what_depends_on_it(study):
    assert planned(study, "--forcerun", "precache_masks") == {
        "precache_masks": 1, "train": 2, "evaluate": 2, "aggregate": 1}


def test_a_parameter_change_retrains_unless_triggers_say_otherwise(study, tmp_path):
    cfg = yaml.safe_load(TINY.read_text())
    cfg["train"]["epochs"] = 3
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    out = snakemake(study, "--configfile", str(changed), "-n").stdout
    assert re.search(r"^train\s+2$", out, re.M) and re.search(r"^evaluate\s+2$", out, re.M)
    assert not re.search(r"^precache_masks\s+1$", out, re.M)
    quiet = snakemake(study, "--configfile", str(changed), "-n", "--rerun-triggers", "mtime").stdout
    assert "Nothing to be done" in quiet

