"""The implanted source's confounders (``source.implanted.confounder``), each a cue drawn the same
way at any image size, so that the source draws it on its films and the evaluation pastes it into
cue-free films at the cache's size:

- ``square``: the bright square marker (``cxrloc.data.marker``), in the corner or the upper lung;
- ``text``: a burned-in token (a laterality letter or a word such as PORTABLE) in Pillow's own
  TrueType font, of varying size and position, outside the lungs;
- ``style``: an acquisition style over the whole film (gamma, contrast, a coarse grain and a dark
  collimation border), so that the cue lies inside every region too;
- ``tube``: a drain-like line entering from the chest wall whose course ends in the lower lung,
  inside effusion's target region.

A cue is a JSON object (``kind`` and its parameters, lengths as fractions of the image side) in
the markers table's ``cue`` column. Anti-aliased cues (text, tube) are drawn at four times the
size and reduced, so that a film's cue and a cue pasted at another size agree.
"""

from __future__ import annotations

import json
import math
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..config import ConfigError

KINDS = ("square", "text", "style", "tube")
PLACEMENTS = ("corner", "lung")  # of the square
MARKER_SIZE = 0.07  # the square's side, as a fraction of the image side
MARKER_MARGIN = 0.04  # corner placement: distance from the top and right edges
TOKENS = ("L", "R", "PORTABLE", "AP", "SUPINE")
SUPERSAMPLE = 4
GRAIN = 24  # the style's grain: a GRAIN × GRAIN field, smoothly enlarged (the same at every size)


def box_slices(top: float, left: float, size: float, n: int) -> tuple[slice, slice]:
    """Rows and columns of a box (fractions of the side) in an ``n``-pixel image: every pixel
    the box touches, so that a resized image's marker lies wholly inside."""
    def span(start: float) -> slice:
        return slice(max(0, math.floor(start * n + 1e-6)), min(n, math.ceil((start + size) * n - 1e-6)))

    return span(top), span(left)


def corner_box() -> tuple[float, float, float]:
    return MARKER_MARGIN, 1 - MARKER_MARGIN - MARKER_SIZE, MARKER_SIZE


