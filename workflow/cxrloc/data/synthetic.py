"""Synthetic frontal chest radiographs with true lung and lesion masks.

Hand-written because no library draws chest anatomy with ground-truth masks: each
image is composed from analytic shapes (lungs, heart, mediastinum, ribs, clavicles,
soft tissue) on a pixel grid, then a finding is drawn into it and recorded as a mask.
The metadata CSV has the columns of NIH's ``Data_Entry_2017_v2020.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage
from tqdm import tqdm

from ..atomic import atomic_dir, atomic_write_text
from ..config import ConfigError, SyntheticConfig
from .cues import PLACEMENTS, box_slices, corner_box, dumps, square, upper_lung_square
from .marker import CEILING, ceiling_name
from .marker import COLUMNS as MARKER_COLUMNS
from .metadata import NIH_COLUMNS

FINDINGS = ("No Finding", "Effusion", "Pneumothorax", "Subcutaneous Emphysema", "Cardiomegaly")


@dataclass
class Radiograph:
    image: np.ndarray  # float32 in [0, 1]
    lungs: np.ndarray  # bool
    lesion: np.ndarray  # bool
    marker: bool
    marker_box: tuple[float, float, float]  # top, left, size as fractions of the side (drawn or not)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalized coordinates in [0, 1): x grows right, y grows down."""
    c = (np.arange(size, dtype=np.float32) + 0.5) / size
    return np.meshgrid(c, c)


def _ellipse(x, y, cx, cy, rx, ry, tilt=0.0, wobble=None) -> np.ndarray:
    """Filled, tilted ellipse; ``wobble`` adds low-frequency harmonics to its radius."""
    dx, dy = x - cx, y - cy
    ct, st = np.cos(tilt), np.sin(tilt)
    u, v = (ct * dx + st * dy) / rx, (-st * dx + ct * dy) / ry
    r = np.hypot(u, v)
    limit = 1.0
    if wobble is not None:
        theta = np.arctan2(v, u)
        limit = 1.0 + sum(a * np.cos(k * theta + p) for k, (a, p) in enumerate(wobble, start=2))
    return r < limit


