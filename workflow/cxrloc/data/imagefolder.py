"""Private sets laid out ``train|val|test/<class>/*.png`` (the Ottawa layout): the split is the folder.

``test_iid/`` (a test set from the training distribution) is optional. Class order is the
sorted folder names, as in the original (``0NoFinding``, ``1Effusion``, …); every split
folder holds the same class folders, none of them empty, and no other folder (a misspelled
copy would silently drop its images). Such sets carry no patient ids,
so each image counts as its own patient.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import CxrlocError
from ..tasks import Task

SUFFIXES = {".png", ".jpg", ".jpeg"}
REQUIRED = ("train", "val", "test")
OPTIONAL = ("test_iid",)


class LayoutError(CxrlocError, ValueError):
    pass


def _images(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.suffix.lower() in SUFFIXES)


def _class_folders(folder: Path, task: Task) -> list[str]:
    """The class folders of ``folder``, checked against the task's classes."""
    folders = sorted(p.name for p in folder.iterdir() if p.is_dir())
    names = task.classes
    if len(folders) != len(names):
        raise LayoutError(f"{folder}: {len(folders)} class folder(s) {folders}, but task {task.name} has "
                          f"{len(names)} classes {list(names)}: one folder per class, in label order when sorted")
    return folders


def _rows(root: Path, split: str, folders: list[str], task: Task, split_folder: str = "") -> list[dict]:
    """The images of one split: every class folder there, none empty, and no other folder."""
    where = root / split_folder
    strangers = sorted(p for p in where.iterdir() if p.is_dir() and p.name not in folders)
    if strangers:
        raise LayoutError(f"{strangers[0]}: not one of the class folders ({', '.join(folders)}); its images would be "
                          f"left out: rename it to its class or move it out of {root}")
    rows = []
    for label, folder in enumerate(folders):
        images = _images(where / folder) if (where / folder).is_dir() else []
        if not images:
            raise LayoutError(f"{where / folder}: missing or holds no image ({', '.join(sorted(SUFFIXES))}); "
                              f"every split needs images of every class")
        for f in images:
            rel = f"{split_folder}/{folder}/{f.name}".lstrip("/")
            rows.append({"image": rel, "patient": rel, "finding": task.classes[label], "label": label, "split": split})
    return rows


def index_imagefolder(root: Path, task: Task) -> pd.DataFrame:
    """The split table (``image, patient, finding, label, split``) of a folder-laid-out set."""
    missing = [s for s in REQUIRED if not (root / s).is_dir()]
    if missing:
        raise LayoutError(f"{root}: missing split folder(s) {missing}; expected train/, val/, test/ "
                          "(and optionally test_iid/), each with one folder per class")
    folders = _class_folders(root / "train", task)
    splits = REQUIRED + tuple(s for s in OPTIONAL if (root / s).is_dir())
    return pd.DataFrame([row for split in splits for row in _rows(root, split, folders, task, split)])


def index_class_folders(root: Path, task: Task, split: str = "test") -> pd.DataFrame:
    """The table of a set laid out ``<class>/*.png`` (an external test set), all in ``split``."""
    return pd.DataFrame(_rows(root, split, _class_folders(root, task), task))
