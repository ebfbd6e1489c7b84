"""DICOM radiographs (``cxrloc.data.dicom``), written with pydicom as a modality would: the cached
film matches what pydicom's own display pipeline (modality LUT, then the VOI window or LUT, over
the stored range) exports as a PNG, within a grey level or two, also RLE- and JPEG 2000-compressed
and as ``MONOCHROME1``; a multi-frame or pixel-less object is an error naming the file; a class
folder of ``.dcm`` films runs through the source like PNGs."""

import re

import numpy as np
import pytest
from cxrloc.data.dicom import DicomError, is_dicom, read_dicom
from cxrloc.data.imagecache import decode, read_gray
from cxrloc.data.synthetic import draw
from PIL import Image

pydicom = pytest.importorskip("pydicom", reason="the dicom extra (pip install 'cxrloc[dicom]') is not installed")
from pydicom.dataset import Dataset  # noqa: E402
from pydicom.pixels import apply_modality_lut, apply_voi_lut  # noqa: E402
from pydicom.uid import JPEG2000Lossless, RLELossless  # noqa: E402

from .dicomfiles import BITS, stored  # noqa: E402
from .dicomfiles import write_dicom as write  # noqa: E402


def stored_film(size: int = 96) -> np.ndarray:
    """A phantom radiograph as a detector's 12-bit stored values (0 is the least dense)."""
    return stored(np.rint(draw(np.random.default_rng(7), size, ["Effusion"], 1.0, False).image * 255))


def viewer_png(dcm, out) -> np.ndarray:
    """What a viewer exports: pydicom's modality and VOI transforms, over the stored range's
    modality output, inverted for MONOCHROME1, as an 8-bit PNG."""
    ds = pydicom.dcmread(dcm)
    shown = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds)
    slope, intercept = float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0))
    lo, hi = intercept, slope * (2**BITS - 1) + intercept
    if "VOILUTSequence" in ds:
        lo, hi = 0, 2 ** int(ds.VOILUTSequence[0].LUTDescriptor[2]) - 1
    grey = np.clip((shown - lo) / (hi - lo), 0, 1)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        grey = 1 - grey
    Image.fromarray(np.rint(grey * 255).astype(np.uint8)).save(out)
    return np.asarray(Image.open(out))


WINDOW = {"RescaleSlope": 2, "RescaleIntercept": -1000, "WindowCenter": 3500, "WindowWidth": 5000}


@pytest.mark.parametrize("case, photometric, syntax, tags", [
    ("window", "MONOCHROME2", None, WINDOW),
    ("window, RLE", "MONOCHROME2", RLELossless, WINDOW),
    ("window, JPEG 2000", "MONOCHROME2", JPEG2000Lossless, WINDOW),
    ("MONOCHROME1", "MONOCHROME1", None, WINDOW),
    ("full stored range", "MONOCHROME2", None, {"RescaleSlope": 1, "RescaleIntercept": 0}),
])
def test_a_dicom_film_caches_as_the_png_a_viewer_exports(tmp_path, case, photometric, syntax, tags):
    stored = stored_film()
    if photometric == "MONOCHROME1":
        stored = (2**BITS - 1 - stored).astype(np.uint16)  # the same film, its white stored as 0
    dcm = write(tmp_path / "film.dcm", stored, photometric, syntax, **tags)
    png = viewer_png(dcm, tmp_path / "film.png")
    assert np.abs(read_dicom(dcm).astype(int) - png).max() <= 2, case
    a, _ = decode(dcm, 64)
    b, _ = decode(tmp_path / "film.png", 64)
    assert np.abs(a.astype(int) - b).max() <= 2, case


def test_a_monochrome1_film_whose_white_is_stored_as_0_reads_as_the_same_film(tmp_path):
    inverted = write(tmp_path / "m1.dcm", (2**BITS - 1 - stored_film()).astype(np.uint16), "MONOCHROME1")
    plain = write(tmp_path / "m2.dcm", stored_film())
    assert np.abs(read_dicom(inverted).astype(int) - read_dicom(plain)).max() <= 1
    assert read_dicom(plain).std() > 20


