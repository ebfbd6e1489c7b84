"""Real films with an implanted finding and a confounder: the shortcut benchmark on real anatomy.

From a folder of films with lung masks and a patient table (``images/<id>.png``,
``masks/<id>.png``, ``labels.csv`` with ``id`` and ``patient``), each film gives ``variants``
variants, letterboxed to ``image_size``: a positive carries a simulated pleural effusion drawn
from the film's true lung mask (``cxrloc.data.effusion``), a negative none. The confounder is a cue
of ``cxrloc.data.cues`` (``confounder``: the synthetic set's square marker, in the upper-right
corner or inside the upper lung field, burned-in text, an acquisition style or a tube), drawn with
the probability that follows the label at ``confounder_rate`` in train, val and ``test_iid``, and
0.5 for both classes in the shifted ``test``; every variant outside the shifted test has a ceiling
copy (``images/ceiling/``) whose cue is drawn at 0.5 whatever the label. Folds take whole patients.

It writes the synthetic source's side files, so every later stage works unchanged:
``images/``, ``lesion_masks/`` (the fluid), ``markers.csv`` and ``Data_Entry.csv`` (``image``,
``label``, ``patient``, ``split``). The true lung masks only draw the finding: the method's
regions come from the project's own lung U-Net. Deterministic for a seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from ..atomic import atomic_dir
from ..config import ImplantedConfig
from ..errors import CxrlocError
from .cues import bounding_box, dumps, place
from .cues import draw as paste
from .effusion import draw, implant
from .imagecache import read_gray
from .letterbox import Letterbox
from .marker import CEILING, ceiling_name
from .marker import COLUMNS as MARKER_COLUMNS
from .synthetic import marker_probability

NEGATIVE, POSITIVE = "No Finding", "Effusion"


class FilmsError(CxrlocError, ValueError):
    pass


def read_films(root: Path) -> pd.DataFrame:
    """``id``, ``patient`` of every film of ``root/labels.csv``; a film without its image or mask, or an
    image without a row, is an error naming the file."""
    table = root / "labels.csv"
    if not table.is_file():
        raise FilmsError(f"{table} not found: a folder of films holds images/, masks/ and labels.csv (id, patient)")
    films = pd.read_csv(table, dtype=str)
    missing = {"id", "patient"} - set(films.columns)
    if missing:
        raise FilmsError(f"{table}: missing column(s) {sorted(missing)}; found {list(films.columns)}")
    for folder in ("images", "masks"):
        absent = [i for i in films["id"] if not (root / folder / f"{i}.png").is_file()]
        if absent:
            raise FilmsError(f"{root / folder}: no {absent[0]}.png (and {len(absent) - 1} more), listed in {table}")
    unlisted = sorted(set(p.stem for p in (root / "images").glob("*.png")) - set(films["id"]))
    if unlisted:
        raise FilmsError(f"{root / 'images' / unlisted[0]}.png (and {len(unlisted) - 1} more) has no row in {table}: "
                         "add its id and patient, or move it out of the folder")
    return films[["id", "patient"]]


def folds(films: pd.DataFrame, shares: dict[str, float], rng: np.random.Generator) -> pd.Series:
    """The fold of every film, by whole patients, each fold near its share of the films."""
    from .splits import assign_patients

    counts = films.groupby("patient").size().to_frame("films")
    return films["patient"].map(assign_patients(counts, shares, rng))


def variant(gray: np.ndarray, lungs: np.ndarray, positive: bool, marked: bool, cfg: ImplantedConfig,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """One variant of a letterboxed film: the image, its fluid and its cue (``cfg.confounder``, drawn
    when ``marked``). Finding and cue draw from their own streams of ``rng``: the same for a seed,
    marked or not."""
    finding_rng, cue_rng = rng.spawn(2)
    lesion = np.zeros_like(lungs)
    if positive:
        opacity, lesion = draw(lungs, finding_rng, cfg.effusion)
        gray = implant(gray, opacity)
    cue = place(cfg.confounder, cfg.marker_placement, lungs, cue_rng)
    return (paste(gray, cue) if marked else gray), lesion, cue


def _save(array: np.ndarray, path: Path) -> None:
    Image.fromarray(array).save(path)


def implant_films(root: Path, cfg: ImplantedConfig, out: Path) -> pd.DataFrame:
    """Write the variants of every film of ``root`` and their side files into ``out`` (atomically);
    returns ``Data_Entry.csv``'s table."""
    films = read_films(root)
    films["split"] = folds(films, cfg.folds, np.random.default_rng(cfg.seed))
    rows, markers = [], []
    with atomic_dir(out) as tmp:
        for sub in ("images", "lesion_masks"):
            (tmp / sub / CEILING).mkdir(parents=True)
        for i, film in enumerate(tqdm(films.itertuples(index=False), total=len(films), desc="implant", unit="film")):
            gray, mask = read_gray(root / "images" / f"{film.id}.png"), read_gray(root / "masks" / f"{film.id}.png") > 127
            if mask.shape != gray.shape or not mask.any():
                raise FilmsError(f"{root / 'masks' / f'{film.id}.png'}: empty, or not the size of its film")
            fit = Letterbox(*gray.shape, cfg.image_size)
            gray, lungs = fit.fit(gray), fit.fit(mask.astype(np.uint8) * 255) > 127
            for k in range(cfg.variants):
                rng = np.random.default_rng([cfg.seed, i, k])
                label = POSITIVE if rng.random() < cfg.positive_rate else NEGATIVE
                shifted = film.split == "test"
                name = f"{film.id}_v{k}.png"
                marked = {name: bool(rng.random() < marker_probability(label, shifted, cfg.confounder_rate))}
                copy = "" if shifted else ceiling_name(name)
                if copy:  # the ceiling's copy: the marker at the shifted test's rate, whatever the label
                    u = np.random.default_rng([cfg.seed, i, k, 1]).random()
                    marked[copy] = bool(u < marker_probability(label, True, cfg.confounder_rate))
                for image, drawn in marked.items():
                    pixels, lesion, cue = variant(gray, lungs, label == POSITIVE, drawn, cfg,
                                                  np.random.default_rng([cfg.seed, i, k]))
                    _save(pixels, tmp / "images" / image)
                    _save(lesion.astype(np.uint8) * 255, tmp / "lesion_masks" / image)
                    markers.append([image, drawn, *bounding_box(cue), copy if image == name else "", dumps(cue)])
                rows.append({"image": name, "label": label, "patient": film.patient, "split": film.split})
        table = pd.DataFrame(rows)
        table.to_csv(tmp / "Data_Entry.csv", index=False)
        pd.DataFrame(markers, columns=MARKER_COLUMNS).to_csv(tmp / "markers.csv", index=False)
    return table
