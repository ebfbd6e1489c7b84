"""A lung segmentation set: radiographs in one folder, their lung masks (same file names, an
optional suffix; a DICOM film's mask a ``.png``) in another, and optionally a ``labels.csv`` with an ``id`` (the file's stem)
and a ``patient`` column, so that the held-out images are whole patients."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.dicom import is_dicom
from ..data.imagecache import FILM_SUFFIXES as SUFFIXES
from ..data.imagecache import read_gray
from ..data.letterbox import Letterbox
from ..errors import CxrlocError


class SegsetError(CxrlocError, ValueError):
    pass


@dataclass(frozen=True)
class Segset:
    names: list[str]
    patients: list[str]
    images: np.ndarray  # uint8 (N, size, size), letterboxed
    masks: np.ndarray  # bool (N, size, size), letterboxed
    letterboxes: list[Letterbox]  # how each image was fitted into the square
    truth: list[np.ndarray]  # bool masks at each image's own size

    def __len__(self) -> int:
        return len(self.names)


def check_distinct(names: list[str], folder: Path, key, what: str) -> None:
    """Files of ``folder`` of the same ``key(name)`` would write one output (``what``): an error naming both."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(key(name), name)
        if other != name:
            raise SegsetError(f"{folder / other} and {folder / name} share the name {key(name)!r}, and so would "
                              f"their {what}: rename one of them")


def image_names(folder: Path, recursive: bool = False) -> list[str]:
    """The images of ``folder`` (and, ``recursive``, of its subfolders) as paths relative to it."""
    found = folder.rglob("*") if recursive else folder.iterdir()
    names = sorted(str(p.relative_to(folder)) for p in found if p.suffix.lower() in SUFFIXES and p.is_file())
    if not names:
        raise SegsetError(f"{folder}: no image ({', '.join(sorted(SUFFIXES))})")
    return names


def check_outside(out: Path, images: Path) -> None:
    """Outputs written among the films would be read back as films by the next run: an error."""
    if out.resolve() == images.resolve() or images.resolve() in out.resolve().parents:
        raise SegsetError(f"--out {out} lies inside --images {images}: a later run would read what this one writes "
                          "as films; write it elsewhere")


def patients_of(names: list[str], labels: Path | None) -> list[str]:
    """Each image's patient from ``labels`` (``id`` = file stem, ``patient``); without a table,
    each image is its own patient. An image the table does not list is an error naming it."""
    stems = [Path(n).stem for n in names]
    if labels is None:
        return stems
    table = pd.read_csv(labels, dtype=str)
    missing = {"id", "patient"} - set(table.columns)
    if missing:
        raise SegsetError(f"{labels}: missing column(s) {sorted(missing)}; found {list(table.columns)}")
    patient = table.set_index("id")["patient"]
    absent = [s for s in stems if s not in patient.index]
    if absent:
        raise SegsetError(f"{labels}: no row for {len(absent)} image(s): {', '.join(absent[:10])}")
    return [patient[s] for s in stems]


def read_segset(images: Path, masks: Path, size: int, labels: Path | None = None, mask_suffix: str = "",
                limit: int | None = None) -> Segset:
    """Every image with its mask, letterboxed to ``size``; a missing mask or a mask of another
    size is an error naming the file."""
    names = image_names(images)[:limit]
    grays, fitted, letterboxes, truth = [], [], [], []
    for name in names:
        gray = read_gray(images / name)
        mask_path = masks / (Path(name).stem + mask_suffix + (".png" if is_dicom(images / name) else Path(name).suffix))
        if not mask_path.exists():
            raise SegsetError(f"{mask_path}: missing (the lung mask of {images / name})")
        mask = read_gray(mask_path) > 127
        if mask.shape != gray.shape:
            raise SegsetError(f"{mask_path}: {mask.shape[::-1]} px, its image {gray.shape[::-1]} px")
        box = Letterbox(*gray.shape, size)
        grays.append(box.fit(gray))
        fitted.append(box.fit(mask.astype(np.uint8) * 255) > 127)
        letterboxes.append(box)
        truth.append(mask)
    return Segset(names, patients_of(names, labels), np.stack(grays), np.stack(fitted), letterboxes, truth)


def hold_out(patients: list[str], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and held-out images: whole patients, in a seeded order, until
    the held-out images reach ``fraction`` of all."""
    order = np.random.default_rng(seed).permutation(sorted(set(patients)))
    counts = pd.Series(patients).value_counts()
    want = max(1, round(fraction * len(patients)))
    held, n = set(), 0
    for p in order:
        if n >= want:
            break
        held.add(p)
        n += counts[p]
    test = np.array([i for i, p in enumerate(patients) if p in held])
    train = np.array([i for i, p in enumerate(patients) if p not in held])
    return train, test
