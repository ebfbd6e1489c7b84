"""Helpers to run Snakemake and the CLI for real, in a scratch folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TINY = ROOT / "tests" / "tiny.yaml"
OUT = "results/tiny"
UPSTREAM = ("raw", "cache", "splits", "unet", "masks")


def seed_upstream(study: Path, work: Path, names: tuple[str, ...] = UPSTREAM) -> None:
    """Copy the tiny study's data, image cache, splits, U-Net and lung masks (or the ``names``
    among them) into ``work`` (modification times kept), so that Snakemake there only runs what
    follows them."""
    for name in names:
        shutil.copytree(study / OUT / name, work / OUT / name)


def env() -> dict:
    e = {**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    e.update(http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
             HTTPS_PROXY="http://127.0.0.1:9")
    return e


def snakemake(workdir: Path, *args: str, check: bool = True, **environ: str) -> subprocess.CompletedProcess:
    """Snakemake in ``workdir``, with the tests' environment plus ``environ``."""
    cmd = [str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**env(), **environ}, cwd=workdir)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def in_study(study: Path, *args: str) -> subprocess.CompletedProcess:
    """Snakemake where the ``study`` fixture ran it (in ``staging/`` through the fs storage plugin,
    where that is how it ran), so that it reads the study's own record of its jobs."""
    if not (study / "staging").is_dir():
        return snakemake(study, *args)
    return snakemake(study / "staging", *args, "--shared-fs-usage", "none", "--default-storage-provider", "fs",
                     "--default-storage-prefix", str(study))


def cxrloc(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run the CLI; ``env`` defaults to the tests' (no network)."""
    kw.setdefault("env", env())
    proc = subprocess.run([str(BIN / "cxrloc"), *args], capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"cxrloc {' '.join(args)} failed:\n{proc.stderr[-5000:]}")
    return proc


def run_args(work: Path, lam: str = "0.5", backbone: str = "resnet_tiny", **train) -> list[str]:
    """CLI arguments of one training job on the tiny study's data in ``work`` (by default the
    0.4 M-parameter ResNet, Grad-CAM on its 2 × 2 ``layer3`` at 32 px)."""
    cfg = yaml.safe_load(TINY.read_text())
    settings = {"train": {**cfg["train"], "cam_layer": {"resnet_tiny": "layer3"}, **train}}
    return ["--dataset", "tiny", "--task", "ne", "--backbone", backbone, "--lambda", lam, "--thresh", "0.5",
            "--seed", "0", "--splits", str(work / OUT / "splits/ne.csv"), "--cache", str(work / OUT / "cache"),
            "--lungs", str(work / OUT / "masks/lungs.npz"), "--settings", json.dumps(settings)]


PLUGIN = '''
from cxrloc.objectives import CAM, Objective

TOY = Objective("toy", "the squared CAM outside the region, averaged", "toy_objective:squared_outside", heat=CAM)


def squared_outside(heat, regions, thresh, attention):
    has = (regions.sum(dim=(1, 2)) > 0).float()
    return (heat.pow(2) * (1 - regions)).mean(dim=(1, 2)) * has
'''


def objective_plugin(folder: Path) -> Path:
    """An installed package in ``folder`` (for PYTHONPATH) whose entry point declares the toy objective."""
    meta = folder / "toy_objective-0.1.dist-info"
    meta.mkdir(parents=True)
    (folder / "toy_objective.py").write_text(PLUGIN)
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-objective\nVersion: 0.1\n")
    (meta / "entry_points.txt").write_text("[cxrloc.objectives]\ntoy = toy_objective:TOY\n")
    return folder
