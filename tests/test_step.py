"""The training step's batching on the CPU: epoch totals weigh every sample once (a last
partial batch included), a device-scalar λ (as a CUDA graph holds it) gives the float's
loss, and padded evaluation batches change no prediction."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cxrloc.lungs.regions import box_regions
from cxrloc.objectives import get
from cxrloc.tasks import BUILTIN
from cxrloc.train import models
from cxrloc.train.attention import AttentionConfig, objective_loss
from cxrloc.train.cam import capture
from cxrloc.train.inference import predict_proba
from cxrloc.train.splitdata import SplitData, normalize
from cxrloc.train.step import Steps, StepSettings, optimizer

SIZE = 40  # resnet18's Grad-CAM map is 2 × 2 (at 32 px one cell: the attention term would be inert)


def split(n=13, seed=0) -> SplitData:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, SIZE, SIZE), dtype=torch.uint8, generator=g)
    return SplitData([f"{i}" for i in range(n)], images, torch.arange(n) % 2, torch.tensor([[4, 4, 24, 24]] * n),
                     torch.ones(n, 8, 8, dtype=torch.uint8), None)


def test_epoch_totals_weigh_every_sample_once_with_a_partial_last_batch():
    torch.manual_seed(0)
    model, layer = models.create("resnet18", 2)
    model.eval()  # batch statistics aside: the epoch mean must equal the all-sample mean
    data = split(13)
    steps = Steps(model, layer, optimizer(model.parameters(), 0.0, torch.device("cpu"), False),
                  StepSettings(BUILTIN["ne"], 0.5, 5, get("soft"), AttentionConfig(), use_graph=True), data, torch.device("cpu"))
    batches = steps.epoch_order(torch.arange(13))
    assert [len(b) for b in batches] == [5, 5, 3]
    for idx in batches[-1:]:  # a partial batch never replays a graph: it runs eagerly, also here without CUDA
        steps(idx, 1.0)
    for idx in batches[:-1]:
        steps._eager(idx, 1.0)
    got = steps.read(13)
    with torch.no_grad():
        want = F.cross_entropy(model(normalize(data.images)), data.labels).item()
    assert abs(got["ce"] - want) < 1e-5 and abs(got["loss"] - want) < 1e-5 and got["att"] == 0
    assert np.isnan(got["cam_in_region"]), "λ = 1 computes no map"
    assert steps.read(13)["ce"] == 0, "read() resets the totals for the next epoch"


def test_a_device_scalar_lambda_gives_the_float_lambdas_loss():
    torch.manual_seed(0)
    model, layer = models.create("resnet18", 2)
    data = split(8)
    x = normalize(data.images)
    kinds = torch.tensor([0, 1])
    losses = []
    for lam in (0.3, torch.tensor(0.3)):
        with capture(layer) as seen:
            logits = model(x)
        parts = objective_loss(get("soft"), logits, seen[-1], data.labels,
                               lambda y: box_regions(data.boxes, kinds[y], SIZE), lam, 0.5, AttentionConfig())
        losses.append(parts.loss.item())
    assert abs(losses[0] - losses[1]) < 1e-6


def test_padded_evaluation_batches_change_no_prediction():
    torch.manual_seed(0)
    model, _ = models.create("resnet18", 2)
    data = split(13)
    exact = predict_proba(model, data, torch.device("cpu"), batch=5, static=False)
    padded = predict_proba(model, data, torch.device("cpu"), batch=5, static=True)
    assert exact.shape == padded.shape == (13, 2)
    assert np.abs(exact - padded).max() < 1e-5


@pytest.mark.parametrize(("warmup", "best"), [(0, 0), (1, 2)])
def test_the_kept_model_is_the_best_epoch_after_the_warm_up(warmup, best, monkeypatch, tmp_path):
    """Validation favours the warm-up's cross-entropy model here (as it does when the validation
    set carries a shortcut); after a warm-up only the objective's own epochs may be kept."""
    from cxrloc.config import TrainConfig
    from cxrloc.train import job as training
    from cxrloc.train.run import RunSpec

    accuracies = iter([0.9, 0.5, 0.6])
    monkeypatch.setattr(training, "_val", lambda model, data, device: (0.1, next(accuracies)))
    cfg = TrainConfig(epochs=3, batch_size=8, lr=1e-3, warmup_epochs=warmup)
    spec = RunSpec("t", BUILTIN["ne"], "resnet_tiny", 0.5, 0.5, 0, cfg, AttentionConfig(mode="swap"))
    history = training.train(spec, split(16), split(8, 1), tmp_path, {"test": "warm-up"})
    assert history["lam"].tolist() == [1.0] * warmup + [0.5] * (3 - warmup)
    assert torch.load(tmp_path / "model.pt", weights_only=True)["best_epoch"] == best
