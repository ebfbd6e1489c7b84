"""The study's grid, planned from the config before any job (cxrloc.train.grid): each refusal names its
key; the Snakemake-level wiring of one of them is tested in test_workflow."""

import pytest
import yaml
from cxrloc.train.grid import GridError, plan
from snakemake.utils import validate

from .workflow import ROOT, TINY


def config(**changes) -> dict:
    """The tiny study's config with ``changes``, its defaults filled in as Snakemake fills them."""
    cfg = {**yaml.safe_load(TINY.read_text()), **changes}
    validate(cfg, str(ROOT / "config/schema.yaml"))
    return cfg


def test_the_grid_runs_each_objective_with_a_term_at_every_lambda_and_warm_up_and_each_baseline_once():
    grid = plan(config(objectives=["soft", "ceiling", "masked"], lambdas=[1, 0.5, 0.25], warmups=[0, 1]))
    runs = [(s.lam_token, s.warmup_token, o) for s, o in grid.runs()]
    assert runs == [("1", "", "ce"), ("0.5", "", "soft"), ("0.5", "w1", "soft"), ("0.25", "", "soft"),
                    ("0.25", "w1", "soft"), ("1", "", "ceiling"), ("1", "", "masked")]


@pytest.mark.parametrize("change, expected", [
    ({"image_size": 32}, "config key image_size 32: resnet18's Grad-CAM layer layer4.1 gives a 1×1 map"),
    ({"image_size": 32, "objectives": ["signed"]}, "config key image_size 32: resnet18's Grad-CAM layer"),
    ({"warmups": [2]}, "config key warmups: a warm-up of 2 epochs with train.epochs 2 leaves no epoch"),
    ({"objectives": ["ceiling"], "source": {"kind": "synthetic", "synthetic": {"patients": 20}}},
     "config key objectives: ceiling trains on copies whose confounder carries no label, and source.kind synthetic "
     "draws none"),
    ({"objectives": ["ce", "swapp"]}, "config key objectives: unknown objective 'swapp'; valid objectives: ce, ceiling"),
    ({"attention": {"mode": "masked"}}, "config key attention.mode: masked has no term; name it in objectives"),
    ({"objectives": ["swap"], "train": {"batch_size": 1, "epochs": 1}},
     "config key train.batch_size 1: objective swap takes part of each image from another image of its batch"),
    ({"tasks": ["ne", {"name": "fa", "classes": ["Normal", "Fluid"], "regions": {"Fluid": "uper"}}]},
     "config key tasks[1].regions: {'Fluid': 'uper'}; valid: none, lower, upper"),
])
def test_a_bad_grid_is_refused_naming_the_key(change, expected):
    """An attention term on a one-cell Grad-CAM map, a warm-up as long as training, a ceiling with no
    confounder to remove would each train plain cross-entropy under the objective's name."""
    with pytest.raises(GridError) as e:
        plan(config(**change))
    assert expected in str(e.value)


def test_a_map_term_needs_a_two_cell_map_and_other_terms_do_not():
    plan(config(image_size=36))
    plan(config(image_size=32, objectives=["swap", "rrr", "masked"]))  # image-resolution terms and baselines


def test_a_run_is_resolved_with_its_warm_up_given_once():
    from cxrloc.config import ConfigError
    from cxrloc.tasks import BUILTIN
    from cxrloc.train.run import resolve_run

    run = resolve_run("d", BUILTIN["ne"], "resnet18", "0.5", 0.5, 0, config(), warmup=1)
    assert (run.schedule.token, run.train.warmup_epochs, run.objective.name) == ("0.5w1", 1, "soft")
    assert resolve_run("d", BUILTIN["ne"], "resnet18", "0.5w1", 0.5, 0, config()).schedule == run.schedule
    with pytest.raises(ConfigError, match="λ 0.5w1 carries a warm-up, and a warm-up of 1 was given too"):
        resolve_run("d", BUILTIN["ne"], "resnet18", "0.5w1", 0.5, 0, config(), warmup=1)
    with pytest.raises(ConfigError, match="objective ceiling is cross-entropy only: it needs λ 1, not 0.5"):
        resolve_run("d", BUILTIN["ne"], "resnet18", "0.5", 0.5, 0, config(), "ceiling")
