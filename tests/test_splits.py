"""Split preparation on NIH's real metadata (docs/method.md §2)."""

import numpy as np
import pandas as pd
import pytest
from cxrloc.data.metadata import MetadataError, read_metadata
from cxrloc.data.splits import SplitConfig, prepare_splits, report
from cxrloc.tasks import BUILTIN, define

PAPER = {"ne": (2373, 791, 791), "np": (1316, 439, 439)}


@pytest.fixture(scope="module")
def nih_splits(nih_metadata):
    return {task: prepare_splits(nih_metadata, SplitConfig(BUILTIN[task])) for task in ("ne", "np", "nep")}


@pytest.mark.parametrize("task", ["ne", "np"])
def test_paper_counts_per_class_within_one_percent(nih_splits, task):
    counts = nih_splits[task].groupby(["split", "finding"]).size()
    for split, expected in zip(("train", "val", "test"), PAPER[task]):
        for finding in counts[split].index:
            assert abs(counts[split][finding] - expected) <= 0.01 * expected, (split, finding, counts[split][finding])


@pytest.mark.parametrize("task", ["ne", "np", "nep"])
def test_no_patient_in_two_splits(nih_splits, task):
    rep = report(nih_splits[task])
    assert rep["shared_patients"] == {"train-val": 0, "train-test": 0, "val-test": 0}
    per_patient = nih_splits[task].groupby("patient")["split"].nunique()
    assert per_patient.max() == 1


@pytest.mark.parametrize("task", ["ne", "np", "nep"])
def test_controls_never_from_patients_with_the_findings(nih_splits, nih_metadata, task):
    positives = set(BUILTIN[task].positives)
    carriers = set(nih_metadata.loc[nih_metadata["labels"].apply(lambda ls: bool(set(ls) & positives)), "patient"])
    controls = nih_splits[task][nih_splits[task]["label"] == 0]
    assert not set(controls["patient"]) & carriers


@pytest.mark.parametrize("task", ["ne", "np", "nep"])
def test_classes_balanced_and_single_label(nih_splits, nih_metadata, task):
    s = nih_splits[task]
    counts = s.groupby(["split", "label"]).size().unstack()
    assert (counts.nunique(axis=1) == 1).all(), counts
    labels = nih_metadata.set_index("image").loc[s["image"], "labels"]
    assert (labels.str.len() == 1).all()


def test_nep_balances_to_pneumothorax(nih_splits):
    counts = nih_splits["nep"].groupby(["split", "finding"]).size().unstack()
    assert (counts["Effusion"] == counts["Pneumothorax"]).all()
    assert abs(counts.loc["train", "Pneumothorax"] - 1316) <= 13


def test_deterministic_and_seeded(nih_metadata):
    a = prepare_splits(nih_metadata, SplitConfig(BUILTIN["np"], seed=3))
    b = prepare_splits(nih_metadata, SplitConfig(BUILTIN["np"], seed=3))
    c = prepare_splits(nih_metadata, SplitConfig(BUILTIN["np"], seed=4))
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_test_list_fixes_the_test_pool(nih_metadata):
    test_images = set(nih_metadata["image"].iloc[::5])
    s = prepare_splits(nih_metadata, SplitConfig(BUILTIN["ne"]), test_images)
    listed_patients = set(nih_metadata.loc[nih_metadata["image"].isin(test_images), "patient"])
    pos = s[s["label"] == 1]
    assert set(pos.loc[pos["split"] == "test", "patient"]) <= listed_patients
    assert not set(pos.loc[pos["split"] != "test", "patient"]) & listed_patients
    assert report(s)["shared_patients"]["train-test"] == 0


def test_missing_column_names_the_file(tmp_path):
    bad = tmp_path / "meta.csv"
    pd.DataFrame({"Image Index": ["a.png"], "Patient ID": [1]}).to_csv(bad, index=False)
    with pytest.raises(MetadataError, match=r"meta\.csv.*Finding Labels"):
        read_metadata(bad)


def test_split_report_counts_match_rows(nih_splits):
    rep = report(nih_splits["ne"])
    assert sum(sum(v.values()) for v in rep["images"].values()) == len(nih_splits["ne"])
    assert np.all(np.array([rep["patients"][s] for s in ("train", "val", "test")]) > 0)


def test_held_out_patients_join_a_fixed_test_pool(nih_metadata):
    test_images = set(nih_metadata["image"].iloc[::5])
    held = set(nih_metadata["patient"].iloc[1::7][:300])
    s = prepare_splits(nih_metadata, SplitConfig(BUILTIN["ne"]), test_images, held)
    assert not set(s.loc[s["split"] != "test", "patient"]) & held


def test_a_duplicated_image_id_is_an_error_naming_it(nih_metadata_path, tmp_path):
    """One image listed twice with different findings would land in two splits as two classes."""
    meta = pd.read_csv(nih_metadata_path)
    twin = meta[meta["Finding Labels"] == "Effusion"].iloc[[0]].assign(**{"Finding Labels": "No Finding"})
    path = tmp_path / "Data_Entry.csv"
    pd.concat([meta, twin]).to_csv(path, index=False)
    with pytest.raises(MetadataError, match=rf"{path}: 1 image id\(s\) listed more than once \({twin['Image Index'].iloc[0]}\)"):
        read_metadata(path)


