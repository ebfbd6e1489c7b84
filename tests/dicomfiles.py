"""DICOM radiographs written as a modality would, for the tests: Computed Radiography objects with
12-bit stored values, optional rescale, window, VOI LUT, compression and frames."""

import numpy as np

CR = "1.2.840.10008.5.1.4.1.1.1"  # Computed Radiography Image Storage
BITS = 12


def stored(gray: np.ndarray) -> np.ndarray:
    """An 8-bit film as a detector's 12-bit stored values."""
    return np.rint(gray.astype(np.float64) * (2**BITS - 1) / 255).astype(np.uint16)


def write_dicom(path, values: np.ndarray, photometric="MONOCHROME2", syntax=None, frames=1, pixels=True, **tags):
    """Write ``values`` (12-bit stored values) as a CR object at ``path``; ``tags`` set DICOM attributes."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CR, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta, ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = meta, CR, meta.MediaStorageSOPInstanceUID, "CR"
    ds.Rows, ds.Columns = values.shape[-2:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, BITS, BITS - 1, 0
    for tag, value in tags.items():
        setattr(ds, tag, value)
    if frames > 1:
        ds.NumberOfFrames = frames
        values = np.stack([values] * frames)
    if pixels:
        ds.PixelData = values.tobytes()
        if syntax:
            ds.compress(syntax, values)
    ds.save_as(path, enforce_file_format=True)
    return path
