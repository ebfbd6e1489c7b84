"""NIH-style metadata (``Data_Entry_2017_v2020.csv`` and look-alikes), checked on read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..config import schema
from ..errors import CxrlocError
from .imagecache import find_missing, leaves_root

NIH_COLUMNS = [  # Data_Entry_2017_v2020.csv's header, in its order
    "Image Index",
    "Finding Labels",
    "Follow-up #",
    "Patient ID",
    "Patient Age",
    "Patient Gender",
    "View Position",
    "OriginalImage[Width",
    "Height]",
    "OriginalImagePixelSpacing[x",
    "y]",
]
NIH_ROLES = {"image": "Image Index", "labels": "Finding Labels", "patient": "Patient ID"}  # what cxrloc reads of it
NIH_GROUPS = {"sex": "Patient Gender", "age": "Patient Age", "view": "View Position"}  # for subgroup tables, if there
GROUPS = tuple(NIH_GROUPS)


class MetadataError(CxrlocError, ValueError):
    pass


def _csv_columns() -> dict[str, str | None]:
    """A csv source's column names where ``source.columns`` is silent: the schema's defaults."""
    node = schema()["properties"]["source"]["properties"]["columns"]["properties"]
    return {role: spec["default"] for role, spec in node.items()}


def read_metadata(path: str | Path, columns: dict[str, str | None] | None = None, separator: str = "|",
                  key: str = "source") -> pd.DataFrame:
    """Columns ``image``, ``labels`` (list of findings), ``patient`` and, where the table has
    them, ``split`` and the subgroup columns ``sex``, ``age`` and ``view``. ``columns`` maps those
    names to the table's: None reads NIH's Data_Entry layout (its subgroup columns where present),
    a mapping a csv source's (the schema's ``source.columns`` defaults where it is silent). Names
    the file on error, and the table's config section ``key`` (``source``, ``external.<set>``)."""
    path = Path(path)
    if not path.exists():
        raise MetadataError(f"metadata file not found: {path}")
    head = pd.read_csv(path, nrows=0)
    if columns is None:
        columns = {**NIH_ROLES, **{k: v for k, v in NIH_GROUPS.items() if v in head.columns}}
    else:
        columns = {k: v for k, v in {**_csv_columns(), **columns}.items() if v}
    missing = [c for c in columns.values() if c not in head.columns]
    if missing:
        raise MetadataError(f"{path}: missing column(s) {missing}; found {list(head.columns)} "
                            f"({key}.columns maps image, labels, patient and split to the table's names)")
    df = pd.read_csv(path, usecols=list(columns.values()), dtype=str).rename(columns={v: k for k, v in columns.items()})
    duplicated = df.loc[df["image"].duplicated(), "image"].unique().tolist()
    if duplicated:
        shown = ", ".join(duplicated[:10]) + (" …" if len(duplicated) > 10 else "")
        raise MetadataError(f"{path}: {len(duplicated)} image id(s) listed more than once ({shown}); "
                            "each image must have one row: remove the duplicates")
    empty = df[["image", "labels", "patient"]].isna().any(axis=1)
    if empty.any():
        raise MetadataError(f"{path}: {int(empty.sum())} row(s) without an image, label or patient "
                            f"(first: row {int(empty.idxmax()) + 2} of the file)")
    outside = df["image"].map(leaves_root)
    if outside.any():
        row = int(outside.idxmax())
        raise MetadataError(f"{path}: row {row + 2} of the file: image path {df.loc[row, 'image']!r} leaves the image "
                            f"folder (an absolute path or '..'): image paths are relative to {key}.root")
    df["labels"] = df["labels"].str.split(separator, regex=False)
    return df


def split_present(meta: pd.DataFrame, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows whose image is in ``folder``, and those whose image is absent."""
    absent = meta["image"].isin(find_missing(meta["image"].tolist(), folder))
    return meta[~absent], meta[absent]


def read_list(path: str | Path | None) -> set[str]:
    """Image names, one a line (NIH's ``test_list.txt`` format); empty when no path."""
    if path is None:
        return set()
    return {line.strip() for line in Path(path).read_text().splitlines() if line.strip()}
