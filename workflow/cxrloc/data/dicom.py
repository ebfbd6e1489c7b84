"""DICOM radiographs as the 8-bit grey films every later stage reads, shown the way the file says
a viewer should show it (DICOM PS3.3 C.11): the stored values through the rescale slope and
intercept (or the modality LUT), then the first VOI LUT, else the first window (centre and
width, with its ``VOILUTFunction``), else the whole stored range; ``MONOCHROME1`` films, whose
white is 0, inverted. A multi-frame object, one without pixel data or a colour one is an error
naming the file. pydicom and its pylibjpeg decoders are the optional extra ``dicom``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CxrlocError

SUFFIXES = {".dcm", ".dicom"}
PICTURES = {".png", ".jpg", ".jpeg"}
EXTRA = "pip install 'cxrloc[dicom]'"


class DicomError(CxrlocError, ValueError):
    pass


def is_dicom(path: Path) -> bool:
    """A ``.dcm``/``.dicom`` file, or a file of no picture suffix with DICOM's ``DICM`` mark after
    its preamble (picture files are never opened here: the cache reads them once)."""
    suffix = Path(path).suffix.lower()
    if suffix in SUFFIXES or suffix in PICTURES:
        return suffix in SUFFIXES
    try:
        with open(path, "rb") as f:
            return f.read(132)[128:] == b"DICM"
    except OSError:
        return False


def _dataset(path: Path):
    try:
        import pydicom
        from pydicom.errors import InvalidDicomError
    except ImportError as e:
        raise DicomError(f"{path} is a DICOM file, and pydicom is not installed: {EXTRA}") from e
    try:
        return pydicom.dcmread(path)
    except (InvalidDicomError, OSError, EOFError, ValueError) as e:
        raise DicomError(f"cannot read DICOM file {path}: {e}") from e


def _pixels(ds, path: Path) -> np.ndarray:
    """The stored values of a one-frame grey radiograph."""
    if "PixelData" not in ds:
        raise DicomError(f"{path}: a DICOM object without pixel data ({ds.get('Modality', 'no modality')}, "
                         f"{getattr(ds.get('SOPClassUID'), 'name', 'no SOP class')}): not a radiograph")
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        raise DicomError(f"{path}: a multi-frame DICOM object ({ds.NumberOfFrames} frames); one radiograph per file")
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise DicomError(f"{path}: a colour DICOM object ({ds.get('PhotometricInterpretation')}); radiographs are grey")
    try:
        return ds.pixel_array
    except (NotImplementedError, RuntimeError, ValueError) as e:
        syntax = ds.file_meta.get("TransferSyntaxUID")
        raise DicomError(f"{path}: cannot decode its pixel data ({getattr(syntax, 'name', syntax)}): {e}; the JPEG "
                         f"decoders come with the extra ({EXTRA})") from e


def _first(value) -> float:
    """A value, or the first of several (the file's first view)."""
    from pydicom.multival import MultiValue

    return float(value[0] if isinstance(value, MultiValue) else value)


def _window(values: np.ndarray, ds) -> np.ndarray:
    """The first window of the file on ``values`` (modality output), as 0–1 (PS3.3 C.11.2.1.2)."""
    centre, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
    function = str(ds.get("VOILUTFunction", "LINEAR")).upper()
    if function == "SIGMOID":
        return 1 / (1 + np.exp(-4 * (values - centre) / width))
    if function == "LINEAR_EXACT":
        return np.clip((values - centre) / width + 0.5, 0, 1)
    return np.clip((values - (centre - 0.5)) / (max(width, 1) - 1) + 0.5, 0, 1)


def _stored_range(ds) -> np.ndarray:
    """The lowest and highest value the file can store, through its modality transform."""
    from pydicom.pixels import apply_modality_lut

    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)))
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    ends = np.array([-(2 ** (bits - 1)), 2 ** (bits - 1) - 1] if signed else [0, 2**bits - 1])
    return np.sort(apply_modality_lut(ends, ds).astype(np.float64))


def read_dicom(path: Path) -> np.ndarray:
    """A DICOM radiograph as uint8 grey at its own size, as the file says to display it."""
    from pydicom.pixels import apply_modality_lut, apply_voi

    path = Path(path)
    ds = _dataset(path)
    values = apply_modality_lut(_pixels(ds, path), ds).astype(np.float64)
    if "VOILUTSequence" in ds:
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        shown = apply_voi(np.rint(values).astype(np.int64), ds).astype(np.float64) / (2**bits - 1)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        shown = _window(values, ds)
    else:
        lo, hi = _stored_range(ds)
        shown = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
    if str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper() == "MONOCHROME1":
        shown = 1 - shown
    return np.rint(np.clip(shown, 0, 1) * 255).astype(np.uint8)
