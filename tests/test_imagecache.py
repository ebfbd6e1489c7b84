"""The image cache: bad inputs are named; an epoch from the cache needs no decoding."""

import numpy as np
import pytest
from PIL import Image

from cxrloc.imagecache import ImageError, build_cache


@pytest.fixture
def pngs(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (40, 50), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_cache_holds_resized_uint8_images_and_an_index(pngs, tmp_path):
    cache = build_cache([f"{i}.png" for i in range(6)], pngs, tmp_path / "cache", 16)
    arr = cache.images()
    assert arr.shape == (6, 16, 16) and arr.dtype == np.uint8
    want = np.asarray(Image.open(pngs / "3.png").convert("L").resize((16, 16), Image.Resampling.BILINEAR))
    assert np.array_equal(arr[cache.rows(["3.png"])[0]], want)


def test_truncated_png_is_named(pngs, tmp_path):
    data = (pngs / "2.png").read_bytes()
    (pngs / "2.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"2\.png"):
        build_cache([f"{i}.png" for i in range(6)], pngs, tmp_path / "cache", 16)
    assert not (tmp_path / "cache").exists(), "nothing half-written"


def test_absent_images_are_counted_and_listed_or_skipped(pngs, tmp_path):
    names = [f"{i}.png" for i in range(6)] + ["gone1.png", "gone2.png"]
    with pytest.raises(ImageError, match=r"2 image\(s\).*gone1\.png, gone2\.png"):
        build_cache(names, pngs, tmp_path / "cache", 16)
    cache = build_cache(names, pngs, tmp_path / "cache", 16, skip_missing=True)
    assert len(cache.index) == 6
