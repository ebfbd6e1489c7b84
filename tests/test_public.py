"""The public sets read from their own tables (``cxrloc.data.public``): small tables with CheXpert's
and MIMIC-CXR-JPG's exact headers and value conventions (1, 0, −1, blank; frontal and lateral
films; gzipped MIMIC tables), each uncertain-label policy, the views kept, the patients and the
official test; a table missing a column or a view is one line naming the file."""

import gzip

import pandas as pd
import pytest
from cxrloc.data.public import FINDINGS, PublicSetError, public_table

CHEXPERT_HEADER = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", "No Finding", "Enlarged Cardiomediastinum",
                   "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema", "Consolidation", "Pneumonia", "Atelectasis",
                   "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture", "Support Devices"]
MIMIC_FINDINGS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged Cardiomediastinum", "Fracture",
                  "Lung Lesion", "Lung Opacity", "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia",
                  "Pneumothorax", "Support Devices"]


def chexpert_row(path, view="PA", frontal="Frontal", **findings):
    row = dict.fromkeys(CHEXPERT_HEADER, "")
    row.update({"Path": f"CheXpert-v1.0-small/{path}", "Sex": "Female", "Age": "61", "Frontal/Lateral": frontal,
                "AP/PA": view if frontal == "Frontal" else ""})
    row.update({k.replace("_", " "): v for k, v in findings.items()})
    return row


@pytest.fixture
def chexpert(tmp_path):
    root = tmp_path / "CheXpert-v1.0-small"
    root.mkdir()
    train = [
        chexpert_row("train/patient00001/study1/view1_frontal.jpg", **{"No_Finding": "1.0"}),
        chexpert_row("train/patient00001/study1/view2_lateral.jpg", frontal="Lateral", **{"No_Finding": "1.0"}),
        chexpert_row("train/patient00002/study1/view1_frontal.jpg", "AP", **{"Pleural_Effusion": "1.0",
                                                                             "Support_Devices": "1.0"}),
        chexpert_row("train/patient00003/study2/view1_frontal.jpg", **{"Pleural_Effusion": "-1.0",
                                                                       "Cardiomegaly": "0.0"}),
        chexpert_row("train/patient00004/study1/view1_frontal.jpg", **{"Pneumothorax": "1.0", "Edema": "-1.0"}),
        chexpert_row("train/patient00005/study1/view1_frontal.jpg", **{"Cardiomegaly": "0.0"}),
    ]
    valid = [chexpert_row("valid/patient64541/study1/view1_frontal.jpg", **{"Pleural_Effusion": "1.0"})]
    pd.DataFrame(train, columns=CHEXPERT_HEADER).to_csv(root / "train.csv", index=False)
    pd.DataFrame(valid, columns=CHEXPERT_HEADER).to_csv(root / "valid.csv", index=False)
    return root


def labelled(table):
    return dict(zip(table["image"].str.extract(r"(patient\d+)", expand=False), table["label"]))


def test_chexpert_frontal_films_with_their_findings_and_the_valid_set_as_test(chexpert):
    table, test = public_table("chexpert", chexpert, "zeros", ["PA", "AP"], {"Effusion"})
    assert labelled(table) == {"patient00001": "No Finding", "patient00002": "Effusion", "patient00004": "Pneumothorax",
                               "patient64541": "Effusion"}, "laterals, devices, blanks and zeros leave no finding"
    assert table["image"].iloc[0] == "train/patient00001/study1/view1_frontal.jpg", "paths under the set's folder"
    assert test == {"valid/patient64541/study1/view1_frontal.jpg"}
    assert list(table.columns) == ["image", "label", "patient", "sex", "age", "view"]
    assert set(table["view"]) == {"PA", "AP"} and (table["sex"] == "Female").all()


