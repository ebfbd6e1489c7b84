"""The CUDA-graph step against the eager step, on a GPU (skipped without CUDA): the same
losses and gradients within bf16 tolerance over 20 steps from the same state (the soft
CAM term, swap and actdiff, each in bf16 autocast), and the same
validation AUC within noise on two seeds."""

import copy
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from cxrloc.config import TrainConfig
from cxrloc.tasks import BUILTIN
from cxrloc.train import models
from cxrloc.train.attention import AttentionConfig
from cxrloc.train.inference import predict_proba
from cxrloc.train.job import train
from cxrloc.train.run import RunSpec
from cxrloc.train.splitdata import SplitData
from cxrloc.train.step import Steps, StepSettings, optimizer, resident
from sklearn.metrics import roc_auc_score

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]
SIZE = 64


def split(n: int, seed: int) -> SplitData:
    """Noise with a bright lower-lung patch on positives: learnable in a few epochs."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.randint(0, 160, (n, SIZE, SIZE), dtype=torch.uint8, generator=g)
    images[labels == 1, 40:52, 16:48] += 90
    return SplitData([f"{i}" for i in range(n)], images, labels, torch.tensor([[8, 8, 48, 48]] * n),
                     torch.ones(n, 16, 16, dtype=torch.uint8), None)


def stepper(model, layer, graph: bool, data: SplitData, mode: str = "soft") -> Steps:
    device = torch.device("cuda")
    spec = RunSpec("g", BUILTIN["ne"], "resnet18", 0.5, 0.5, 0, attention=AttentionConfig(mode=mode))
    return Steps(model, layer, optimizer(model.parameters(), 1e-4, device, graph), StepSettings.of(spec, graph, True),
                 resident(data, device), device)


def grads(model) -> torch.Tensor:
    return torch.cat([p.grad.detach().float().flatten() for p in model.parameters() if p.grad is not None])


@pytest.mark.parametrize("mode", ["soft", "swap", "actdiff"])
def test_graph_and_eager_steps_agree_over_20_steps(mode):
    torch.manual_seed(0)
    model, layer = models.create("resnet18", 2, cam_layer="layer3")
    model = model.cuda().to(memory_format=torch.channels_last).train()
    twin = copy.deepcopy(model)
    data = split(20 * 16, 0)
    eager = stepper(model, layer, False, data, mode)
    graph = stepper(twin, dict(twin.named_modules())["layer3"], True, data, mode)
    batches = eager.epoch_order(torch.randperm(len(data), generator=torch.Generator().manual_seed(0)))
    lams = [1.0] * 6 + [0.5] * 14  # both graphs: cross-entropy alone, then with the term (soft: double backward)
    losses = {False: [], True: []}
    for idx, lam in zip(batches, lams):
        for steps in (eager, graph):
            before = steps.totals[0].item()
            steps(idx, lam)
            losses[steps.cfg.use_graph].append((steps.totals[0].item() - before) / len(idx))
    assert len(graph.graphs) == 2, "both regimes were captured and replayed"
    np.testing.assert_allclose(losses[True], losses[False], rtol=0.03, atol=0.01)
    # the gradients of one more step from the very same state (the twin's tensors updated in place)
    twin.load_state_dict(model.state_dict())
    eager(batches[0], 0.5)
    graph(batches[0], 0.5)
    a, b = grads(model), grads(twin)
    assert torch.nn.functional.cosine_similarity(a, b, dim=0) > 0.99
    assert (a - b).norm() / a.norm() < 0.1


@pytest.mark.parametrize("seed", [0, 1])
def test_graph_and_eager_training_reach_the_same_validation_auc(seed):
    tr, va = split(512, 10 + seed), split(256, 20 + seed)
    aucs = []
    for graph in (False, True):
        cfg = TrainConfig(epochs=4, batch_size=32, lr=1e-3, early_stop=4, device="cuda", cuda_graph=graph,
                          cam_layer="layer3")
        spec = RunSpec("gpu", BUILTIN["ne"], "resnet18", 0.5, 0.5, seed, cfg, AttentionConfig())
        with tempfile.TemporaryDirectory() as tmp:
            train(spec, tr, va, Path(tmp), {"test": "gpu"})
            weights = torch.load(Path(tmp) / "model.pt", weights_only=True)["state_dict"]
        model, _ = models.create("resnet18", 2, cam_layer="layer3")
        model.load_state_dict(weights)
        p = predict_proba(model.cuda(), va, torch.device("cuda"))
        aucs.append(roc_auc_score(va.labels.numpy(), p[:, 1]))
    assert aucs[0] > 0.8 and abs(aucs[0] - aucs[1]) < 0.05, aucs
