"""The conda environment asks for what pyproject.toml asks for."""

import tomllib

import yaml

from .conftest import ROOT


def test_conda_env_matches_pyproject_with_its_dicom_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["dicom"]
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


def test_training_resources_scale_with_backbone_size_and_epochs():
    from cxrloc.resources import train_mem_mb, train_runtime

    assert train_runtime(240, "pvt_v2_b2_li", 224, 100) == 240
    assert train_runtime(240, "resnet50.tv_in1k", 224, 100) < train_runtime(240, "pvt_v2_b2_li", 224, 100)
    assert train_runtime(240, "pvt_v2_b2_li", 448, 50) == 480
    assert train_runtime(240, "resnet18", 64, 4) == 10
    assert train_mem_mb(16000, 224, 2) == 32000 and train_mem_mb(16000, 448) == 64000