def test_a_split_missing_a_class_in_val_fails_before_training(nih_splits, tmp_path):
    from cxrloc.data.splits import SplitError, write_splits

    splits = nih_splits["ne"]
    one_class_val = splits[~((splits["split"] == "val") & (splits["label"] == 1))]
    with pytest.raises(SplitError, match=r"ne\.csv: split 'val' has no image of class Effusion \(label 1\)"):
        write_splits(one_class_val, tmp_path / "ne.csv", BUILTIN["ne"])
    assert not (tmp_path / "ne.csv").exists()
    write_splits(splits, tmp_path / "ne.csv", BUILTIN["ne"])


@pytest.fixture(scope="module")
def nih_as_csv(nih_metadata_path, tmp_path_factory):
    """NIH's real metadata as a user's own table: other column names (its subgroups' too), a ';'
    between findings."""
    meta = pd.read_csv(nih_metadata_path, usecols=["Image Index", "Finding Labels", "Patient ID", "Patient Age",
                                                   "Patient Gender", "View Position"])
    table = meta.rename(columns={"Image Index": "path", "Finding Labels": "finding", "Patient ID": "subject",
                                 "Patient Age": "years", "Patient Gender": "gender", "View Position": "projection"})
    table["finding"] = table["finding"].str.replace("|", ";")
    path = tmp_path_factory.mktemp("csv") / "labels.csv"
    table.to_csv(path, index=False)
    return path


COLUMNS = ('{"image": "path", "labels": "finding", "patient": "subject", "sex": "gender", "age": "years", '
           '"view": "projection"}')


def test_a_csv_source_splits_like_the_nih_layout(nih_as_csv, nih_splits, tmp_path):
    from .workflow import cxrloc

    out = tmp_path / "ne.csv"
    cxrloc("prepare-splits", "--metadata", str(nih_as_csv), "--columns", COLUMNS, "--label-separator", ";", "--task", "ne",
           "--out", str(out))
    pd.testing.assert_frame_equal(pd.read_csv(out, dtype={"patient": str, "age": str}), nih_splits["ne"])


def test_a_csv_sources_own_split_column_is_kept_and_checked(nih_splits, tmp_path):
    from cxrloc.data.splits import SplitError, given_splits

    own = nih_splits["ne"].assign(labels=nih_splits["ne"]["finding"].str.split("|"))
    pd.testing.assert_frame_equal(given_splits(own, BUILTIN["ne"], "t.csv"), nih_splits["ne"])
    crossing = own.copy()
    patient = crossing.loc[crossing["split"] == "val", "patient"].iloc[0]
    crossing.loc[crossing.index[(crossing["split"] == "train")][0], "patient"] = patient
    with pytest.raises(SplitError, match=rf"t\.csv: 1 patient\(s\) in more than one split \({patient}\)"):
        given_splits(crossing, BUILTIN["ne"], "t.csv")
    with pytest.raises(SplitError, match=r"t\.csv: split column holds \['fold1'\]"):
        given_splits(own.assign(split="fold1"), BUILTIN["ne"], "t.csv")


def test_a_csv_column_missing_names_the_file_and_the_key(nih_as_csv):
    with pytest.raises(MetadataError, match=r"labels\.csv: missing column\(s\) \['label'\].*source\.columns"):
        read_metadata(nih_as_csv, {"image": "path", "patient": "subject"})


@pytest.mark.parametrize("path", ["../outside.png", "/etc/passwd", "films/../../outside.png"])
def test_an_image_path_leaving_the_root_is_refused_naming_its_row(nih_as_csv, tmp_path, path):
    table = pd.read_csv(nih_as_csv, nrows=50)
    table.loc[17, "path"] = path
    table.to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(MetadataError, match=rf"labels\.csv: row 19 of the file: image path '{path}' leaves the image "
                                            r"folder .*relative to source\.root"):
        read_metadata(tmp_path / "labels.csv", {"image": "path", "labels": "finding", "patient": "subject"}, ";")


def test_a_declared_task_takes_its_controls_from_its_own_label_0(nih_metadata):
    """Label 0 of a declared task need not be No Finding: controls are images labelled with it
    alone, of patients who never carry a positive class; splits stay patient-disjoint."""
    task = define({"name": "nm", "classes": ["Infiltration", "Nodule", "Mass"], "regions": {"Nodule": "upper", "Mass": "lungs"}})
    s = prepare_splits(nih_metadata, SplitConfig(task))
    assert list(s.drop_duplicates("label").sort_values("label")["finding"]) == ["Infiltration", "Nodule", "Mass"]
    carriers = set(nih_metadata.loc[nih_metadata["labels"].apply(lambda ls: bool({"Nodule", "Mass"} & set(ls))), "patient"])
    assert not set(s.loc[s["label"] == 0, "patient"]) & carriers
    assert all(v == 0 for v in report(s)["shared_patients"].values())
