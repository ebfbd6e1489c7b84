"""Planning never pays for training: the CLI's help and every module the workflow imports at
parse time load no torch, timm or smp."""

import json
import subprocess
import sys

import pytest
from cxrloc.train.results import SCHEMA_VERSION, ResultError, read_result

HEAVY = ("torch", "timm", "segmentation_models_pytorch")
PLANNING = ("cxrloc.cli", "cxrloc.config", "cxrloc.backbones", "cxrloc.schedule", "cxrloc.resources",
            "cxrloc.lungs.lungcache", "cxrloc.train.results", "cxrloc.tasks", "cxrloc.train.camsize",
            "cxrloc.data.manifest", "cxrloc.train.grid", "cxrloc.objectives")


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_cxrloc_help_imports_no_torch():
    mods = loaded_after("import cxrloc.cli\ntry:\n    cxrloc.cli.main(['--help'])\nexcept SystemExit:\n    pass")
    assert "cxrloc.cli" in mods
    assert not mods & set(HEAVY)


def test_modules_read_at_parse_time_import_no_torch():
    mods = loaded_after("\n".join(f"import {m}" for m in PLANNING))
    assert set(PLANNING) <= mods
    assert not mods & set(HEAVY)


def test_a_results_file_without_a_key_is_an_error_naming_it(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"schema": SCHEMA_VERSION, "run": {"dataset": "x"}}))
    with pytest.raises(ResultError, match=f"{path}: missing key 'task'"):
        read_result(path)
    path.write_text(json.dumps({"schema": 0}))
    with pytest.raises(ResultError, match=f"schema 0, expected {SCHEMA_VERSION}"):
        read_result(path)


def test_the_originals_flags_still_parse_as_aliases():
    from cxrloc.cli import parser

    original = parser().parse_args(["train", "--splits", "s.csv", "--path", "cache", "--lungs", "l.npz", "--task", "ne",
                                    "--backbone", "resnet", "--lamda", "0.25", "--isAdaptive", "--batch", "8", "--gpu", "0",
                                    "--out", "run"])
    ours = parser().parse_args(["train", "--splits", "s.csv", "--cache", "cache", "--lungs", "l.npz", "--task", "ne",
                                "--backbone", "resnet", "--lambda", "0.25", "--adaptive", "--batch", "8", "--gpu", "0",
                                "--out", "run"])
    assert vars(original) == vars(ours) and ours.lam == "0.25" and ours.adaptive and ours.cache == "cache"


def test_a_lambda_that_is_neither_a_number_nor_adaptive_says_what_is_allowed():
    from cxrloc.config import schema_error

    config = {"dataset": "d", "source": {"kind": "synthetic"}, "tasks": ["ne"], "backbones": ["resnet18"],
              "lambdas": [1, "0.5x"], "thresholds": [0.5], "seeds": [0]}
    assert schema_error(config) == "config key lambdas[1]: '0.5x' is not a number in [0, 1] or 'adaptive'"
