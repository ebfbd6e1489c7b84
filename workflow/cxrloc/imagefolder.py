"""Private sets laid out ``train|val|test/<class>/*.png`` (the Ottawa layout): the split is the folder.

Class order is the sorted folder names, as in the original (``0NoFinding``, ``1Effusion``, …).
Such sets carry no patient ids, so each image counts as its own patient.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .splits import SPLITS
from .tasks import classes

SUFFIXES = {".png", ".jpg", ".jpeg"}


def index_imagefolder(root: Path, task: str) -> pd.DataFrame:
    """The split table (``image, patient, finding, label, split``) of a folder-laid-out set."""
    missing = [s for s in SPLITS if not (root / s).is_dir()]
    if missing:
        raise FileNotFoundError(f"{root}: missing split folder(s) {missing}; expected train/, val/, test/")
    folders = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    names = classes(task)
    if len(folders) != len(names):
        raise ValueError(f"{root / 'train'}: {len(folders)} class folders {folders}, task {task} has {len(names)}: {names}")
    rows = []
    for split in SPLITS:
        for label, folder in enumerate(folders):
            for f in sorted((root / split / folder).iterdir()):
                if f.suffix.lower() in SUFFIXES:
                    rel = f"{split}/{folder}/{f.name}"
                    rows.append({"image": rel, "patient": rel, "finding": names[label], "label": label, "split": split})
    return pd.DataFrame(rows)
