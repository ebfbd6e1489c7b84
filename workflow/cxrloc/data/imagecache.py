"""Decode every image once, resize it, and keep it as one uint8 array an epoch reads as is."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from ..arrays import CacheError, load_array
from ..atomic import allocate, atomic_dir
from ..digests import folder_digest, write_sums
from ..errors import CxrlocError
from .dicom import PICTURES, is_dicom, read_dicom
from .dicom import SUFFIXES as DICOM_SUFFIXES

if TYPE_CHECKING:
    import pandas as pd


class ImageError(CxrlocError, ValueError):
    pass


# What Pillow raises for a file that is no image it can read, or one too large to decode safely (a
# decompression bomb: over twice Image.MAX_IMAGE_PIXELS).
UNREADABLE = (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError)
HIGH_BIT_DEPTH = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
FILM_SUFFIXES = {*PICTURES, *DICOM_SUFFIXES}  # what a folder of films is listed by


def to_gray8(im: Image.Image) -> Image.Image:
    """Any image as 8-bit grayscale (mode ``L``), never clipped.

    High-bit-depth images (16-bit PNGs, 32-bit integer or float) are scaled linearly from
    their own minimum–maximum range to 0–255 (a constant image becomes 0); palette images
    are expanded to their colours; an alpha channel is composited onto black (transparent
    means no signal); colour becomes luminance (ITU-R 601-2, Pillow's ``L``).
    """
    if im.mode in HIGH_BIT_DEPTH:
        a = np.asarray(im, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
        return Image.fromarray(np.rint(scaled).astype(np.uint8), "L")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        rgba = im.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        im = Image.alpha_composite(black, rgba)
    return im.convert("L")


def _open_gray(path: Path) -> Image.Image:
    """One film (a picture file or a DICOM radiograph) as an 8-bit grey image; errors name the file."""
    if is_dicom(path):
        return Image.fromarray(read_dicom(path), "L")
    try:
        with Image.open(path) as im:
            return to_gray8(im)
    except UNREADABLE as e:
        raise ImageError(f"cannot decode image {path}: {e}") from e


def decode(path: Path, size: int, resample=Image.Resampling.BILINEAR) -> tuple[np.ndarray, tuple[int, int]]:
    """One image as ``(size, size)`` uint8 and its source ``(width, height)``; errors name the file."""
    im = _open_gray(path)
    return np.asarray(im.resize((size, size), resample)), im.size


def read_gray(path: Path) -> np.ndarray:
    """One image as uint8 grayscale at its own size; errors name the file."""
    return np.asarray(_open_gray(path))


def load_gray(path: Path, size: int, resample=Image.Resampling.BILINEAR) -> np.ndarray:
    return decode(path, size, resample)[0]


def leaves_root(name: str) -> bool:
    """Whether an image path, relative to its root folder, points outside it: an absolute path,
    or one that climbs out with ``..``."""
    return os.path.isabs(name) or os.path.normpath(name).split(os.sep)[0] == os.pardir


def find_missing(images: list[str], folder: Path) -> list[str]:
    return [name for name in images if not (folder / name).exists()]


def check_present(images: list[str], folder: Path) -> None:
    """Every image lies inside ``folder`` and is there; absent ones fail with a count and a list."""
    outside = [name for name in images if leaves_root(name)]
    if outside:
        raise ImageError(f"image path {outside[0]!r} leaves the image folder {folder}: image paths are relative to it")
    missing = find_missing(images, folder)
    if missing:
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        raise ImageError(
            f"{len(missing)} image(s) listed in the splits are absent from {folder}: {shown} "
            "(set source.skip_missing_images: true in the config, or prepare-splits --skip-missing, to leave them "
            "out of the splits)"
        )


@dataclass(frozen=True)
class ImageCache:
    """``images.npy`` (N, S, S) uint8 and ``index.csv`` (image → row, source width and height);
    optional ``lesions.npy``; ``SHA256SUMS`` of them all."""

    folder: Path

    def __post_init__(self) -> None:
        missing = [n for n in ("images.npy", "index.csv") if not (Path(self.folder) / n).is_file()]
        if missing:
            raise CacheError(f"{self.folder} is no image cache (no {', '.join(missing)}): give the folder that "
                             "cache-images wrote")

    @property
    def index(self) -> pd.Series:
        import pandas as pd

        idx = pd.read_csv(self.folder / "index.csv")
        return pd.Series(idx["row"].to_numpy(), index=idx["image"])

    @property
    def sizes(self) -> pd.DataFrame:
        """Source ``width, height`` of every cached image (to scale boxes drawn on the source)."""
        import pandas as pd

        return pd.read_csv(self.folder / "index.csv", index_col="image")[["width", "height"]]

    def images(self) -> np.ndarray:
        return load_array(self.folder / "images.npy", mmap=True)

    def lesions(self) -> np.ndarray | None:
        path = self.folder / "lesions.npy"
        return load_array(path, mmap=True) if path.exists() else None

    @property
    def digest(self) -> str:
        """The cache's identity, recorded when it was written (``SHA256SUMS``)."""
        return folder_digest(self.folder)

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


def _reserved_memmap(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A writable uint8 ``.npy`` memory map whose blocks are allocated up front."""
    arr = np.lib.format.open_memmap(path, "w+", np.uint8, shape)
    allocate(path, path.stat().st_size)
    return arr


def build_cache(images: list[str], image_dir: Path, out: Path, size: int, threads: int = 1,
                lesion_dir: Path | None = None) -> ImageCache:
    import pandas as pd

    check_present(images, image_dir)
    names = sorted(set(images))
    with atomic_dir(out) as tmp:
        arr = _reserved_memmap(tmp / "images.npy", (len(names), size, size))
        sizes = _fill(arr, names, image_dir, size, Image.Resampling.BILINEAR, threads, "cache images")
        arr.flush()
        if lesion_dir is not None:
            les = _reserved_memmap(tmp / "lesions.npy", (len(names), size, size))
            _fill(les, names, lesion_dir, size, Image.Resampling.NEAREST, threads, "cache lesion masks")
            les.flush()
        width, height = zip(*sizes) if sizes else ((), ())
        pd.DataFrame({"image": names, "row": range(len(names)), "width": width, "height": height}).to_csv(
            tmp / "index.csv", index=False)
        write_sums(tmp)
    return ImageCache(out)
