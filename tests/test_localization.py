"""The NIH localization set from the real box list, and the localization scores."""

import pandas as pd
import pytest
import torch
from cxrloc.data.locset import box_masks, localization_set, read_bboxes
from cxrloc.data.splits import SplitConfig, prepare_splits, report
from cxrloc.tasks import BUILTIN
from cxrloc.train.localization import best_threshold, pointing_game, scores, tolerance_px

from .conftest import xrv_data


@pytest.fixture(scope="module")
def bboxes():
    return read_bboxes(xrv_data() / "BBox_List_2017.csv.gz")


@pytest.mark.parametrize("task,n", [("ne", 153), ("np", 98), ("nep", 251)])
def test_localization_set_takes_every_box_of_the_task(bboxes, nih_metadata, task, n):
    loc = localization_set(bboxes, nih_metadata, BUILTIN[task])
    assert len(loc) == n
    assert set(loc.groupby("patient")["split"].nunique()) == {1}
    assert set(loc["split"]) == {"val", "test"}


def test_its_patients_stay_out_of_train_and_val_and_counts_hold(bboxes, nih_metadata):
    loc = localization_set(bboxes, nih_metadata, BUILTIN["ne"])
    splits = prepare_splits(nih_metadata, SplitConfig(BUILTIN["ne"]), held_out=set(loc["patient"]))
    trainval = splits[splits["split"].isin(["train", "val"])]
    assert not set(trainval["patient"]) & set(loc["patient"])
    counts = splits.groupby(["split", "finding"]).size()
    for split, expected in (("train", 2373), ("val", 791), ("test", 791)):
        assert abs(counts[split]["Effusion"] - expected) <= 0.01 * expected
    assert report(splits)["shared_patients"] == {"train-val": 0, "train-test": 0, "val-test": 0}


def test_boxes_scale_to_the_cache():
    boxes = pd.DataFrame([{"image": "a.png", "x": 256.0, "y": 512.0, "w": 256.0, "h": 128.0},
                          {"image": "a.png", "x": 0.0, "y": 0.0, "w": 64.0, "h": 64.0}])
    sizes = pd.DataFrame({"width": [1024], "height": [1024]}, index=["a.png"])
    m = box_masks(boxes, ["a.png"], sizes, 64)[0]
    assert m[32:40, 16:32].all() and m[:4, :4].all() and m.sum() == 8 * 16 + 16


def test_scores_are_one_for_a_cam_equal_to_the_truth_and_zero_outside():
    truth = torch.zeros(4, 32, 32, dtype=torch.bool)
    truth[:, 20:28, 4:12] = True
    inside = truth.float()
    outside = (~truth).float() * torch.rand(4, 32, 32)
    outside[:, 16:32, 0:16] = 0  # beyond the pointing game's tolerance, too
    good = scores(inside, truth, best_threshold(inside, truth))
    assert good["pointing_game"] == 1 and good["energy_inside"] == 1 and good["iou"] == 1
    bad = scores(outside, truth, 0.5)
    assert bad["pointing_game"] == 0 and bad["energy_inside"] == 0 and bad["iou"] < 0.05


def test_all_zero_cam_scores_zero_without_nan():
    truth = torch.zeros(2, 8, 8, dtype=torch.bool)
    truth[:, :2, :2] = True
    s = scores(torch.zeros(2, 8, 8), truth, 0.5)
    assert s["energy_inside"] == 0 and s["iou"] == 0


def test_the_pointing_game_tolerates_a_miss_by_a_few_pixels_only():
    truth = torch.zeros(2, 224, 224, dtype=torch.bool)
    truth[:, 100:120, 100:120] = True
    cams = torch.zeros(2, 224, 224)
    cams[0, 110, 120 + 14] = 1  # 15 px right of the truth's edge: within 15 px
    cams[1, 110, 120 + 16] = 1  # 17 px: outside
    assert tolerance_px(224) == 15
    assert pointing_game(cams, truth, tolerance_px(224)).tolist() == [1.0, 0.0]
    assert pointing_game(cams, truth).tolist() == [0.0, 0.0]
