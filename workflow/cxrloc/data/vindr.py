"""VinDr-CXR as an external set with radiologist boxes: its annotation table as published
(``image_id``, ``class_name``, the reader ``rad_id`` where the table has one, and the box
``x_min, y_min, x_max, y_max`` in the DICOM's stored pixels; a ``No finding`` row has no box), the
films ``<root>/<image_id>.dicom``. An image holds every finding any reader marked (``No finding``
only where no reader marked one); its boxes of the task's findings, every reader's, are united into
the localization set, scored as NIH's boxes are. The set has no patient ids: each image is its own.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import CxrlocError
from ..tasks import Task

NO_FINDING = "No finding"
FINDINGS = {  # VinDr's class names that the project's tasks name otherwise (NIH's names)
    NO_FINDING: "No Finding", "Pleural effusion": "Effusion", "Pneumothorax": "Pneumothorax",
    "Cardiomegaly": "Cardiomegaly", "Atelectasis": "Atelectasis", "Consolidation": "Consolidation",
    "Infiltration": "Infiltration", "Pleural thickening": "Pleural_Thickening", "Pulmonary fibrosis": "Fibrosis",
}
COLUMNS = ["image_id", "class_name", "x_min", "y_min", "x_max", "y_max"]
SUFFIX = ".dicom"


class VinDrError(CxrlocError, ValueError):
    pass


def read_annotations(path: Path) -> pd.DataFrame:
    """The annotation table, its columns checked, findings under the project's names (``finding``) and
    boxes as ``x, y, w, h``; a missing file or column, or a finding's row without a valid box, names it."""
    if not Path(path).is_file():
        raise VinDrError(f"{path} not found: external.<set>.table names VinDr-CXR's annotation table")
    table = pd.read_csv(path, dtype={"image_id": str, "class_name": str})
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise VinDrError(f"{path}: missing column(s) {missing}; found {list(table.columns)}")
    table["finding"] = table["class_name"].map(lambda name: FINDINGS.get(name, name))
    boxed = table[table["class_name"] != NO_FINDING]
    bad = boxed[boxed[COLUMNS[2:]].isna().any(axis=1) | (boxed["x_max"] <= boxed["x_min"])
                | (boxed["y_max"] <= boxed["y_min"])]
    if len(bad):
        row = bad.iloc[0]
        raise VinDrError(f"{path}: image {row['image_id']}'s {row['class_name']} has no valid box "
                         f"({', '.join(f'{c} {row[c]}' for c in COLUMNS[2:])}; and {len(bad) - 1} more)")
    return table.assign(x=table["x_min"], y=table["y_min"], w=table["x_max"] - table["x_min"],
                        h=table["y_max"] - table["y_min"], image=table["image_id"] + SUFFIX)


def image_labels(annotations: pd.DataFrame) -> pd.DataFrame:
    """One row per image: ``image``, ``labels`` (the findings any reader marked; No Finding only where
    none did) and ``patient`` (the image itself)."""
    def findings(marked: pd.Series) -> list[str]:
        found = sorted(set(marked) - {FINDINGS[NO_FINDING]})
        return found or [FINDINGS[NO_FINDING]]

    labels = annotations.groupby("image")["finding"].apply(findings)
    return pd.DataFrame({"image": labels.index, "labels": labels.to_numpy(), "patient": labels.index})


def boxes(annotations: pd.DataFrame, task: Task) -> pd.DataFrame:
    """Every reader's box of the task's findings: ``image, finding, x, y, w, h`` (stored pixels)."""
    part = annotations[annotations["finding"].isin(task.positives)]
    return part[["image", "finding", "x", "y", "w", "h"]].reset_index(drop=True)
