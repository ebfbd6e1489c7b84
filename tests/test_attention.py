"""The attention objective: soft (differentiable) and published (the original's arithmetic)."""

import numpy as np
import pytest
import torch
from cxrloc import objectives
from cxrloc.config import AttentionConfig
from cxrloc.lungs.regions import box_regions
from cxrloc.train import attention, cam, models
from cxrloc.train.attention import objective_loss

SIZE = 64


def attention_term(heat, region, thresh, cfg):
    """The term of the objective ``cfg.mode`` names, through its registry record."""
    return objectives.function(objectives.get(cfg.mode).term)(heat, region, thresh, cfg)


def batch(seed=0, n=8):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, SIZE, SIZE, generator=g)
    y = torch.tensor([1, 0] * (n // 2))
    boxes = torch.tensor([[8, 8, 48, 48]] * n)
    return x, y, boxes


def loss_of(model, layer, x, y, boxes, lam, cfg, thresh=0.5):
    x = x.clone().requires_grad_(cfg.mode == "rrr")
    with cam.capture(layer) as seen:
        logits = model(x)
    regions = lambda labels: box_regions(boxes, torch.tensor([0, 1])[labels], SIZE)  # noqa: E731
    return objective_loss(objectives.get(cfg.mode), logits, seen[-1], y, regions, lam, thresh, cfg, inputs=x)


def test_soft_loss_has_finite_nonzero_parameter_gradients():
    torch.manual_seed(0)
    model, layer = models.create("resnet18", 2)
    x, y, boxes = batch()
    parts = loss_of(model, layer, x, y, boxes, 0.0, AttentionConfig(mode="soft"))
    parts.loss.backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    assert torch.isfinite(grads).all() and grads.abs().sum() > 0


@pytest.mark.parametrize("first_order", [False, True])
def test_soft_loss_moves_the_cam_into_the_region(first_order):
    torch.manual_seed(0)
    model, layer = models.create("resnet18", 2, cam_layer="layer3")
    model.eval()
    x, y, boxes = batch(1)
    cfg = AttentionConfig(mode="soft", cam_target="true", first_order=first_order)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    before = np.nanmean(loss_of(model, layer, x, y, boxes, 0.0, cfg).in_region.numpy())
    for _ in range(8):
        parts = loss_of(model, layer, x, y, boxes, 0.0, cfg)
        opt.zero_grad()
        parts.loss.backward()
        opt.step()
    after = np.nanmean(loss_of(model, layer, x, y, boxes, 0.0, cfg).in_region.numpy())
    assert after > before + 0.05


def test_published_mode_gives_zero_gradient_from_the_attention_term():
    torch.manual_seed(0)
    model, layer = models.create("resnet18", 2)
    x, y, boxes = batch()
    parts = loss_of(model, layer, x, y, boxes, 0.0, AttentionConfig(mode="published"))
    assert parts.att > 0
    assert not parts.loss.requires_grad or all(
        g is None or g.abs().sum() == 0
        for g in torch.autograd.grad(parts.loss, list(model.parameters()), allow_unused=True)
    )


def original_formula(cam_map: np.ndarray, box, label: int, thresh: float) -> float:
    """docs/method.md §6 evaluated per sample, as the original did it in numpy (lower half: effusion)."""
    x, y, w, h = box
    region = cam_map[int(y + h / 2) : y + h, x : x + w]
    ratio = (region > thresh).sum() / region.size
    return (1 - ratio) * label


def test_published_mode_equals_the_original_per_sample_formula():
    torch.manual_seed(0)
    model, layer = models.create("resnet18", 2)
    model.eval()
    x, y, _ = batch(2)
    boxes = torch.tensor([[4 + i, 6 + 2 * i, 40 + i, 44 - 2 * i] for i in range(len(x))])
    maps = cam.grad_cam(model, layer, x)
    regions = box_regions(boxes, torch.tensor([0, 1])[y], SIZE)
    for thresh in (0.3, 0.5, 0.7):
        ours = attention_term(maps, regions, thresh, AttentionConfig(mode="published"))
        theirs = [original_formula(m.numpy(), b.tolist(), int(lbl), thresh) for m, b, lbl in zip(maps, boxes, y)]
        assert np.allclose(ours.numpy(), theirs)


def test_lambda_one_never_computes_a_cam(monkeypatch):
    monkeypatch.setattr(attention, "cams_for", lambda *a, **k: pytest.fail("a CAM was computed at λ = 1"))
    model, layer = models.create("resnet18", 2)
    x, y, boxes = batch()
    parts = loss_of(model, layer, x, y, boxes, 1.0, AttentionConfig())
    assert parts.loss.requires_grad


def test_no_finding_samples_have_no_attention_term():
    maps = torch.rand(4, SIZE, SIZE)
    regions = box_regions(torch.tensor([[0, 0, SIZE, SIZE]] * 4), torch.tensor([0, 0, 1, 1]), SIZE)
    for mode in (name for name, o in objectives.REGISTRY.items() if o.heat):
        term = attention_term(maps, regions, 0.5, AttentionConfig(mode=mode))
        assert term[:2].abs().sum() == 0 and term[2:].abs().sum() > 0


MAP_MODES = ["soft", "energy", "outside", "signed", "rrr"]


@pytest.mark.parametrize("mode", MAP_MODES + ["published"])
def test_each_objective_is_zero_inside_and_largest_outside(mode):
    region = torch.zeros(3, SIZE, SIZE)
    region[:, 32:, 8:56] = 1
    inside, outside, half = region.clone(), 1 - region, torch.full((3, SIZE, SIZE), 0.5)
    cfg = AttentionConfig(mode=mode, tau=0.02)
    at = {name: attention_term(m, region, 0.4, cfg) for name, m in (("in", inside), ("out", outside), ("half", half))}
    assert torch.allclose(at["in"], torch.zeros(3), atol=1e-4), mode
    assert (at["out"] > at["half"] - 1e-6).all() and (at["out"] > at["in"] + 0.5).all(), mode


@pytest.mark.parametrize("mode", MAP_MODES)
def test_each_objective_has_a_finite_gradient_on_an_all_zero_map(mode):
    region = torch.zeros(2, SIZE, SIZE)
    region[:, :32] = 1
    zero = torch.zeros(2, SIZE, SIZE, requires_grad=True)
    attention_term(zero, region, 0.5, AttentionConfig(mode=mode)).sum().backward()
    assert torch.isfinite(zero.grad).all()


@pytest.mark.parametrize("mode", ["energy", "outside", "signed", "rrr"])
def test_each_objective_trains_the_model(mode):
    """At λ = 0 the term alone gives the gradient (at λ > 0 cross-entropy would move the weights anyway)."""
    torch.manual_seed(0)
    model, layer = models.create("resnet18", 2, cam_layer="layer3")
    x, y, boxes = batch(3)
    parts = loss_of(model, layer, x, y, boxes, 0.0, AttentionConfig(mode=mode, weight=10.0))
    parts.loss.backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    assert torch.isfinite(grads).all() and grads.abs().sum() > 0 and parts.att > 0


def test_the_signed_objective_judges_negatives_too():
    torch.manual_seed(0)
    model, layer = models.create("resnet18", 2, cam_layer="layer3")
    x, _, boxes = batch(4)
    negatives = torch.zeros(len(x), dtype=torch.long)
    parts = loss_of(model, layer, x, negatives, boxes, 0.5, AttentionConfig(mode="signed"))
    assert parts.att > 0
    assert loss_of(model, layer, x, negatives, boxes, 0.5, AttentionConfig(mode="energy")).att == 0