def test_uncertain_findings_as_ones_or_dropped_where_a_task_names_them(chexpert):
    ones, _ = public_table("chexpert", chexpert, "ones", ["PA", "AP"], {"Effusion"})
    assert labelled(ones)["patient00003"] == "Effusion" and labelled(ones)["patient00004"] == "Edema|Pneumothorax"
    dropped, _ = public_table("chexpert", chexpert, "drop", ["PA", "AP"], {"Effusion", "Pneumothorax"})
    assert "patient00003" not in labelled(dropped), "its effusion is uncertain"
    assert labelled(dropped)["patient00004"] == "Pneumothorax", "an uncertain edema no task names stays"


def test_the_views_kept(chexpert):
    table, _ = public_table("chexpert", chexpert, "zeros", ["PA"], set())
    assert set(table["view"]) == {"PA"} and "patient00002" not in labelled(table)


def write_gz(path, frame):
    with gzip.open(path, "wt") as f:
        frame.to_csv(f, index=False)


def test_mimic_study_labels_on_each_frontal_film_and_the_official_test(tmp_path):
    labels = pd.DataFrame([{"subject_id": "10000032", "study_id": "50414267", "No Finding": "1.0"},
                           {"subject_id": "10000764", "study_id": "57375967", "Pleural Effusion": "1.0",
                            "Pneumothorax": "-1.0"}], columns=["subject_id", "study_id", *MIMIC_FINDINGS])
    meta = pd.DataFrame([
        {"dicom_id": "02aa804e-bde0afdd-112c0b34-7bc16630-4e384014", "subject_id": "10000032", "study_id": "50414267",
         "ViewPosition": "PA"},
        {"dicom_id": "174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962", "subject_id": "10000032", "study_id": "50414267",
         "ViewPosition": "LATERAL"},
        {"dicom_id": "096052b7-d256dc40-453a102b-fa7d01c6-1b22c6b4", "subject_id": "10000764", "study_id": "57375967",
         "ViewPosition": "AP"},
    ], columns=["dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription", "ViewPosition", "Rows",
                "Columns"])
    split = meta[["dicom_id", "study_id", "subject_id"]].assign(split=["train", "train", "test"])
    write_gz(tmp_path / "mimic-cxr-2.0.0-chexpert.csv.gz", labels)
    write_gz(tmp_path / "mimic-cxr-2.0.0-metadata.csv.gz", meta)
    write_gz(tmp_path / "mimic-cxr-2.0.0-split.csv.gz", split)
    table, test = public_table("mimic", tmp_path, "zeros", ["PA", "AP"], {"Pneumothorax"})
    assert table["image"].tolist() == [
        "files/p10/p10000032/s50414267/02aa804e-bde0afdd-112c0b34-7bc16630-4e384014.jpg",
        "files/p10/p10000764/s57375967/096052b7-d256dc40-453a102b-fa7d01c6-1b22c6b4.jpg"]
    assert table["label"].tolist() == ["No Finding", "Effusion"] and table["patient"].tolist() == ["10000032", "10000764"]
    assert test == {table["image"].iloc[1]}
    dropped, _ = public_table("mimic", tmp_path, "drop", ["PA", "AP"], {"Pneumothorax"})
    assert dropped["label"].tolist() == ["No Finding"]


def test_a_missing_table_column_or_view_is_named(chexpert, tmp_path):
    with pytest.raises(PublicSetError, match=r"valid.csv: no film of view\(s\) \[.LL.\]"):
        public_table("chexpert", chexpert, "zeros", ["LL"], set())
    pd.read_csv(chexpert / "train.csv").drop(columns="Pleural Effusion").to_csv(chexpert / "train.csv", index=False)
    with pytest.raises(PublicSetError, match=r"train.csv: missing column\(s\) \['Pleural Effusion'\]"):
        public_table("chexpert", chexpert, "zeros", ["PA"], set())
    with pytest.raises(PublicSetError, match="mimic-cxr-2.0.0-chexpert.csv.gz not found"):
        public_table("mimic", tmp_path / "nowhere", "zeros", ["PA"], set())
    assert "Pleural Effusion" in FINDINGS
