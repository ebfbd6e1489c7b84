"""The direct measure of shortcut use: paste the marker, count flipped predictions."""

import pandas as pd
import torch
from torch import nn

from cxrloc.data import SplitData
from cxrloc.evaluate import shortcut_use
from cxrloc.synthetic import marker_slices


class MarkerReader(nn.Module):
    """Says 'positive' exactly when the marker's corner is bright."""

    def forward(self, x):
        rows, cols = marker_slices(x.shape[-1])
        v = x[:, 0, rows, cols].mean(dim=(1, 2))
        return torch.stack([torch.zeros_like(v), 10 * (v - 0.5)], dim=1)


class Ignorer(nn.Module):
    def forward(self, x):
        v = x[:, 0, 30:34, 30:34].mean(dim=(1, 2))
        return torch.stack([v, -v], dim=1)


def split(n=10):
    images = torch.randint(0, 100, (n, 64, 64), dtype=torch.uint8)
    return SplitData([f"{i}.png" for i in range(n)], images, torch.arange(n) % 2, torch.zeros(n, 4, dtype=torch.long),
                     torch.zeros(n, 8, 8, dtype=torch.uint8), None)


def test_a_model_that_reads_the_marker_flips_every_prediction():
    markers = pd.Series({f"{i}.png": i >= 8 for i in range(10)})
    s = shortcut_use(MarkerReader(), split(), markers, torch.device("cpu"))
    assert s["n"] == 8 and s["flip_rate"] == 1.0 and s["delta_p_positive"] > 0.9


def test_a_model_that_ignores_it_flips_none():
    s = shortcut_use(Ignorer(), split(), pd.Series(dtype=bool), torch.device("cpu"))
    assert s["n"] == 10 and s["flip_rate"] == 0.0 and abs(s["delta_p_positive"]) < 1e-6
