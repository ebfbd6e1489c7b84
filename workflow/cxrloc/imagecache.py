"""Decode every image once, resize it, and keep it as one uint8 array an epoch reads as is."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from .io import atomic_dir


class ImageError(ValueError):
    pass


def decode(path: Path, size: int, resample=Image.Resampling.BILINEAR) -> tuple[np.ndarray, tuple[int, int]]:
    """One image as ``(size, size)`` uint8 and its source ``(width, height)``; errors name the file."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L").resize((size, size), resample)), im.size
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ImageError(f"cannot decode image {path}: {e}") from e


def load_gray(path: Path, size: int, resample=Image.Resampling.BILINEAR) -> np.ndarray:
    return decode(path, size, resample)[0]


def find_missing(images: list[str], folder: Path) -> list[str]:
    return [name for name in images if not (folder / name).exists()]


def check_present(images: list[str], folder: Path, skip_missing: bool) -> list[str]:
    """The images to cache; absent ones fail with a count and a list unless skipped."""
    missing = find_missing(images, folder)
    if missing and not skip_missing:
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        raise ImageError(
            f"{len(missing)} image(s) listed in the splits are absent from {folder}: {shown} "
            "(set data.skip_missing_images: true to leave them out)"
        )
    return [name for name in images if name not in set(missing)]


@dataclass(frozen=True)
class ImageCache:
    """``images.npy`` (N, S, S) uint8 and ``index.csv`` (image → row, source width and height);
    optional ``lesions.npy``."""

    folder: Path

    @property
    def index(self) -> pd.Series:
        idx = pd.read_csv(self.folder / "index.csv")
        return pd.Series(idx["row"].to_numpy(), index=idx["image"])

    @property
    def sizes(self) -> pd.DataFrame:
        """Source ``width, height`` of every cached image (to scale boxes drawn on the source)."""
        return pd.read_csv(self.folder / "index.csv", index_col="image")[["width", "height"]]

    def images(self) -> np.ndarray:
        return np.load(self.folder / "images.npy", mmap_mode="r")

    def lesions(self) -> np.ndarray | None:
        path = self.folder / "lesions.npy"
        return np.load(path, mmap_mode="r") if path.exists() else None

    def rows(self, names) -> np.ndarray:
        return self.index.loc[list(names)].to_numpy()


def _fill(array: np.ndarray, names: list[str], folder: Path, size: int, resample, threads: int,
          desc: str) -> list[tuple[int, int]]:
    """Decode ``names`` into ``array`` in threads; the source sizes, in order."""
    def one(i: int) -> tuple[int, int]:
        array[i], source_size = decode(folder / names[i], size, resample)
        return source_size

    with ThreadPoolExecutor(max(1, threads)) as pool:
        return list(tqdm(pool.map(one, range(len(names))), total=len(names), desc=desc, unit="img"))


def build_cache(
    images: list[str], image_dir: Path, out: Path, size: int, threads: int = 1,
    lesion_dir: Path | None = None, skip_missing: bool = False,
) -> ImageCache:
    names = sorted(set(check_present(images, image_dir, skip_missing)))
    with atomic_dir(out) as tmp:
        arr = np.lib.format.open_memmap(tmp / "images.npy", "w+", np.uint8, (len(names), size, size))
        sizes = _fill(arr, names, image_dir, size, Image.Resampling.BILINEAR, threads, "cache images")
        arr.flush()
        if lesion_dir is not None:
            les = np.lib.format.open_memmap(tmp / "lesions.npy", "w+", np.uint8, (len(names), size, size))
            _fill(les, names, lesion_dir, size, Image.Resampling.NEAREST, threads, "cache lesion masks")
            les.flush()
        width, height = zip(*sizes) if sizes else ((), ())
        pd.DataFrame({"image": names, "row": range(len(names)), "width": width, "height": height}).to_csv(
            tmp / "index.csv", index=False)
    return ImageCache(out)
