"""NLM's Montgomery set, read from a zip in its release layout."""

import zipfile

import numpy as np
from cxrloc.lungs.montgomery import montgomery
from PIL import Image


def png_bytes(array, path):
    Image.fromarray(array).save(path)
    return path.read_bytes()


def test_montgomery_merges_left_and_right_masks(tmp_path):
    img = (np.arange(64 * 64) % 255).astype(np.uint8).reshape(64, 64)
    left, right = np.zeros((64, 64), np.uint8), np.zeros((64, 64), np.uint8)
    left[10:50, 5:25], right[12:52, 40:60] = 255, 255
    archive = tmp_path / "NLM-MontgomeryCXRSet.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name in ("MCUCXR_0001_0.png", "MCUCXR_0002_1.png"):
            z.writestr(f"MontgomerySet/CXR_png/{name}", png_bytes(img, tmp_path / "i.png"))
            z.writestr(f"MontgomerySet/ManualMask/leftMask/{name}", png_bytes(left, tmp_path / "l.png"))
            z.writestr(f"MontgomerySet/ManualMask/rightMask/{name}", png_bytes(right, tmp_path / "r.png"))
    assert montgomery(archive, tmp_path / "out") == 2
    mask = np.asarray(Image.open(tmp_path / "out/masks/MCUCXR_0001_0.png")) > 0
    assert np.array_equal(mask, (left > 0) | (right > 0))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out/images/MCUCXR_0002_1.png")), img)