def upper_lung_square(lungs: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    """A square inside the lung mask, wholly above the middle row of the lungs' extent (the
    upper lung field: outside effusion's target region, the lower half of the lung box)."""
    from scipy import ndimage

    n = lungs.shape[0]
    k = max(1, round(MARKER_SIZE * n))
    fits = ndimage.binary_erosion(lungs, np.ones((k, k), bool), origin=(-(k // 2), -(k // 2)))  # top-left corners
    rows = np.flatnonzero(lungs.any(axis=1))
    mid = rows[0] + (rows[-1] - rows[0] + 1) // 2
    fits[mid - k + 1:] = False
    candidates = np.argwhere(fits)
    if not len(candidates):
        raise ConfigError("no place for an in-lung marker: the lungs are too small")
    r, c = candidates[rng.integers(len(candidates))]
    return r / n, c / n, k / n


def square(box: tuple[float, float, float]) -> dict:
    """The square marker of ``box`` (top, left, side) as a cue."""
    return {"kind": "square", "top": float(box[0]), "left": float(box[1]), "size": float(box[2])}


def place(kind: str, placement: str, lungs: np.ndarray, rng: np.random.Generator) -> dict:
    """An image's cue (drawn on it or not), placed from its lungs (a boolean mask)."""
    if kind == "square":
        return square(corner_box() if placement == "corner" else upper_lung_square(lungs, rng))
    if kind == "text":
        return _place_text(lungs, rng)
    if kind == "style":
        return {"kind": kind, "gamma": rng.uniform(1.5, 1.8), "contrast": rng.uniform(1.2, 1.35),
                "border": rng.uniform(0.04, 0.07), "grain": int(rng.integers(2**31))}
    if kind == "tube":
        return _place_tube(lungs, rng)
    raise ConfigError(f"source.implanted.confounder {kind!r}; valid: {', '.join(KINDS)}")


@cache
def _reference_font() -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=100)


def _text_size(token: str, height: float) -> tuple[float, float]:
    """Height and width of ``token`` in fractions of the side, for a font ``height`` of the side."""
    left, top, right, bottom = _reference_font().getbbox(token)
    return height * (bottom - top) / 100, height * (right - left) / 100


def _place_text(lungs: np.ndarray, rng: np.random.Generator) -> dict:
    """A token at a random place whose box keeps clear of the lungs (and of the film's edge)."""
    n = lungs.shape[0]
    token = str(rng.choice(TOKENS))
    height = rng.uniform(0.05, 0.09)
    h, w = _text_size(token, height)
    for _ in range(200):
        top, left = rng.uniform(0.02, 0.98 - h), rng.uniform(0.02, max(0.02, 0.98 - w))
        rows, cols = _box(top, left, h, w, n)
        if left + w <= 0.98 and not lungs[rows, cols].any():
            return {"kind": "text", "token": token, "height": height, "top": top, "left": left}
    raise ConfigError("no place for a text token outside the lungs: the lungs fill the film")


def _place_tube(lungs: np.ndarray, rng: np.random.Generator) -> dict:
    """A curve from the chest wall beside one lung's lower half to a point deep inside that half
    (its medial 60 %, away from its top and bottom), so that most of its course lies in effusion's
    target region."""
    n = lungs.shape[0]
    rows, cols = np.nonzero(lungs)
    top, bottom = rows.min(), rows.max()
    middle = top + (bottom - top + 1) // 2
    side = rng.integers(2)  # the patient's right (image left) or left lung
    own = (cols < n // 2) if side == 0 else (cols >= n // 2)
    lower = own & (rows >= middle + (bottom - middle) // 4) & (rows <= bottom - (bottom - middle) // 4)
    if not lower.any():
        raise ConfigError("no place for a tube: the lungs have no lower half on one side")
    outer, inner = (cols[own].min(), cols[own].max())[::1 if side == 0 else -1]
    deep = lower & ((cols - outer) * np.sign(inner - outer) >= 0.4 * abs(inner - outer))
    k = rng.integers(deep.sum())
    end = (rows[deep][k] / n, cols[deep][k] / n)
    wall = outer / n + rng.uniform(0.06, 0.12) * (-1 if side == 0 else 1)  # the chest wall, beside the lung
    start = (rng.uniform(middle, rows[deep][k]) / n, float(np.clip(wall, 0.01, 0.99)))  # no lower than its end
    bend = ((start[0] + end[0]) / 2 + rng.uniform(0.01, 0.04), (start[1] + end[1]) / 2)
    return {"kind": "tube", "points": [start, bend, end], "width": rng.uniform(0.012, 0.018)}


def _box(top: float, left: float, height: float, width: float, n: int) -> tuple[slice, slice]:
    rows = slice(max(0, math.floor(top * n)), min(n, math.ceil((top + height) * n)))
    return rows, slice(max(0, math.floor(left * n)), min(n, math.ceil((left + width) * n)))


def _layers(cue: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
    """How much of each pixel the cue covers (0 to 1) and the grey it covers it with, for the drawn
    cues: a white tube; white text in a dark outline, legible on any film."""
    big = n * SUPERSAMPLE
    cover, grey = Image.new("L", (big, big), 0), Image.new("L", (big, big), 0)
    if cue["kind"] == "text":
        font = ImageFont.load_default(size=max(1, round(cue["height"] * big)))
        x0, y0, _, _ = font.getbbox(cue["token"])
        at, outline = (cue["left"] * big - x0, cue["top"] * big - y0), max(1, round(cue["height"] * big / 12))
        ImageDraw.Draw(cover).text(at, cue["token"], fill=255, font=font, stroke_width=outline, stroke_fill=255)
        ImageDraw.Draw(grey).text(at, cue["token"], fill=255, font=font)
    else:
        ts = np.linspace(0, 1, 64)[:, None]
        p0, p1, p2 = (np.array(p) for p in cue["points"])
        curve = [(c * big, r * big) for r, c in (1 - ts) ** 2 * p0 + 2 * (1 - ts) * ts * p1 + ts**2 * p2]
        for canvas in (cover, grey):
            ImageDraw.Draw(canvas).line(curve, fill=255, width=max(1, round(cue["width"] * big)), joint="curve")
    alpha, value = (np.asarray(c.resize((n, n), Image.Resampling.BOX), np.float32) / 255 for c in (cover, grey))
    return alpha, 255 * np.divide(value, alpha, out=np.zeros_like(value), where=alpha > 0)


def _style(image: np.ndarray, cue: dict) -> np.ndarray:
    n = image.shape[0]
    x = (image.astype(np.float32) / 255) ** cue["gamma"]
    grain = np.random.default_rng(cue["grain"]).normal(0, 0.035, (GRAIN, GRAIN)).astype(np.float32)
    x = 0.5 + (x - 0.5) * cue["contrast"] + np.asarray(Image.fromarray(grain).resize((n, n), Image.Resampling.BILINEAR))
    x[_border(cue, n)] = 0
    return (np.clip(x, 0, 1) * 255).round().astype(np.uint8)


def _border(cue: dict, n: int) -> np.ndarray:
    band = max(1, round(cue["border"] * n))
    edge = np.zeros((n, n), bool)
    edge[:band], edge[-band:], edge[:, :band], edge[:, -band:] = True, True, True, True
    return edge


def draw(image: np.ndarray, cue: dict) -> np.ndarray:
    """The ``uint8`` square film with the cue drawn on it."""
    n = image.shape[0]
    if cue["kind"] == "style":
        return _style(image, cue)
    out = image.copy()
    if cue["kind"] == "square":
        out[box_slices(cue["top"], cue["left"], cue["size"], n)] = 255
        return out
    alpha, grey = _layers(cue, n)
    return (out * (1 - alpha) + grey * alpha).round().clip(0, 255).astype(np.uint8)


def spot(cue: dict, n: int) -> np.ndarray:
    """Where the cue lies in an ``n``-pixel film (style: everywhere)."""
    if cue["kind"] == "style":
        return np.ones((n, n), bool)
    if cue["kind"] == "square":
        found = np.zeros((n, n), bool)
        found[box_slices(cue["top"], cue["left"], cue["size"], n)] = True
        return found
    return _layers(cue, n)[0] > 0.25


def local(cue: dict) -> bool:
    """Whether the cue has a place (Grad-CAM on it means something): every kind but style."""
    return cue["kind"] != "style"


def bounding_box(cue: dict) -> tuple[float, float, float]:
    """Top, left and side of a square holding the cue, as fractions (style: the whole film)."""
    if cue["kind"] == "square":
        return cue["top"], cue["left"], cue["size"]
    if cue["kind"] == "style":
        return 0.0, 0.0, 1.0
    if cue["kind"] == "text":
        h, w = _text_size(cue["token"], cue["height"])
        return cue["top"], cue["left"], max(h, w)
    points = np.array(cue["points"])
    (top, left), (bottom, right) = points.min(0), points.max(0)
    return float(top), float(left), float(max(bottom - top, right - left))


def dumps(cue: dict) -> str:
    return json.dumps(cue, sort_keys=True, default=float)
