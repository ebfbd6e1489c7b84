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
