"""Backbone registry and batched Grad-CAM, checked against pytorch-grad-cam."""

import pytest
import torch
from cxrloc import backbones
from cxrloc.tasks import BUILTIN
from cxrloc.train import models
from cxrloc.train.cam import capture, grad_cam
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

SIZE = {"pvt_v2_b2_li": 64, "vgg16.tv_in1k": 64, "resnet50.tv_in1k": 64, "pvt_v2_b0": 64, "resnet18": 64, "vgg11": 64,
        "resnet_tiny": 64}


@pytest.fixture(scope="module", params=sorted(backbones.REGISTRY))
def backbone(request):
    torch.manual_seed(0)
    model, layer = models.create(request.param, 3)
    return request.param, model.eval(), layer


def test_unknown_backbone_lists_the_valid_names():
    with pytest.raises(KeyError) as e:
        models.create("alexnet", 2)
    for name in ("pvt_v2_b2_li", "vgg16.tv_in1k", "resnet50.tv_in1k", "pvt", "vgg", "resnet"):
        assert name in str(e.value)


def test_a_misspelled_timm_name_suggests_the_close_one():
    with pytest.raises(KeyError, match=r"did you mean densenet121"):
        models.create("densnet121", 2)


def test_a_timm_model_outside_the_registry_takes_its_last_feature_stage():
    torch.manual_seed(0)
    model, layer = models.create("densenet121", 2)
    assert layer is model.features.norm5 and backbones.label("densenet121") == "densenet121"
    model.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    ref = GradCAM(model=model, target_layers=[layer])(input_tensor=x, targets=[ClassifierOutputTarget(1)] * 2)
    assert torch.allclose(grad_cam(model, layer, x, torch.tensor([1, 1])), torch.from_numpy(ref), atol=1e-3)


def test_a_token_sequence_layer_is_refused_naming_the_key_to_set():
    model, layer = models.create("test_vit", 2)
    with pytest.raises(ValueError, match=r"train\.cam_layer"):
        grad_cam(model.eval(), layer, torch.randn(1, 3, 160, 160), torch.tensor([1]))


@pytest.mark.parametrize("alias,name", [("pvt", "pvt_v2_b2_li"), ("vgg", "vgg16.tv_in1k"), ("resnet", "resnet50.tv_in1k")])
def test_original_cli_aliases(alias, name):
    assert backbones.canonical(alias) == name


def test_pretrained_without_network_fails_naming_the_weights_and_touches_no_network(monkeypatch, tmp_path):
    import socket

    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setattr(socket.socket, "connect", lambda *a: pytest.fail("a connection was attempted"))
    with pytest.raises(models.PretrainedWeightsUnavailable, match=r"timm/resnet18\.a1_in1k|resnet18"):
        models.create("resnet18", 2, pretrained=True)


def test_pretrained_from_a_local_file(tmp_path):
    from safetensors.torch import save_file

    donor, _ = models.create("resnet18", 1000)
    path = tmp_path / "w.safetensors"
    save_file(donor.state_dict(), path)
    model, _ = models.create("resnet18", 2, pretrained=True, weights_file=str(path))
    assert torch.equal(model.conv1.weight, donor.conv1.weight)


@pytest.mark.parametrize("given", [False, True])
def test_grad_cam_matches_pytorch_grad_cam(backbone, given):
    name, model, layer = backbone
    x = torch.randn(4, 3, SIZE[name], SIZE[name], generator=torch.Generator().manual_seed(1))
    targets = torch.tensor([0, 2, 1, 2]) if given else model(x).argmax(1)
    ours = grad_cam(model, layer, x, targets if given else None)
    ref = GradCAM(model=model, target_layers=[layer])(input_tensor=x, targets=[ClassifierOutputTarget(int(t)) for t in targets])
    assert ours.shape == (4, SIZE[name], SIZE[name])
    assert (ours - torch.from_numpy(ref)).abs().max().item() < 1e-3
    assert ours.min() >= 0 and ours.max() <= 1


def test_grad_cam_is_one_batched_pass_without_mode_switch(monkeypatch):
    model, layer = models.create("resnet18", 2)
    model.train()
    calls = []
    original = torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: calls.append(1) or original(*a, **k))
    with capture(layer) as seen:
        grad_cam(model, layer, torch.randn(6, 3, 64, 64))
    assert len(calls) == 1 and len(seen) == 1 and model.training


def test_all_zero_map_is_safe():
    from cxrloc.train.cam import cam_from

    out = cam_from(torch.zeros(2, 4, 3, 3), torch.zeros(2, 4, 3, 3), (12, 12))
    assert torch.isfinite(out).all() and out.abs().sum() == 0


