"""NIH-style metadata (``Data_Entry_2017_v2020.csv`` and look-alikes), checked on read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import CxrlocError

REQUIRED = {"Image Index": "image", "Finding Labels": "labels", "Patient ID": "patient"}


class MetadataError(CxrlocError, ValueError):
    pass


def read_metadata(path: str | Path) -> pd.DataFrame:
    """Columns ``image``, ``labels`` (list of findings) and ``patient``; names the file on error."""
    path = Path(path)
    if not path.exists():
        raise MetadataError(f"metadata file not found: {path}")
    head = pd.read_csv(path, nrows=0)
    missing = [c for c in REQUIRED if c not in head.columns]
    if missing:
        raise MetadataError(f"{path}: missing column(s) {missing}; found {list(head.columns)}")
    df = pd.read_csv(path, usecols=list(REQUIRED)).rename(columns=REQUIRED)
    duplicated = df.loc[df["image"].duplicated(), "image"].unique().tolist()
    if duplicated:
        shown = ", ".join(duplicated[:10]) + (" …" if len(duplicated) > 10 else "")
        raise MetadataError(f"{path}: {len(duplicated)} image id(s) listed more than once ({shown}); "
                            "each image must have one row: remove the duplicates")
    df["patient"] = df["patient"].astype(str)
    df["labels"] = df["labels"].str.split("|")
    return df


def read_list(path: str | Path | None) -> set[str]:
    """Image names, one a line (NIH's ``test_list.txt`` format); empty when no path."""
    if path is None:
        return set()
    return {line.strip() for line in Path(path).read_text().splitlines() if line.strip()}
