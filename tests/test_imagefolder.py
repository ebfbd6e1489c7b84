"""Image-folder sets: the documented layout works; a missing or empty class folder is named.
Swap trains on a set without lesion masks or markers; a bad task definition is named."""

import json

import numpy as np
import pandas as pd
import pytest
from cxrloc.data.imagefolder import LayoutError, index_imagefolder
from cxrloc.tasks import BUILTIN
from PIL import Image

from .conftest import OWN_TASK
from .workflow import cxrloc


def make(root, splits=("train", "val", "test"), classes=("0NoFinding", "1Effusion"), per=2):
    for split in splits:
        for folder in classes:
            (root / split / folder).mkdir(parents=True)
            for i in range(per):
                Image.fromarray(np.full((8, 8), i * 40, np.uint8)).save(root / split / folder / f"{i}.png")
    return root


def test_the_readme_layout_without_test_iid_is_indexed(tmp_path):
    table = index_imagefolder(make(tmp_path / "set"), BUILTIN["ne"])
    assert sorted(table["split"].unique()) == ["test", "train", "val"]
    assert (table.groupby(["split", "label"]).size() == 2).all()


def test_an_optional_test_iid_folder_is_its_own_split(tmp_path):
    table = index_imagefolder(make(tmp_path / "set", ("train", "val", "test", "test_iid")), BUILTIN["ne"])
    assert (table["split"] == "test_iid").sum() == 4


@pytest.mark.parametrize("classes", [("No Finding", "Effusion"), ("no_finding", "effusion"), ("0", "1"),
                                     ("1Effusion", "0NoFinding")])
def test_labels_follow_the_task_whatever_the_folders_sort_to(tmp_path, classes):
    """``Effusion`` sorts before ``No Finding``: its label must still be 1, the task's."""
    table = index_imagefolder(make(tmp_path / "set", classes=classes), BUILTIN["ne"])
    effusion = table["image"].str.contains("(?i)effusion|/1/")
    assert (table.loc[effusion, "label"] == 1).all() and (table.loc[~effusion, "label"] == 0).all()
    assert (table.loc[effusion, "finding"] == "Effusion").all()


@pytest.mark.parametrize(("classes", "message"), [
    (("1NoFinding", "0Effusion"), "0Effusion: its number says label 0 \\(No Finding\\), its name Effusion"),
    (("NoFinding", "Pneumothorax"), "Pneumothorax: names none of task ne's classes"),
    (("0NoFinding", "Effusion", "1Effusion"), "1Effusion and Effusion both stand for class Effusion"),
])
def test_folders_that_contradict_the_task_are_named(tmp_path, classes, message):
    with pytest.raises(LayoutError, match=message):
        index_imagefolder(make(tmp_path / "set", classes=classes), BUILTIN["ne"])


@pytest.mark.parametrize(("split", "folder"), [("val", "1Efusion"), ("test", "2Pneumothorax"), ("test_iid", "x")])
def test_a_folder_that_is_no_class_of_train_is_named(tmp_path, split, folder):
    """A misspelled copy of a class folder, or a class found only in val/ or test/, would drop its
    images out of evaluation without a word."""
    root = make(tmp_path / "set", ("train", "val", "test", "test_iid"))
    (root / split / folder).mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / split / folder / "lost.png")
    with pytest.raises(LayoutError, match=rf"set/{split}/{folder}: not one of the class folders "
                                          r"\(0NoFinding, 1Effusion\)"):
        index_imagefolder(root, BUILTIN["ne"])


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_an_empty_class_folder_is_named(tmp_path, split):
    root = make(tmp_path / "set")
    for f in (root / split / "1Effusion").iterdir():
        f.unlink()
    with pytest.raises(LayoutError, match=rf"{root / split / '1Effusion'}: missing or holds no image"):
        index_imagefolder(root, BUILTIN["ne"])


def test_a_missing_class_folder_in_val_is_named(tmp_path):
    root = make(tmp_path / "set")
    for f in (root / "val/1Effusion").iterdir():
        f.unlink()
    (root / "val/1Effusion").rmdir()
    with pytest.raises(LayoutError, match=rf"{root / 'val/1Effusion'}: missing or holds no image"):
        index_imagefolder(root, BUILTIN["ne"])


def test_swap_trains_on_a_set_without_lesion_masks_or_markers(own_study, tmp_path):
    """The own study's CSV set and declared task: swap's second pass needs only the precached
    lung masks and boxes."""
    data = own_study / "results/own"
    settings = {"train": {"epochs": 1, "batch_size": 16, "lr": 0.001}}
    cxrloc("train", "--dataset", "own", "--task", json.dumps(OWN_TASK), "--backbone", "resnet_tiny", "--lambda", "0.5",
           "--thresh", "0.5", "--seed", "0", "--objective", "swap", "--splits", str(data / "splits/fluidair.csv"),
           "--cache", str(data / "cache"), "--lungs", str(data / "masks/lungs.npz"), "--settings", json.dumps(settings),
           "--out", str(tmp_path))
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["lam"].tolist() == [0.5] and (history["att"] > 0).all()
    assert (tmp_path / "model.pt").exists()


def test_a_bad_task_definition_is_named_by_the_cli(tmp_path):
    proc = cxrloc("index-imagefolder", "--root", str(make(tmp_path / "set")), "--task", "{name: x, classes: [a]}",
                  "--out", str(tmp_path / "x.csv"), check=False)
    assert proc.returncode == 2 and "--task.classes: a list of at least two distinct classes" in proc.stderr