def test_the_cam_layer_is_set_per_backbone_or_for_all():
    from cxrloc.config import TrainConfig
    from cxrloc.train.inference import cam_layer_of
    from cxrloc.train.run import RunSpec

    per_backbone = TrainConfig(cam_layer={"resnet18": "layer3", "pvt": "stages.2"})
    assert cam_layer_of(RunSpec("d", BUILTIN["ne"], "resnet18", 0.5, 0.5, 0, per_backbone)) == "layer3"
    assert cam_layer_of(RunSpec("d", BUILTIN["ne"], "pvt_v2_b2_li", 0.5, 0.5, 0, per_backbone)) == "stages.2"
    assert cam_layer_of(RunSpec("d", BUILTIN["ne"], "vgg11", 0.5, 0.5, 0, per_backbone)) is None
    assert cam_layer_of(RunSpec("d", BUILTIN["ne"], "vgg11", 0.5, 0.5, 0, TrainConfig(cam_layer="features.10"))) == "features.10"


def test_an_unknown_cam_layer_names_it_and_the_valid_ones():
    with pytest.raises(KeyError, match=r"'layer9'.*layer4"):
        models.create("resnet_tiny", 2, cam_layer="layer9")


def test_channels_last_memory_where_asked_for_and_always_for_the_unet():
    """A CPU classifier keeps the default layout unless ``train.channels_last``; the U-Net is
    always channels-last (faster on this CPU at its sizes)."""
    from cxrloc.config import TrainConfig
    from cxrloc.lungs import unet
    from cxrloc.train.inference import build_model
    from cxrloc.train.run import RunSpec

    def layouts(net):
        weights = [p for p in net.parameters() if p.dim() == 4 and p.shape[-1] > 1]
        assert weights
        return {p.is_contiguous(memory_format=torch.channels_last) for p in weights}

    cpu = torch.device("cpu")
    assert layouts(build_model(RunSpec("d", BUILTIN["ne"], "resnet_tiny", 0.5, 0.5, 0), cpu)[0]) == {False}
    asked = RunSpec("d", BUILTIN["ne"], "resnet_tiny", 0.5, 0.5, 0, TrainConfig(channels_last=True))
    assert layouts(build_model(asked, cpu)[0]) == {True}
    assert layouts(unet.build("resnet18", (16, 8, 8, 8, 8))) == {True}


@pytest.mark.parametrize("size", [32, 33, 40, 47, 48, 64, 65])
def test_the_registry_knows_each_grad_cam_map_size_planning_checks(backbone, size):
    """Planning reads the record's stride instead of running the model: it must match the model."""
    name, model, layer = backbone
    try:
        with torch.no_grad(), capture(layer) as seen:
            model(torch.zeros(1, 3, size, size))
    except RuntimeError:  # too small for the network itself (VGG's pooling)
        return
    assert backbones.record(name).cam_cells(size) == min(seen[-1].shape[-2:])
    least = backbones.record(name).min_size()
    assert backbones.record(name).cam_cells(least) == backbones.MIN_CAM_CELLS
    assert backbones.record(name).cam_cells(least - 1) < backbones.MIN_CAM_CELLS


def test_a_map_term_on_a_one_cell_map_stops_the_step():
    """A backbone or layer planning could not check: the first training step stops, naming the cause."""
    from cxrloc.config import AttentionConfig
    from cxrloc.objectives import get
    from cxrloc.train.attention import objective_loss
    from cxrloc.train.camsize import CamSizeError

    activations = torch.randn(2, 4, 1, 1, requires_grad=True)
    logits = activations.mean(dim=(2, 3))[:, :2]
    with pytest.raises(CamSizeError, match="the Grad-CAM layer's map is 1×1 at this image size"):
        objective_loss(get("soft"), logits, activations, torch.tensor([0, 1]), lambda y: torch.ones(2, 8, 8), 0.5, 0.5,
                       AttentionConfig())


def test_a_backbone_outside_the_registry_is_measured_for_its_map_size():
    """No recorded stride: planning runs the model once (densenet121: 40 px gives one cell, 64 px two)."""
    from cxrloc.train.camsize import CamSizeError, check_cam_size

    with pytest.raises(CamSizeError, match="image_size 40: densenet121's Grad-CAM layer \\(its last stage\\) gives a 1×1 map"):
        check_cam_size("densenet121", 40, None)
    check_cam_size("densenet121", 64, None)
