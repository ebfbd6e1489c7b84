"""Shared fixtures: the real data that torchxrayvision ships, and small synthetic sets."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def xrv_data() -> Path:
    import torchxrayvision

    return Path(torchxrayvision.__file__).parent / "data"


@pytest.fixture(scope="session")
def nih_metadata_path() -> Path:
    return xrv_data() / "Data_Entry_2017_v2020.csv.gz"


@pytest.fixture(scope="session")
def nih_metadata(nih_metadata_path):
    from cxrloc.data.metadata import read_metadata

    return read_metadata(nih_metadata_path)


@pytest.fixture(scope="session")
def v7labs_masks() -> list[tuple[str, np.ndarray]]:
    """The 517 real lung masks, as boolean arrays."""
    from PIL import Image

    out = []
    with zipfile.ZipFile(xrv_data() / "semantic_masks_v7labs_lungs.zip") as z:
        for name in sorted(n for n in z.namelist() if not n.endswith("/")):
            with z.open(name) as f:
                out.append((name, np.asarray(Image.open(f).convert("L")) > 127))
    return out


@pytest.fixture(scope="session")
def study(tmp_path_factory) -> Path:
    """The tiny study, run once for real by Snakemake, without a shared file system where rsync
    is installed (as in CI): Snakemake runs in ``staging/`` and keeps every file in the study
    folder through the fs storage plugin; each job sees only the files it declares, staged into
    ``staging/``, so a job reading an undeclared file fails the run. Without rsync it runs in
    the study folder itself. Snakemake's output is kept in ``snakemake.out``."""
    import shutil

    from .workflow import TINY, in_study

    work = tmp_path_factory.mktemp("study")
    if shutil.which("rsync"):
        (work / "staging").mkdir()
    proc = in_study(work, "--configfile", str(TINY))
    (work / "snakemake.out").write_text(proc.stdout + proc.stderr)
    return work


OWN_TASK = {"name": "fluidair", "classes": ["Normal", "Fluid", "Air"], "regions": {"Fluid": "lungs", "Air": "upper"}}
RENAMED = {"No Finding": "Normal", "Effusion": "Fluid", "Pneumothorax": "Air"}


@pytest.fixture(scope="session")
def own_study(study, tmp_path_factory) -> Path:
    """One's own study, declared in the config alone: a CSV-described set of DICOM films (its own
    column names and label separator, images under a root) with a declared three-class task (``Fluid`` looks
    at the lungs, ``Air`` at the upper lung) and a timm backbone outside the registry; run once
    by Snakemake from a folder whose path holds a space and a command substitution. Its config
    is ``own.yaml``; the U-Net is the tiny study's."""
    import shutil

    import pandas as pd
    import yaml
    from cxrloc.data.imagecache import read_gray

    from .dicomfiles import stored, write_dicom
    from .workflow import OUT, TINY, snakemake

    hostile = tmp_path_factory.mktemp("hostile") / "my data $(touch PWNED)"
    meta = pd.read_csv(study / OUT / "raw/Data_Entry.csv")
    (hostile / "films/dcm").mkdir(parents=True)
    for name in meta["Image Index"]:
        write_dicom(hostile / "films/dcm" / name.replace(".png", ".dcm"), stored(read_gray(study / OUT / "raw/images" / name)))
    findings = meta["Finding Labels"].str.split("|").map(lambda ls: ";".join(RENAMED.get(f, f) for f in ls))
    table = pd.DataFrame({"file": "dcm/" + meta["Image Index"].str.replace(".png", ".dcm"),
                          "subject": "p" + meta["Patient ID"].astype(str), "finding": findings})
    table.to_csv(hostile / "films/labels.csv", index=False)
    shutil.copy(study / OUT / "unet/unet.pt", hostile / "unet.pt")
    cfg = yaml.safe_load(TINY.read_text())
    cfg.update(dataset="own", tasks=[OWN_TASK], backbones=["test_efficientnet"], lambdas=[0.5], image_size=64)
    cfg["source"] = {"kind": "csv", "root": str(hostile / "films"), "table": str(hostile / "films/labels.csv"),
                     "columns": {"image": "file", "labels": "finding", "patient": "subject"}, "label_separator": ";"}
    cfg["unet"] = {"checkpoint": str(hostile / "unet.pt")}
    (hostile / "own.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(hostile, "--configfile", str(hostile / "own.yaml"))
    return hostile


REAL = SHARED / "data/real-lungs"


@pytest.fixture(scope="module")
def films(tmp_path_factory):
    """The first 30 real films of ../shared/data/real-lungs with their masks, and their patients
    (read in place)."""
    import pandas as pd

    folder = tmp_path_factory.mktemp("films")
    table = pd.read_csv(REAL / "labels.csv", dtype=str).sort_values("id").head(30)
    for sub in ("images", "masks"):
        (folder / sub).mkdir()
        for i in table["id"]:
            (folder / sub / f"{i}.png").symlink_to(REAL / sub / f"{i}.png")
    table[["id", "patient"]].to_csv(folder / "labels.csv", index=False)
    return folder
