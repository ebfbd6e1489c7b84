"""The image cache: bad inputs are named; an epoch from the cache needs no decoding."""

import numpy as np
import pandas as pd
import pytest
from cxrloc.data.imagecache import ImageError, build_cache
from PIL import Image

from .conftest import ROOT


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


def test_absent_images_are_counted_and_listed(pngs, tmp_path):
    names = [f"{i}.png" for i in range(6)] + ["gone1.png", "gone2.png"]
    with pytest.raises(ImageError, match=r"2 image\(s\).*gone1\.png, gone2\.png.*skip_missing_images"):
        build_cache(names, pngs, tmp_path / "cache", 16)
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("name", ["../outside.png", "/etc/passwd", "a/../../outside.png"])
def test_an_image_path_leaving_the_image_folder_is_refused(pngs, tmp_path, name):
    (tmp_path / "outside.png").write_bytes((pngs / "0.png").read_bytes())
    with pytest.raises(ImageError, match=rf"image path '{name}' leaves the image folder {pngs}"):
        build_cache(["1.png", name], pngs, tmp_path / "cache", 16)
    assert not (tmp_path / "cache").exists()


def test_a_killed_cache_build_leaves_no_orphan_after_the_next_one(pngs, tmp_path):
    """A kill during the build leaves its temporary folder (``.cache.*.part``, gigabytes at NIH scale):
    the next build of that cache removes it; other folders stay."""
    import subprocess
    import sys

    script = (f"import os; from pathlib import Path; import cxrloc.data.imagecache as c; c.decode = lambda *a: os._exit(9); "
              f"c.build_cache(['0.png'], Path({str(pngs)!r}), Path({str(tmp_path / 'cache')!r}), 16)")
    assert subprocess.run([sys.executable, "-c", script]).returncode == 9
    (tmp_path / ".other.part").mkdir()
    assert [p.name for p in tmp_path.glob(".cache.*.part")], "the killed build left its temporary folder"
    build_cache(["0.png"], pngs, tmp_path / "cache", 16)
    assert not list(tmp_path.glob(".cache.*.part")) and (tmp_path / ".other.part").is_dir()


def test_a_16_bit_png_keeps_its_contrast(tmp_path):
    """Pillow's convert("L") clips 16-bit values at 255; the cache scales by the image's own range."""
    folder = tmp_path / "images"
    folder.mkdir()
    ramp = np.linspace(1000, 4000, 64 * 64).reshape(64, 64).astype(np.uint16)  # 12-bit data, as many detectors
    Image.fromarray(ramp).save(folder / "deep.png")
    assert Image.open(folder / "deep.png").mode.startswith("I")
    cached = build_cache(["deep.png"], folder, tmp_path / "cache", 64).images()[0]
    assert (cached == 255).mean() < 0.01 and cached.min() == 0 and cached.max() == 255
    assert np.abs(cached.astype(float) - (ramp - 1000) / 3000 * 255).max() <= 1


def test_palette_and_alpha_images_cache_as_their_gray(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    gray = np.random.default_rng(1).integers(0, 256, (32, 32), dtype=np.uint8)
    Image.fromarray(gray).convert("P").save(folder / "palette.png")
    rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)])
    rgba[:4, :4, 3] = 0  # a transparent corner: no signal, so black
    Image.fromarray(rgba, "RGBA").save(folder / "alpha.png")
    Image.fromarray(np.dstack([gray, np.full_like(gray, 255)]), "LA").save(folder / "la.png")
    cache = build_cache(["palette.png", "alpha.png", "la.png"], folder, tmp_path / "cache", 32)
    arr = cache.images()
    for name in ("palette.png", "la.png"):
        assert np.abs(arr[cache.rows([name])[0]].astype(int) - gray).max() <= 1, name
    alpha = arr[cache.rows(["alpha.png"])[0]]
    assert (alpha[:4, :4] == 0).all() and np.array_equal(alpha[4:, 4:], gray[4:, 4:])