def test_a_voi_lut_is_applied_before_any_window(tmp_path):
    from pydicom.sequence import Sequence

    lut = Dataset()
    lut.add_new(0x00283002, "US", [2**BITS, 0, 16])  # LUT Descriptor: entries, first value mapped, bits
    lut.add_new(0x00283006, "US", [int(v) for v in np.rint(65535 * np.sqrt(np.arange(2**BITS) / (2**BITS - 1)))])
    dcm = write(tmp_path / "lut.dcm", stored_film(), VOILUTSequence=Sequence([lut]), WindowCenter=100, WindowWidth=10)
    png = viewer_png(dcm, tmp_path / "lut.png")
    assert np.abs(read_dicom(dcm).astype(int) - png).max() <= 2
    assert read_dicom(dcm).std() > 20, "the LUT, not the narrow window"


def test_a_dicom_without_a_suffix_is_known_by_its_mark(tmp_path):
    dcm = write(tmp_path / "IM0001", stored_film(), **WINDOW)
    assert is_dicom(dcm) and not is_dicom(tmp_path / "missing")
    assert read_gray(dcm).shape == (96, 96)


@pytest.mark.parametrize("kwargs, message", [
    ({"frames": 3}, "a multi-frame DICOM object (3 frames); one radiograph per file"),
    ({"pixels": False}, "a DICOM object without pixel data"),
])
def test_objects_that_are_no_radiograph_are_refused_naming_the_file(tmp_path, kwargs, message):
    dcm = write(tmp_path / "odd.dcm", stored_film(), **kwargs)
    with pytest.raises(DicomError, match=re.escape(message)) as err:
        read_gray(dcm)
    assert str(dcm) in str(err.value)


def test_a_class_folder_of_dicom_films_is_a_source(tmp_path):
    from cxrloc.data.imagefolder import index_imagefolder
    from cxrloc.lungs.segset import image_names
    from cxrloc.tasks import BUILTIN

    for split in ("train", "val", "test"):
        for label in ("No Finding", "Effusion"):
            folder = tmp_path / "set" / split / label
            folder.mkdir(parents=True)
            for k in range(2):
                write(folder / f"{split}{k}.dcm", stored_film(32), **WINDOW)
    table = index_imagefolder(tmp_path / "set", BUILTIN["ne"])
    assert len(table) == 12 and table["image"].str.endswith(".dcm").all()
    assert len(image_names(tmp_path / "set", recursive=True)) == 12, "predict and segment-lungs list them too"


def test_pixel_data_it_cannot_decode_names_the_file_and_the_extra(tmp_path, monkeypatch):
    dcm = write(tmp_path / "j2k.dcm", stored_film(), syntax=JPEG2000Lossless, **WINDOW)

    def no_decoder(self):
        raise RuntimeError("Unable to decompress 'JPEG 2000 Image Compression (Lossless Only)' pixel data")

    monkeypatch.setattr(Dataset, "pixel_array", property(no_decoder))
    with pytest.raises(DicomError, match=r"JPEG 2000 Image Compression \(Lossless Only\).*cxrloc\[dicom\]") as err:
        read_gray(dcm)
    assert str(dcm) in str(err.value)


def test_without_pydicom_a_dicom_film_names_the_extra(tmp_path, monkeypatch):
    import sys

    dcm = write(tmp_path / "film.dcm", stored_film(), **WINDOW)
    monkeypatch.setitem(sys.modules, "pydicom", None)
    with pytest.raises(DicomError, match=r"film.dcm is a DICOM file, and pydicom is not installed: pip install "
                                         r"'cxrloc\[dicom\]'"):
        read_gray(dcm)
