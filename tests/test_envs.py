"""The conda environment asks for what pyproject.toml asks for."""

import tomllib

import yaml

from .conftest import ROOT


def test_conda_env_matches_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "envs/cxrloc.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(p for p in pip if not p.startswith("-e")) == sorted(deps)


def test_every_rule_declares_log_threads_resources_and_conda():
    checked = 0
    for smk in (ROOT / "workflow/rules").glob("*.smk"):
        for block in smk.read_text().split("rule ")[1:]:
            checked += 1
            name = block.split(":")[0]
            body = block.split("\n\n\n")[0]
            for directive in ("log:", "threads:", "resources:", "conda:", "shell:"):
                assert directive in body, f"rule {name} in {smk.name} lacks {directive}"
    assert checked >= 12
