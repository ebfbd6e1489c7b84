"""The objectives that act on a second pass (actdiff, swap), the masked baseline, and the one
registry every part of the project reads objectives from."""

import dataclasses

import pytest
import torch
from cxrloc import objectives
from cxrloc.config import AttentionConfig
from cxrloc.lungs.regions import kinds_for
from cxrloc.tasks import BUILTIN
from cxrloc.train import invariance, models
from cxrloc.train.splitdata import SplitData, mask_lungs
from cxrloc.train.step import Steps, StepSettings, optimizer

SIZE = 32


def batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, SIZE, SIZE, generator=g) * 2 - 1
    labels = torch.tensor([0, 1] * (n // 2))
    boxes = torch.tensor([[4, 6, 24, 20]] * n)
    masks = torch.zeros(n, 8, 8, dtype=torch.uint8)
    masks[:, 2:6, 1:7] = 1
    return x, labels, boxes, masks


def test_actdiff_is_zero_when_the_outside_already_holds_the_fill():
    torch.manual_seed(0)
    model, _ = models.create("resnet_tiny", 2)
    model.eval()
    x, labels, boxes, masks = batch()
    cfg = AttentionConfig(mode="actdiff", fill="zero", invariance_region="lungs")
    regions = invariance.invariance_regions(cfg, labels, kinds_for(BUILTIN["ne"]), boxes, masks, SIZE)
    x = invariance.keep_region(x, regions, invariance.fill(x, "zero"))  # outside already black
    x_in = invariance.keep_region_filled(x, labels, regions, cfg)
    assert torch.equal(x_in, x)
    with torch.no_grad():
        f = model.forward_head(model.forward_features(torch.cat([x, x_in])), pre_logits=True)
    assert invariance.relative_distance(*f.chunk(2)).abs().max() < 1e-6
    other = invariance.keep_region_filled(torch.rand_like(x), labels, regions, cfg)
    with torch.no_grad():
        g = model.forward_head(model.forward_features(torch.cat([torch.rand_like(x), other])), pre_logits=True)
    assert invariance.relative_distance(*g.chunk(2)).min() > 0


def test_swap_never_pairs_an_image_with_itself_and_keeps_region_pixels_bit_exact():
    for n in (2, 3, 8, 9):
        labels = torch.tensor([1, 0, 0, 1, 1, 0, 1, 0, 0])[:n]
        partner = invariance.partners(labels)
        assert (partner != torch.arange(n)).all() and sorted(partner.tolist()) == list(range(n))
    x, labels, boxes, masks = batch()
    cfg = AttentionConfig(mode="swap")
    regions = invariance.invariance_regions(cfg, labels, kinds_for(BUILTIN["ne"]), boxes, masks, SIZE)
    swapped = invariance.keep_region_swapped(x, labels, regions, cfg)
    inside = regions.bool().unsqueeze(1).expand_as(x)
    assert torch.equal(swapped[inside], x[inside])
    assert torch.equal(swapped[~inside], x[invariance.partners(labels)][~inside])


@pytest.mark.parametrize("n", [26, 11])
def test_no_swapped_image_of_an_epoch_equals_its_input_with_a_trailing_batch_of_one(n, monkeypatch):
    """26 images at batch 5 (and 11): the last batch would hold one image, its own partner, and the
    swap term would be cross-entropy under another name. Every image of the epoch is trained on
    once, and every swapped image differs from its input."""
    torch.manual_seed(0)
    model, layer = models.create("resnet_tiny", 2)
    images = (torch.rand(n, SIZE, SIZE) * 255).to(torch.uint8)
    _, labels, boxes, masks = batch(n + n % 2)
    data = SplitData([str(i) for i in range(n)], images, labels[:n], boxes[:n], masks[:n], None)
    seen, swapped = [], []
    second_pass = invariance.keep_region_swapped

    def spy(x, labels, regions, cfg):
        out = second_pass(x, labels, regions, cfg)
        swapped.append((x - out).flatten(1).abs().amax(1))
        return out

    monkeypatch.setattr(invariance, "keep_region_swapped", spy)
    steps = Steps(model, layer, optimizer(model.parameters(), 1e-3, torch.device("cpu"), False),
                  StepSettings(BUILTIN["ne"], 0.5, 5, objectives.get("swap"),
                               AttentionConfig(mode="swap"), False), data, torch.device("cpu"))
    for idx in steps.epoch_order(torch.randperm(n, generator=torch.Generator().manual_seed(1))):
        seen += idx.tolist()
        steps(idx, 0.5)
    assert sorted(seen) == list(range(n))
    assert (torch.cat(swapped) > 0).all(), "an image was its own partner"


def test_a_batch_size_of_one_is_refused_for_an_objective_that_pairs_images():
    assert objectives.batch_size_error(["ce", "soft", "actdiff"], 1) is None
    assert objectives.batch_size_error(["swap"], 2) is None
    assert "train.batch_size 1: objective swap" in objectives.batch_size_error(["ce", "swap"], 1)


def test_target_region_of_a_negative_is_the_positive_class_region():
    x, labels, boxes, masks = batch()
    cfg = AttentionConfig(mode="swap", invariance_region="target")
    regions = invariance.invariance_regions(cfg, labels, kinds_for(BUILTIN["ne"]), boxes, masks, SIZE)
    assert torch.equal(regions[0], regions[1]) and regions[0].sum() > 0  # a negative and a positive: the lower lung
    assert regions[0][:16].sum() == 0  # upper rows of the box are outside the effusion region


def test_masked_leaves_only_dilated_mask_pixels():
    images = torch.full((2, SIZE, SIZE), 200, dtype=torch.uint8)
    masks = torch.zeros(2, 8, 8, dtype=torch.uint8)
    masks[:, 3:5, 3:5] = 1  # pixels 12..19 at 32 px
    data = SplitData(["a", "b"], images, torch.tensor([0, 1]), torch.zeros(2, 4, dtype=torch.long), masks, None)
    tight, grown = mask_lungs(data, 0, "zero").images, mask_lungs(data, 2 / SIZE, "zero").images
    assert (tight[:, 12:20, 12:20] == 200).all() and tight.sum() == 2 * 64 * 200
    assert (grown[:, 10:22, 10:22] == 200).all() and grown[:, :10].sum() == 0 and grown[:, 22:].sum() == 0


@pytest.mark.parametrize("mode", ["actdiff", "swap"])
def test_each_new_objective_has_a_finite_gradient_and_follows_lambda_and_warm_up(mode):
    torch.manual_seed(0)
    model, layer = models.create("resnet_tiny", 2)
    images = (torch.rand(8, SIZE, SIZE) * 255).to(torch.uint8)
    _, labels, boxes, masks = batch()
    data = SplitData([str(i) for i in range(8)], images, labels, boxes, masks, None)
    cfg = dataclasses.replace(AttentionConfig(mode=mode), swap_kl=0.5 if mode == "swap" else 0.0)
    opt = optimizer(model.parameters(), 1e-3, torch.device("cpu"), False)
    settings = StepSettings(BUILTIN["ne"], 0.5, 8, objectives.get(mode), cfg, False)
    steps = Steps(model, layer, opt, settings, data, torch.device("cpu"))
    idx = torch.arange(8)
    steps(idx, 0.5)
    row = steps.read(8)
    assert row["att"] > 0 and torch.isfinite(torch.tensor(row["loss"]))
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    steps(idx, 1.0)  # λ = 1 (a warm-up epoch): cross-entropy alone, no second pass
    warm = steps.read(8)
    assert warm["att"] == 0 and warm["loss"] == pytest.approx(warm["ce"])
