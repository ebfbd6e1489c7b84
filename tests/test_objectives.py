"""A new objective is one registry record plus its term: declared by another package (entry-point
group ``cxrloc.objectives``), it plans, trains, evaluates and reaches the tables of the tiny study
without a change to cxrloc."""

import json

import pandas as pd
import pytest
import yaml
from cxrloc import objectives
from cxrloc.errors import CxrlocError

from .workflow import OUT, TINY, seed_upstream, snakemake

PLUGIN = '''
from cxrloc.objectives import CAM, Objective

TOY = Objective("toy", "the squared CAM outside the region, averaged", "toy_objective:squared_outside", heat=CAM)


def squared_outside(heat, regions, thresh, attention):
    has = (regions.sum(dim=(1, 2)) > 0).float()
    return (heat.pow(2) * (1 - regions)).mean(dim=(1, 2)) * has
'''


def plugin(folder):
    """An installed package in ``folder`` (for PYTHONPATH) whose entry point declares the toy objective."""
    meta = folder / "toy_objective-0.1.dist-info"
    meta.mkdir(parents=True)
    (folder / "toy_objective.py").write_text(PLUGIN)
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-objective\nVersion: 0.1\n")
    (meta / "entry_points.txt").write_text("[cxrloc.objectives]\ntoy = toy_objective:TOY\n")
    return folder


def test_every_record_names_a_term_and_what_it_reads_that_exist():
    for o in objectives.REGISTRY.values():
        for reference in filter(None, (o.term, o.second_pass)):
            assert callable(objectives.function(reference)), (o.name, reference)
    with pytest.raises(KeyError, match="valid objectives: ce, ceiling, masked"):
        objectives.get("swapp")
    with pytest.raises(CxrlocError, match="objective 'x': a term reads a map \\(heat\\) or a second pass, exactly one"):
        objectives.Objective("x", "neither", "m:f")


@pytest.mark.workflow
def test_an_objective_of_another_package_runs_through_the_workflow(study, tmp_path):
    path = plugin(tmp_path / "plugin")
    seed_upstream(study, tmp_path)
    cfg = {**yaml.safe_load(TINY.read_text()), "objectives": ["toy"], "lambdas": [0.5], "backbones": ["resnet_tiny"]}
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(tmp_path, f"{OUT}/tables/appendix.tex", "--configfile", str(tmp_path / "toy.yaml"), PYTHONPATH=str(path))
    run = tmp_path / OUT / "runs/resnet_tiny_tiny_ne_la0.5_t0.5_s0_toy"
    history = pd.read_csv(run / "history.csv")
    assert (history["att"] > 0).all() and history["att"].iloc[-1] < history["att"].iloc[0]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["run"]["objective"] == "toy"
    table = (tmp_path / OUT / "tables/md/tiny_ne_t0.5_lambda.md").read_text()
    assert f"| ResNet-tiny | AUC         | {metrics['test']['metrics']['auc']:.3f}" in table
