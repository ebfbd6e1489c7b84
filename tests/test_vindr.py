"""VinDr-CXR as an external set with radiologist boxes: its annotation table as published (one row
per reader and finding, ``No finding`` rows without a box), its films as DICOM; every reader's
boxes of a finding united."""

import numpy as np
import pandas as pd
import pytest
from cxrloc.data.locset import box_masks, localization_set
from cxrloc.data.splits import external_split
from cxrloc.data.vindr import VinDrError, boxes, image_labels, read_annotations
from cxrloc.tasks import BUILTIN
from PIL import Image

from .dicomfiles import stored, write_dicom
from .workflow import OUT

HEADER = ["image_id", "rad_id", "class_name", "x_min", "y_min", "x_max", "y_max"]  # annotations_train.csv's


def row(image, reader, name, box=(None,) * 4):
    return [image, reader, name, *box]


def write(path, rows):
    pd.DataFrame(rows, columns=HEADER).to_csv(path, index=False)
    return path


def test_an_image_holds_what_any_reader_marked_and_every_readers_boxes(tmp_path):
    table = write(tmp_path / "annotations_train.csv", [
        row("a1", "R8", "Pleural effusion", (10, 40, 30, 60)), row("a1", "R9", "Pleural effusion", (20, 45, 40, 62)),
        row("a1", "R10", "No finding"),
        row("b2", "R8", "No finding"), row("b2", "R9", "No finding"), row("b2", "R10", "No finding"),
        row("c3", "R8", "Pleural effusion", (5, 5, 15, 15)), row("c3", "R9", "Cardiomegaly", (20, 30, 50, 50)),
        row("d4", "R8", "Aortic enlargement", (30, 10, 40, 20)),
    ])
    annotations = read_annotations(table)
    labels = image_labels(annotations).set_index("image")["labels"]
    assert labels.to_dict() == {"a1.dicom": ["Effusion"], "b2.dicom": ["No Finding"],
                                "c3.dicom": ["Cardiomegaly", "Effusion"], "d4.dicom": ["Aortic enlargement"]}
    films = external_split(image_labels(annotations), BUILTIN["ne"], table)
    assert films[["image", "finding"]].values.tolist() == [["b2.dicom", "No Finding"], ["a1.dicom", "Effusion"]]
    locset = localization_set(boxes(annotations, BUILTIN["ne"]), image_labels(annotations), BUILTIN["ne"])
    assert sorted(locset["image"].unique()) == ["a1.dicom", "c3.dicom"], "every boxed image of the finding"
    sizes = pd.DataFrame({"width": [100, 100], "height": [100, 100]}, index=["a1.dicom", "c3.dicom"])
    truth = box_masks(locset[locset["image"] == "a1.dicom"], ["a1.dicom"], sizes, 100)[0]
    union = np.zeros((100, 100), bool)
    union[40:60, 10:30] = union[45:62, 20:40] = True
    assert (truth == union).all(), "both readers' boxes, united"


@pytest.mark.parametrize(("rows", "message"), [
    ([row("a1", "R8", "Pleural effusion")], r"image a1's Pleural effusion has no valid box \(x_min nan"),
    ([row("a1", "R8", "Pneumothorax", (30, 10, 20, 40))], r"image a1's Pneumothorax has no valid box"),
])
def test_a_finding_without_a_box_is_named(tmp_path, rows, message):
    with pytest.raises(VinDrError, match=message):
        read_annotations(write(tmp_path / "a.csv", rows))


def test_a_table_missing_a_column_is_named(tmp_path):
    pd.DataFrame({"image_id": ["a"], "class_name": ["No finding"]}).to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(VinDrError, match=r"a.csv: missing column\(s\) \['x_min', 'y_min', 'x_max', 'y_max'\]"):
        read_annotations(tmp_path / "a.csv")


def vindr_shaped(work, meta: pd.DataFrame):
    """Films of the tiny study as a VinDr-CXR folder: ``<image_id>.dicom`` films (12-bit stored values)
    and the annotation table, three readers per film: each effusion boxed by two of them around its
    true lesion (one box shifted), the third saying No finding; the other films No finding."""
    root = work / "vindr"
    (root / "train").mkdir(parents=True)
    rows = []
    for k, film in enumerate(meta.itertuples()):
        image_id = f"{k:032x}"
        gray = np.asarray(Image.open(work / OUT / "raw/images" / film[1]).convert("L"))
        write_dicom(root / "train" / f"{image_id}.dicom", stored(gray))
        lesion = np.asarray(Image.open(work / OUT / "raw/lesion_masks" / film[1]).convert("L")) > 127
        if film[2] == "Effusion" and lesion.any():
            ys, xs = np.nonzero(lesion)
            box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            rows += [row(image_id, "R8", "Pleural effusion", box),
                     row(image_id, "R9", "Pleural effusion", (box[0] + 2, box[1], box[2] + 2, box[3])),
                     row(image_id, "R10", "No finding")]
        elif film[2] == "No Finding":
            rows += [row(image_id, f"R{r}", "No finding") for r in (8, 9, 10)]
    return root / "train", write(root / "annotations_train.csv", rows)
