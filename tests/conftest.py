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
    from cxrloc.metadata import read_metadata

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
    """The tiny study, run once for real by Snakemake."""
    from .workflow import TINY, snakemake

    work = tmp_path_factory.mktemp("study")
    snakemake(work, "--configfile", str(TINY))
    return work
