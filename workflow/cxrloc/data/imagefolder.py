"""Private sets laid out ``train|val|test/<class>/*.png`` (the Ottawa layout): the split is the folder.

``test_iid/`` (a test set from the training distribution) is optional. The label of each
class folder comes from the task's order of classes, never from sorting: a folder is named
after its class (``Effusion``, ``No Finding``) or, as in the original, its label and class
(``0NoFinding``, ``1Effusion``). Every split folder holds the same class folders, none of
them empty, and no other folder (a misspelled copy would silently drop its images). Such sets carry no patient ids,
so each image counts as its own patient.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..errors import CxrlocError
from ..tasks import Task
from .imagecache import FILM_SUFFIXES as SUFFIXES

REQUIRED = ("train", "val", "test")
OPTIONAL = ("test_iid",)


class LayoutError(CxrlocError, ValueError):
    pass


def _images(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.suffix.lower() in SUFFIXES)


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def folder_label(name: str, task: Task) -> int:
    """The label a class folder stands for, from the task's own order: the class's name (``Effusion``,
    ``No Finding``, ``no_finding``: case, spaces and punctuation aside), or its label and name
    (``1Effusion``), or its label alone (``1``). A label that contradicts the name is an error."""
    keys = [_key(c) for c in task.classes]
    if _key(name) in keys:
        return keys.index(_key(name))
    number, rest = re.fullmatch(r"(\d*)(.*)", name).groups()
    named = keys.index(_key(rest)) if _key(rest) in keys else None
    if not number or int(number) >= len(keys) or (_key(rest) and named is None):
        raise LayoutError(f"{name}: names none of task {task.name}'s classes {list(task.classes)}: name each class "
                          f"folder after its class ({task.classes[1]!r}) or its label and class ('1{task.classes[1]}')")
    if named not in (None, int(number)):
        raise LayoutError(f"{name}: its number says label {number} ({task.classes[int(number)]}), its name "
                          f"{task.classes[named]} (label {named}) in task {task.name}: rename it")
    return int(number)


def _class_folders(folder: Path, task: Task) -> list[str]:
    """The class folder of each label, in the task's label order (never the folders' sorted order)."""
    found: dict[int, str] = {}
    for name in sorted(p.name for p in folder.iterdir() if p.is_dir()):
        try:
            label = folder_label(name, task)
        except LayoutError as e:
            raise LayoutError(f"{folder}/{e}") from None
        if label in found:
            raise LayoutError(f"{folder}: {found[label]} and {name} both stand for class {task.classes[label]}")
        found[label] = name
    missing = [c for i, c in enumerate(task.classes) if i not in found]
    if missing:
        raise LayoutError(f"{folder}: no folder for class(es) {missing} of task {task.name}; found {sorted(found.values())}")
    return [found[i] for i in range(len(task.classes))]


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