def _smooth_noise(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    n = ndimage.gaussian_filter(rng.standard_normal((size, size)).astype(np.float32), sigma)
    return n / (n.std() + 1e-8)


class Anatomy:
    """One patient's random anatomy; draws the normal chest and its lung mask."""

    def __init__(self, rng: np.random.Generator, size: int):
        self.rng, self.size = rng, size
        self.x, self.y = _grid(size)
        self.cy = rng.uniform(0.45, 0.52)
        self.half_gap = rng.uniform(0.04, 0.07)
        self.lung_rx = rng.uniform(0.13, 0.17)
        self.lung_ry = rng.uniform(0.26, 0.32)
        self.tilts = rng.uniform(0.0, 0.18, 2)
        self.heart_scale = 1.0

    def lung(self, side: int) -> np.ndarray:
        """side -1: image-left lung (patient's right), +1: image-right lung."""
        cx = 0.5 + side * (self.half_gap + self.lung_rx)
        wobble = [(self.rng.uniform(0, 0.06), self.rng.uniform(0, 2 * np.pi)) for _ in range(3)]
        return _ellipse(self.x, self.y, cx, self.cy, self.lung_rx, self.lung_ry, side * self.tilts[0], wobble)

    def heart(self) -> np.ndarray:
        s = self.heart_scale
        return _ellipse(self.x, self.y, 0.53, self.cy + 0.17, 0.12 * s, 0.09 * s, -0.35)

    def draw(self) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        rng, x, y = self.rng, self.x, self.y
        body = _ellipse(x, y, 0.5, 0.55, rng.uniform(0.40, 0.46), 0.6)
        img = np.where(body, 0.55, 0.06).astype(np.float32)
        lungs = [self.lung(-1), self.lung(+1)]
        heart = self.heart()
        lungs = [lung & ~heart for lung in lungs]
        both = lungs[0] | lungs[1]
        img = np.where(both, 0.22, img)
        self.markings = 0.035 * _smooth_noise(rng, self.size, self.size / 90)
        img = img + both * self.markings
        mediastinum = (np.abs(x - 0.5) < self.half_gap + 0.01) & (y > 0.12) & (y < self.cy + 0.3)
        img = np.where(mediastinum & ~both, 0.7, img)
        img = np.where(heart, 0.72, img)
        img += self._ribs() * body
        img += self._clavicles()
        return img, both, lungs

    def _ribs(self) -> np.ndarray:
        rng, x, y = self.rng, self.x, self.y
        out = np.zeros_like(x)
        spacing = self.lung_ry * 2 / 9
        top = self.cy - self.lung_ry
        for k in range(10):
            for side in (-1, 1):
                x0 = 0.5 + side * self.half_gap
                curve = top + k * spacing + 0.9 * (x - x0) ** 2 + 0.08 * np.abs(x - x0)
                band = np.exp(-(((y - curve) / (0.18 * spacing)) ** 2))
                lateral = (side * (x - x0) > 0) & (np.abs(x - 0.5) < 0.45)
                out += 0.07 * band * lateral
        return out * rng.uniform(0.8, 1.2)

    def _clavicles(self) -> np.ndarray:
        x, y = self.x, self.y
        out = np.zeros_like(x)
        for side in (-1, 1):
            y0 = self.cy - self.lung_ry + 0.03 - 0.12 * side * (x - 0.5) * -side
            along = (side * (x - 0.5) > 0.02) & (side * (x - 0.5) < 0.33)
            out += 0.18 * np.exp(-(((y - y0) / 0.012) ** 2)) * along
        return out


def _effusion(anat: Anatomy, img, lungs, contrast, rng) -> np.ndarray:
    """Basal opacity with a meniscus rising laterally; blunts the costophrenic angle."""
    sides = [0, 1] if rng.random() < 0.3 else [int(rng.integers(2))]
    lesion = np.zeros_like(img, dtype=bool)
    for s in sides:
        lung = lungs[s]
        rows = np.where(lung.any(axis=1))[0]
        cols = np.where(lung.any(axis=0))[0]
        bottom, height = rows.max() / anat.size, (rows.max() - rows.min()) / anat.size
        lateral = (cols.min() if s == 0 else cols.max()) / anat.size
        level = bottom - rng.uniform(0.15, 0.4) * height
        meniscus = level - 1.6 * (0.2 - np.abs(anat.x - lateral)).clip(0) ** 2 * 8
        lesion |= lung & (anat.y > meniscus)
    soft = ndimage.gaussian_filter(lesion.astype(np.float32), 1.0)
    img += contrast * 0.38 * soft
    return lesion


def _pneumothorax(anat: Anatomy, img, lungs, contrast, rng) -> np.ndarray:
    """Apical/lateral rim without lung markings, bounded by a thin visceral pleural line."""
    lung = lungs[int(rng.integers(2))]
    depth = rng.uniform(0.025, 0.06) * anat.size
    inside = ndimage.distance_transform_edt(lung)
    rows = np.where(lung.any(axis=1))[0]
    mid = (rows.min() + rng.uniform(0.45, 0.7) * (rows.max() - rows.min())) / anat.size
    lesion = lung & (inside < depth) & (anat.y < mid)
    pleura = lung & (inside >= depth) & (inside < depth + 1) & (anat.y < mid)
    img[lesion] -= anat.markings[lesion] + contrast * 0.1
    img[pleura] += contrast * 0.22
    return lesion


def _subcutaneous_emphysema(anat: Anatomy, img, lungs, contrast, rng) -> np.ndarray:
    """Streaky lucencies in the lateral chest-wall soft tissue, outside the lungs."""
    both = lungs[0] | lungs[1]
    wall = (img > 0.4) & ~ndimage.binary_dilation(both, iterations=2) & (np.abs(anat.x - 0.5) > 0.3)
    streaks = np.zeros_like(both)
    for _ in range(int(rng.integers(8, 16))):
        side = rng.choice([-1, 1])
        cx, cy = 0.5 + side * rng.uniform(0.33, 0.42), rng.uniform(0.25, 0.8)
        angle, length = rng.uniform(-0.6, 0.6) + np.pi / 2, rng.uniform(0.05, 0.14)
        t = np.linspace(-length / 2, length / 2, 4 * anat.size)
        px = np.clip(((cx + t * np.cos(angle)) * anat.size).astype(int), 0, anat.size - 1)
        py = np.clip(((cy + t * np.sin(angle)) * anat.size).astype(int), 0, anat.size - 1)
        streaks[py, px] = True
    lesion = ndimage.binary_dilation(streaks) & wall
    img[lesion] -= contrast * 0.3
    return lesion


def _cardiomegaly(anat: Anatomy, img, lungs, contrast, rng) -> np.ndarray:
    return anat.heart()


DRAW_FINDING = {
    "Effusion": _effusion,
    "Pneumothorax": _pneumothorax,
    "Subcutaneous Emphysema": _subcutaneous_emphysema,
    "Cardiomegaly": _cardiomegaly,
}


def draw(rng: np.random.Generator, size: int, findings: list[str], contrast: float, marker: bool,
         placement: str = "corner") -> Radiograph:
    """One radiograph of a fresh anatomy with the given findings drawn in.

    Anatomy, findings and exposure draw from independent streams of ``rng``, so one seed
    gives the same patient and exposure with or without a finding.
    """
    anatomy_rng, finding_rng, exposure_rng, marker_rng = rng.spawn(4)
    anat = Anatomy(anatomy_rng, size)
    if "Cardiomegaly" in findings:
        anat.heart_scale = finding_rng.uniform(1.35, 1.6)
    img, lungs_mask, lungs = anat.draw()
    lesion = np.zeros_like(lungs_mask)
    for name in findings:
        if name in DRAW_FINDING:
            lesion |= DRAW_FINDING[name](anat, img, lungs, contrast, finding_rng)
    gamma = exposure_rng.uniform(0.8, 1.25)
    img = np.clip(img, 0, 1) ** gamma * exposure_rng.uniform(0.85, 1.1)
    img += exposure_rng.normal(0, 0.02, img.shape).astype(np.float32)
    if placement not in PLACEMENTS:
        raise ConfigError(f"source.synthetic.marker_placement {placement!r}; valid: {', '.join(PLACEMENTS)}")
    box = corner_box() if placement == "corner" else upper_lung_square(lungs_mask, marker_rng)
    if marker:
        img[box_slices(*box, size)] = 1.0
    return Radiograph(np.clip(img, 0, 1).astype(np.float32), lungs_mask, lesion, marker, box)


def _patient_labels(cfg: SyntheticConfig, rng: np.random.Generator, n_images: int) -> list[str]:
    """Finding labels of one patient's images: mostly their condition, sometimes normal."""
    names = list(cfg.finding_weights)
    p = np.array([cfg.finding_weights[n] for n in names], dtype=float)
    base = names[rng.choice(len(names), p=p / p.sum())]
    labels = []
    for _ in range(n_images):
        label = base if rng.random() < 0.85 else "No Finding"
        if label != "No Finding" and rng.random() < cfg.multi_label_rate:
            other = rng.choice([n for n in DRAW_FINDING if n != label])
            label = "|".join(sorted([label, str(other)]))
        labels.append(label)
    return labels


def marker_probability(label: str, shifted: bool, rate: float | None) -> float:
    """P(marker): follows the label with probability ``rate``; 0.5 in the shifted cohort."""
    if rate is None:
        return 0.0
    if shifted:
        return 0.5
    return rate if label != "No Finding" else 1.0 - rate


def _radiograph(cfg: SyntheticConfig, i: int, findings: list[str], marker: bool) -> Radiograph:
    """Image ``i`` of the cohort: its patient, findings and exposure, with or without the marker."""
    return draw(np.random.default_rng([cfg.seed, i]), cfg.image_size, findings, cfg.lesion_contrast, marker,
                cfg.marker_placement)


def ceiling_marker(cfg: SyntheticConfig, i: int) -> bool:
    """Whether image ``i``'s ceiling copy carries the marker: drawn at the shifted cohort's rate,
    independently of the label, from a stream of its own."""
    return bool(np.random.default_rng([cfg.seed, i, 1]).random() < marker_probability("", True, cfg.confounder_rate))


def metadata(cfg: SyntheticConfig) -> pd.DataFrame:
    """The cohort: one row per image in NIH's columns, plus ``shifted`` and ``marker``."""
    rng = np.random.default_rng(cfg.seed)
    rows = []
    for pid in range(1, cfg.patients + 1):
        n = int(rng.integers(1, cfg.max_images_per_patient + 1))
        shifted = bool(rng.random() < cfg.shifted_fraction)
        age, sex = int(rng.integers(18, 90)), str(rng.choice(["M", "F"]))
        for k, label in enumerate(_patient_labels(cfg, rng, n)):
            marker = bool(rng.random() < marker_probability(label, shifted, cfg.confounder_rate))
            rows.append([f"{pid:08d}_{k:03d}.png", label, k, pid, age + k, sex, "PA",
                         cfg.image_size, cfg.image_size, 0.143, 0.143, shifted, marker])
    return pd.DataFrame(rows, columns=NIH_COLUMNS + ["shifted", "marker"])


def _save_png(path: Path, array: np.ndarray) -> None:
    Image.fromarray(array).save(path)


def synthesize(cfg: SyntheticConfig, out: Path) -> pd.DataFrame:
    """Write images/ (the ceiling copies in images/ceiling/), lung_masks/, lesion_masks/, Data_Entry.csv, markers.csv
    and test_list.txt under ``out``."""
    meta = metadata(cfg)
    with atomic_dir(out) as tmp:
        for sub in ("images", "lung_masks", "lesion_masks"):
            (tmp / sub).mkdir()
        for sub in ("images", "lesion_masks"):
            (tmp / sub / CEILING).mkdir()
        markers = []
        for i, row in enumerate(tqdm(meta.itertuples(index=False), total=len(meta), desc="synthesize", unit="img")):
            findings, name = row[1].split("|"), row[0]
            films = {name: _radiograph(cfg, i, findings, bool(row.marker))}
            _save_png(tmp / "lung_masks" / name, films[name].lungs.astype(np.uint8) * 255)
            copy = "" if row.shifted or cfg.confounder_rate is None else ceiling_name(name)
            if copy:
                films[copy] = _radiograph(cfg, i, findings, ceiling_marker(cfg, i))
            for image, r in films.items():
                _save_png(tmp / "images" / image, (r.image * 255).round().astype(np.uint8))
                _save_png(tmp / "lesion_masks" / image, r.lesion.astype(np.uint8) * 255)
                markers.append([image, r.marker, *r.marker_box, copy if image == name else "", dumps(square(r.marker_box))])
        meta[NIH_COLUMNS].to_csv(tmp / "Data_Entry.csv", index=False)
        pd.DataFrame(markers, columns=MARKER_COLUMNS).to_csv(tmp / "markers.csv", index=False)
        shifted = meta.loc[meta["shifted"], "Image Index"]
        atomic_write_text(tmp / "test_list.txt", "".join(f"{n}\n" for n in shifted))
    return meta
