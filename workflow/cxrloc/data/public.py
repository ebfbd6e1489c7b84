"""The public chest X-ray sets, read from their own tables as published, into the table and test
list the study's splits are prepared from (``image, label, patient, sex, age, view``; labels as
NIH names them, joined by ``|``):

- ``chexpert`` (CheXpert v1.0, its ``train.csv`` and ``valid.csv`` under ``root``): the patient
  from the path; ``valid.csv``'s films are the official test;
- ``mimic`` (MIMIC-CXR-JPG 2.0.0, its gzipped ``mimic-cxr-2.0.0-chexpert``, ``-metadata`` and
  ``-split`` tables under ``root``, the films under ``files/``): the study's labels on each of its
  films, the patient its ``subject_id``, the official ``test`` split as the test.

Both label a finding 1 (present), 0 (absent), −1 (uncertain) or blank (not mentioned, read as
absent). ``uncertain`` says what −1 becomes: ``zeros`` (absent), ``ones`` (present) or ``drop``
(the film leaves the table when a finding that ``named`` lists is uncertain). Only frontal films
of the ``views`` kept (``PA``, ``AP``). ``Support Devices`` is no finding.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import CxrlocError

FINDINGS = {  # the sets' finding columns, by the name the project's tasks use
    "No Finding": "No Finding", "Enlarged Cardiomediastinum": "Enlarged Cardiomediastinum",
    "Cardiomegaly": "Cardiomegaly", "Lung Opacity": "Lung Opacity", "Lung Lesion": "Nodule",
    "Edema": "Edema", "Consolidation": "Consolidation", "Pneumonia": "Pneumonia", "Atelectasis": "Atelectasis",
    "Pneumothorax": "Pneumothorax", "Pleural Effusion": "Effusion", "Pleural Other": "Pleural_Thickening",
    "Fracture": "Fracture",
}
POLICIES = ("zeros", "ones", "drop")
COLUMNS = ["image", "label", "patient", "sex", "age", "view"]
MIMIC = {"labels": "mimic-cxr-2.0.0-chexpert.csv.gz", "metadata": "mimic-cxr-2.0.0-metadata.csv.gz",
         "split": "mimic-cxr-2.0.0-split.csv.gz"}


class PublicSetError(CxrlocError, ValueError):
    pass


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    """A published table, its columns checked; a missing file or column names it."""
    if not path.is_file():
        raise PublicSetError(f"{path} not found: the set's tables are read as published, under source.root")
    table = pd.read_csv(path, dtype=str)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise PublicSetError(f"{path}: missing column(s) {missing}; found {list(table.columns)}")
    return table


def labels(table: pd.DataFrame, uncertain: str, named: set[str]) -> pd.Series:
    """Each row's findings (NIH names, ``|``-joined; empty where none is present), or None for a row
    ``drop`` removes."""
    if uncertain not in POLICIES:
        raise PublicSetError(f"source.uncertain {uncertain!r}; valid: {', '.join(POLICIES)}")
    if table.empty:
        return pd.Series([], index=table.index, dtype=object)
    values = table[list(FINDINGS)].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    doubt = values == -1
    present = (values == 1) | (doubt if uncertain == "ones" else False)
    joined = present.apply(lambda row: "|".join(sorted(FINDINGS[c] for c in row.index[row])), axis=1)
    if uncertain == "drop":
        relevant = [c for c in FINDINGS if FINDINGS[c] in named]
        joined[doubt[relevant].any(axis=1)] = None
    return joined


def _check_views(found: pd.Series, views: list[str], where: str) -> None:
    """The set has films of a view asked for; one line naming the tables if of none."""
    if not set(views) & set(found.dropna()):
        raise PublicSetError(f"{where}: no film of view(s) {sorted(views)} (source.views); its views: "
                             f"{sorted(found.dropna().unique())}")


def chexpert(root: Path, uncertain: str, views: list[str], named: set[str]) -> tuple[pd.DataFrame, set[str]]:
    """The table of CheXpert's films and its official test (``valid.csv``'s films)."""
    frames, test, found = [], set(), []
    for name in ("train.csv", "valid.csv"):
        path = root / name
        table = _read(path, ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *FINDINGS])
        table = table[table["Frontal/Lateral"] == "Frontal"]
        found.append(table["AP/PA"])
        table = table[table["AP/PA"].isin(views)]
        image = table["Path"].str.split("/", n=1).str[1]  # the set's own folder is root
        patient = table["Path"].str.extract(r"(patient\d+)", expand=False)
        if patient.isna().any():
            raise PublicSetError(f"{path}: {table.loc[patient.isna(), 'Path'].iloc[0]} names no patient (patientNNNNN)")
        frame = pd.DataFrame({"image": image, "label": labels(table, uncertain, named), "patient": patient,
                              "sex": table["Sex"], "age": table["Age"], "view": table["AP/PA"]})
        frames.append(frame)
        if name == "valid.csv":
            test = set(frame["image"])
    _check_views(pd.concat(found), views, f"{root / 'train.csv'}, {root / 'valid.csv'}")
    return _kept(pd.concat(frames)), test


def mimic(root: Path, uncertain: str, views: list[str], named: set[str]) -> tuple[pd.DataFrame, set[str]]:
    """The table of MIMIC-CXR-JPG's films (each with its study's labels) and its official test."""
    study = ["subject_id", "study_id"]
    found = _read(root / MIMIC["labels"], [*study, *FINDINGS])
    meta = _read(root / MIMIC["metadata"], ["dicom_id", *study, "ViewPosition"])
    split = _read(root / MIMIC["split"], ["dicom_id", *study, "split"])
    _check_views(meta["ViewPosition"], views, str(root / MIMIC["metadata"]))
    meta = meta[meta["ViewPosition"].isin(views)]
    films = meta.merge(found.assign(label=labels(found, uncertain, named))[[*study, "label"]], on=study, how="inner")
    films = films.merge(split[["dicom_id", "split"]], on="dicom_id", how="left")
    image = ("files/p" + films["subject_id"].str[:2] + "/p" + films["subject_id"] + "/s" + films["study_id"] + "/"
             + films["dicom_id"] + ".jpg")
    table = pd.DataFrame({"image": image, "label": films["label"], "patient": films["subject_id"], "sex": None,
                          "age": None, "view": films["ViewPosition"]})
    return _kept(table), set(image[films["split"] == "test"])


def _kept(table: pd.DataFrame) -> pd.DataFrame:
    """The rows kept: those no policy dropped that name a finding (or No Finding); a film whose
    every column is blank or 0 says nothing of itself."""
    return table[table["label"].notna() & (table["label"] != "")].reset_index(drop=True)[COLUMNS]


READERS = {"chexpert": chexpert, "mimic": mimic}


def public_table(kind: str, root: Path, uncertain: str, views: list[str], named: set[str]) -> tuple[pd.DataFrame, set[str]]:
    return READERS[kind](Path(root), uncertain, views, named)
