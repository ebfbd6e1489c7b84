"""Image-folder sets: the documented layout works; a missing or empty class folder is named."""

import numpy as np
import pytest
from cxrloc.imagefolder import LayoutError, index_imagefolder
from PIL import Image


def make(root, splits=("train", "val", "test"), classes=("0NoFinding", "1Effusion"), per=2):
    for split in splits:
        for folder in classes:
            (root / split / folder).mkdir(parents=True)
            for i in range(per):
                Image.fromarray(np.full((8, 8), i * 40, np.uint8)).save(root / split / folder / f"{i}.png")
    return root


def test_the_readme_layout_without_test_iid_is_indexed(tmp_path):
    table = index_imagefolder(make(tmp_path / "set"), "ne")
    assert sorted(table["split"].unique()) == ["test", "train", "val"]
    assert (table.groupby(["split", "label"]).size() == 2).all()


def test_an_optional_test_iid_folder_is_its_own_split(tmp_path):
    table = index_imagefolder(make(tmp_path / "set", ("train", "val", "test", "test_iid")), "ne")
    assert (table["split"] == "test_iid").sum() == 4


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_an_empty_class_folder_is_named(tmp_path, split):
    root = make(tmp_path / "set")
    for f in (root / split / "1Effusion").iterdir():
        f.unlink()
    with pytest.raises(LayoutError, match=rf"{root / split / '1Effusion'}: missing or holds no image"):
        index_imagefolder(root, "ne")


def test_a_missing_class_folder_in_val_is_named(tmp_path):
    root = make(tmp_path / "set")
    for f in (root / "val/1Effusion").iterdir():
        f.unlink()
    (root / "val/1Effusion").rmdir()
    with pytest.raises(LayoutError, match=rf"{root / 'val/1Effusion'}: missing or holds no image"):
        index_imagefolder(root, "ne")
