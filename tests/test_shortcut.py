"""The direct measures of shortcut use: paste the marker and count flipped predictions; see
how much of the CAM sits on it."""

import pandas as pd
import torch
from cxrloc.config import AttentionConfig
from cxrloc.data.cues import box_slices, corner_box, dumps, square
from cxrloc.data.marker import Markers
from cxrloc.tasks import BUILTIN
from cxrloc.train.evaluate import shortcut_use
from cxrloc.train.run import RunSpec
from cxrloc.train.splitdata import SplitData, mask_lungs
from torch import nn

SPEC = RunSpec("t", BUILTIN["ne"], "resnet18", 1.0, 0.5, 0)


class Window(nn.Module):
    """A feature map that sees the image through a fixed window (the Grad-CAM layer)."""

    def __init__(self, rows: slice, cols: slice):
        super().__init__()
        self.rows, self.cols = rows, cols
        self.gain = nn.Parameter(torch.ones(()))

    def forward(self, x):
        out = torch.zeros_like(x[:, :1])
        out[:, :, self.rows, self.cols] = x[:, :1, self.rows, self.cols] + 1
        return out * self.gain


class Reader(nn.Module):
    """Says 'positive' when its window is bright: on the marker's corner, or elsewhere."""

    def __init__(self, rows: slice, cols: slice):
        super().__init__()
        self.window = Window(rows, cols)

    def forward(self, x):
        a = self.window(x)
        v = a.sum(dim=(1, 2, 3)) / (a > 0).sum(dim=(1, 2, 3)) - 1
        return torch.stack([torch.zeros_like(v), 10 * (v - 0.5)], dim=1)


def marker_reader():
    return Reader(*CORNER)


def ignorer():
    return Reader(slice(30, 34), slice(30, 34))


CORNER = box_slices(*corner_box(), 64)
MARKERS = Markers(pd.DataFrame([{"Image Index": f"{i}.png", "marker": i >= 6, **dict(zip(("top", "left", "size"), corner_box())),
                                 "cue": dumps(square(corner_box()))} for i in range(10)]).set_index("Image Index"))


def split(n=10):
    images = torch.randint(0, 100, (n, 64, 64), dtype=torch.uint8)
    images[(slice(6, None), *CORNER)] = 255
    return SplitData([f"{i}.png" for i in range(n)], images, torch.arange(n) % 2, torch.zeros(n, 4, dtype=torch.long),
                     torch.zeros(n, 8, 8, dtype=torch.uint8), None)


def test_a_model_that_reads_the_marker_flips_every_prediction_and_looks_at_it():
    model = marker_reader()
    s = shortcut_use(model, model.window, split(), MARKERS, torch.device("cpu"), SPEC)
    assert s["n"] == 6 and s["flip_rate"] == 1.0 and s["delta_p_positive"] > 0.9
    assert s["n_marked_positives"] == 2 and s["cam_energy_marker"] > 0.99 and s["points_at_marker"] == 1.0


def test_a_masked_run_sees_the_pasted_marker_only_through_the_lung_mask():
    """Masked: the marker is pasted into the film, then the film masked; outside the lungs
    (here: no lungs at all) it cannot flip anything, unlike for the same model unmasked."""
    model = marker_reader()
    masked = RunSpec("t", BUILTIN["ne"], "resnet18", 1.0, 0.5, 0,
                     attention=AttentionConfig(mode="masked", fill="zero", mask_margin=0))
    s = shortcut_use(model, model.window, mask_lungs(split(), 0, "zero"), MARKERS, torch.device("cpu"), masked)
    assert s["flip_rate"] == 0.0


def test_the_cam_examples_keep_the_images_a_masked_run_saw(tmp_path):
    """The CAM figures draw what the model saw: for a masked run, its lungs alone (here none)."""
    import numpy as np
    from cxrloc.train.evaluate import save_examples

    model = marker_reader()
    for name, data in (("plain", split()), ("masked", mask_lungs(split(), 0, "zero"))):
        save_examples(model, model.window, data, torch.device("cpu"), tmp_path / f"{name}.npz", MARKERS)
    plain, masked = (np.load(tmp_path / f"{n}.npz") for n in ("plain", "masked"))
    assert (plain["image"] == masked["image"]).all() and (masked["seen"] == 0).all() and (plain["seen"] > 0).any()


def test_a_model_that_ignores_it_flips_none_and_looks_elsewhere():
    model = ignorer()
    s = shortcut_use(model, model.window, split(), MARKERS, torch.device("cpu"), SPEC)
    assert s["n"] == 6 and s["flip_rate"] == 0.0 and abs(s["delta_p_positive"]) < 1e-6
    assert s["cam_energy_marker"] < 0.01 and s["points_at_marker"] == 0.0


def test_lambda_and_warm_up_are_chosen_on_val_never_on_test():
    from cxrloc.report.shortcut import chosen, table

    rows = []
    for seed in range(3):
        rows += [{"objective": "ce", "lambda": "1", "warmup": 0, "seed": seed, "val_auc": 0.9, "shifted_auc": 0.7 + 0.01 * seed},
                 {"objective": "ceiling", "lambda": "1", "warmup": 0, "seed": seed, "val_auc": 0.9, "shifted_auc": 0.91},
                 {"objective": "rrr", "lambda": "0.5", "warmup": 0, "seed": seed, "val_auc": 0.95, "shifted_auc": 0.6},
                 {"objective": "rrr", "lambda": "0.5", "warmup": 2, "seed": seed, "val_auc": 0.80, "shifted_auc": 0.99}]
    runs = pd.DataFrame(rows).assign(iid_auc=0.9, iid_accuracy=0.8, shifted_acc=0.5, pointing=0.0, cam_in_region=0.1,
                                     cam_on_marker=0.2,
                                     points_at_marker=0.3, flip_rate=0.4, unmarked_auc=0.8, backbone="r", cams="x")
    pick = chosen(runs)
    assert set(pick.loc[pick["objective"] == "rrr", "warmup"]) == {0}
    row = table(runs).loc["rrr"]
    assert row["λ"] == "λ = 0.5" and row["shifted AUC"] == "0.600 ± 0.000" and row["ΔAUC vs CE [95% CI]"].startswith("-0.110")
    assert row["gap closed"] == "-55 %" and table(runs).loc["ceiling", "gap closed"] == "–"  # (0.6 − 0.71) / (0.91 − 0.71)
