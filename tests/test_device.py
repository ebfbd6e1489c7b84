"""Device choice: no silent CPU fall-back; one GPU per job on a multi-GPU workstation."""

import threading

import pytest
import torch
from cxrloc import device


def test_cuda_where_there_is_none_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA is not available.*device: cpu"):
        device.resolve("cuda")


def test_jobs_on_a_multi_gpu_workstation_take_different_gpus(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("CXRLOC_GPU_LOCKS", str(tmp_path))
    taken, third = [], []
    with device.gpu_slot("cuda") as a, device.gpu_slot("cuda") as b:
        taken += [str(a), str(b)]
        waiter = threading.Thread(target=lambda: third.append(str(device.gpu_slot("cuda", poll=0.05).__enter__())))
        waiter.start()
        waiter.join(0.3)
        assert not third, "a third job waits while both GPUs are taken"
    waiter.join(2)
    assert sorted(taken) == ["cuda:0", "cuda:1"] and third in (["cuda:0"], ["cuda:1"])


def test_a_scheduler_choice_is_respected(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    with device.gpu_slot("cuda") as d:
        assert str(d) == "cuda"


def test_one_device_key_decides_both_the_gpu_request_and_the_device(tmp_path):
    """device: cuda at the top: every training and evaluation job asks for a GPU and is told to use it."""
    import json
    import re

    import yaml

    from .workflow import TINY, snakemake

    cfg = {**yaml.safe_load(TINY.read_text()), "device": "cuda"}
    (tmp_path / "cuda.yaml").write_text(yaml.safe_dump(cfg))
    out = snakemake(tmp_path, "--configfile", str(tmp_path / "cuda.yaml"), "-n", "-p").stdout
    jobs = re.findall(r"^rule (train|evaluate):\n(?:    .*\n)*?    resources: (.*)\nShell command: (.*)$", out, re.M)
    assert len(jobs) == 4
    for rule, resources, command in jobs:
        assert re.search(r"\bgpu=1\b", resources), (rule, resources)
        settings = json.loads(re.search(r"--settings '(.*?)'", command).group(1))
        assert settings["device"] == "cuda" and "device" not in (settings["train"] or {})


def test_a_train_device_key_is_refused_naming_the_one_to_use():
    from cxrloc.config import ConfigError, train_config

    with pytest.raises(ConfigError, match="train.device: set the top-level key device"):
        train_config({"device": "cpu", "train": {"device": "cuda"}})
    assert train_config({"device": "cuda:1"}).device == "cuda:1"


@pytest.mark.workflow
def test_every_command_that_uses_a_gpu_claims_one_of_its_own(study, monkeypatch, tmp_path):
    """Two GPUs, the first held by another job: training, evaluation, the U-Net's training and
    precaching, segment-lungs and predict each take the free one (they all landed on GPU 0 but
    training). The claim is real; the work then runs on the CPU, as this machine has no GPU."""
    import contextlib
    import fcntl
    import shutil
    from unittest import mock

    from cxrloc import cli
    from cxrloc.train import evaluate, job

    from .workflow import OUT, run_args

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("CXRLOC_GPU_LOCKS", str(tmp_path / "locks"))
    claimed, real_slot = [], device.gpu_slot

    @contextlib.contextmanager
    def slot(name, *args, **kwargs):
        """The real claim on two simulated GPUs; the work itself on the CPU."""
        with contextlib.ExitStack() as stack:
            with mock.patch.object(torch.cuda, "is_available", lambda: True), \
                    mock.patch.object(torch.cuda, "device_count", lambda: 2):
                claimed.append(str(stack.enter_context(real_slot(name, *args, **kwargs))))
            yield torch.device("cpu")

    monkeypatch.setattr(device, "gpu_slot", slot)
    monkeypatch.setattr(evaluate, "gpu_slot", slot)
    monkeypatch.setattr(job, "gpu_slot", slot)
    (tmp_path / "locks").mkdir()
    films = tmp_path / "films"
    films.mkdir()
    for name in sorted((study / OUT / "raw/images").iterdir())[:2]:
        shutil.copy(name, films)
    unet, run = str(study / OUT / "unet/unet.pt"), str(tmp_path / "run")
    commands = [
        ["train", *run_args(study, epochs=1), "--out", run],
        ["evaluate", *run_args(study, epochs=1), "--model", f"{run}/model.pt", "--out", f"{run}/metrics.json"],
        ["train-unet", "--images", str(study / OUT / "raw/images"), "--masks", str(study / OUT / "raw/lung_masks"),
         "--settings", "{unet: {image_size: 32, epochs: 1, max_images: 12}}", "--out", str(tmp_path / "u.pt"),
         "--report", str(tmp_path / "u.json")],
        ["precache-masks", "--unet", unet, "--cache", str(study / OUT / "cache"), "--out", str(tmp_path / "lungs.npz"),
         "--report", str(tmp_path / "lungs.json")],
        ["segment-lungs", "--checkpoint", unet, "--images", str(films), "--out", str(tmp_path / "seg")],
        ["predict", "--run", run, "--images", str(films), "--out", str(tmp_path / "pred")],
    ]
    with open(tmp_path / "locks/gpu0.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        for command in commands:
            cli.main([*command, "--device", "cuda"])
    assert claimed == ["cuda:1"] * len(commands), claimed