def test_the_cache_digest_is_recorded_and_follows_the_content(pngs, tmp_path):
    a = build_cache(["0.png", "1.png"], pngs, tmp_path / "a", 16)
    b = build_cache(["0.png", "1.png"], pngs, tmp_path / "b", 24)
    c = build_cache(["0.png", "1.png"], pngs, tmp_path / "c", 16)
    assert (tmp_path / "a/SHA256SUMS").read_text().count("\n") == 2  # images.npy, index.csv
    assert a.digest != b.digest and a.digest == c.digest


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs: a real full disk (needs root, as in CI; skipped elsewhere)."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root): the full-disk tests need one")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_while_caching_names_the_file_and_leaves_nothing(pngs, small_disk):
    from .workflow import cxrloc

    names = [f"{i}.png" for i in range(6)]
    split = small_disk.parent / "split.csv"
    split.write_text("image\n" + "\n".join(names) + "\n")
    proc = cxrloc("cache-images", "--splits", str(split), "--images", str(pngs), "--size", "512",
                  "--out", str(small_disk / "cache"), check=False)  # 6 × 512² B = 1.5 MiB > 1 MiB
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1].startswith("cxrloc cache-images: error:")
    last = proc.stderr.strip().splitlines()[-1]
    assert str(small_disk / "cache") in last and "No space left on device" in last and "MiB free" in last
    assert list(small_disk.iterdir()) == [], "no .part folder left behind"


def test_a_full_disk_while_saving_a_checkpoint_names_the_file(small_disk):
    import torch
    from cxrloc.atomic import WriteError, save_torch

    with pytest.raises(WriteError, match=rf"cannot write {small_disk}/model\.pt: .*MiB free"):
        save_torch({"w": torch.zeros(1 << 19)}, small_disk / "model.pt")  # 2 MiB
    assert list(small_disk.iterdir()) == []


REAL = ROOT.parent / "shared/data/real-lungs"


@pytest.mark.skipif(not REAL.is_dir(), reason=f"the real radiographs are not here ({REAL})")
def test_real_radiographs_go_through_the_cache_and_the_lung_stage(study, tmp_path):
    """218 real films of every size (150–512 px, any aspect), with their human-drawn lung masks;
    also as RGBA and 16-bit copies, which must cache as the same image."""
    from cxrloc.data.imagecache import ImageCache
    from cxrloc.lungs.boxes import lung_box
    from cxrloc.lungs.lungcache import LungCache

    from .workflow import OUT, cxrloc

    names = sorted(p.name for p in (REAL / "images").glob("*.png"))
    folder = tmp_path / "images"
    folder.mkdir()
    for name in names:
        (folder / name).symlink_to(REAL / "images" / name)
    source = np.asarray(Image.open(REAL / "images" / names[0]))
    gray = np.asarray(Image.open(REAL / "images" / names[0]).convert("L"))
    Image.fromarray(np.dstack([gray] * 3 + [np.full_like(gray, 255)]), "RGBA").save(folder / "copy_rgba.png")
    stretched = (gray.astype(np.uint16) - gray.min()) * 257
    Image.fromarray(stretched.astype(np.uint16)).save(folder / "copy_16bit.png")
    split = tmp_path / "split.csv"
    pd.DataFrame({"image": names + ["copy_rgba.png", "copy_16bit.png"]}).to_csv(split, index=False)
    cxrloc("cache-images", "--splits", str(split), "--images", str(folder), "--size", "64", "--out",
           str(tmp_path / "cache"))
    cache = ImageCache(tmp_path / "cache")
    arr = cache.images()
    assert len(cache.index) == len(names) + 2 and source.ndim == 2
    assert (arr.reshape(len(arr), -1).std(axis=1) > 5).all(), "every film keeps its contrast"
    original = arr[cache.rows([names[0]])[0]].astype(int)
    assert np.abs(arr[cache.rows(["copy_rgba.png"])[0]] - original).max() <= 1
    expected = (original - gray.min()) * 255 / max(1, gray.max() - gray.min())
    assert np.abs(arr[cache.rows(["copy_16bit.png"])[0]] - expected).max() <= 3
    sizes = cache.sizes.loc[names]
    assert sizes["width"].min() < 200 and sizes["width"].max() == 512, "tiny and large sources alike"

    cxrloc("precache-masks", "--unet", str(study / OUT / "unet/unet.pt"), "--cache", str(tmp_path / "cache"),
           "--out", str(tmp_path / "lungs.npz"), "--report", str(tmp_path / "report.json"))
    lungs = LungCache.read(tmp_path / "lungs.npz")
    assert len(lungs.boxes) == len(names) + 2 and len(lungs.digest) == 64
    boxes = lungs.boxes.loc[names, ["x", "y", "w", "h"]].to_numpy()
    assert ((boxes[:, 0] + boxes[:, 2] <= 64) & (boxes[:, 1] + boxes[:, 3] <= 64)).all()
    # the human-drawn masks, at the source's own size, give a box inside the image
    for name in names[:20]:
        mask = np.asarray(Image.open(REAL / "masks" / name)) > 127
        x, y, w, h = lung_box(mask)
        assert w > 0 and h > 0 and x + w <= mask.shape[1] and y + h <= mask.shape[0], name
