"""A training job stopped by SIGTERM resumes from its checkpoint and ends as an uninterrupted one."""

import shutil
import signal
import subprocess
import time

import pandas as pd
import pytest
import torch

from .workflow import BIN, cxrloc, env, run_args

pytestmark = pytest.mark.workflow
COLS = ["epoch", "loss", "ce", "att", "acc", "val_loss", "val_acc", "lr", "lam"]


def test_sigterm_mid_epoch_then_rerun_matches_an_uninterrupted_run(study, tmp_path):
    """Also: two processes training with one seed give the same history and weights."""
    args = run_args(study, epochs=4, batch_size=8)
    cxrloc("train", *args, "--out", str(tmp_path / "whole"))

    out = tmp_path / "cut"
    proc = subprocess.Popen([str(BIN / "cxrloc"), "train", *args, "--out", str(out)], env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "state.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert "SIGTERM" in err
    assert not (out / "model.pt").exists(), "a stopped job leaves no output that looks finished"
    done = torch.load(out / "state.pt", weights_only=True)["epoch"]
    assert done < 3

    shutil.copytree(out, tmp_path / "cores")
    resumed = cxrloc("train", *args, "--out", str(out))
    assert f"resuming {out} from epoch {done + 1}" in resumed.stderr + resumed.stdout
    whole, cut = (pd.read_csv(tmp_path / n / "history.csv")[COLS] for n in ("whole", "cut"))
    pd.testing.assert_frame_equal(whole, cut)
    a = torch.load(tmp_path / "whole/model.pt", weights_only=True)["state_dict"]
    b = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)

    # A rerun with another --cores (thread count) resumes too: threads only reorder floating-point sums.
    other = cxrloc("train", *args, "--threads", "2", "--out", str(tmp_path / "cores"))
    assert f"resuming {tmp_path / 'cores'} from epoch {done + 1}" in other.stderr + other.stdout
    cores = pd.read_csv(tmp_path / "cores/history.csv")[COLS]
    pd.testing.assert_frame_equal(whole[: done + 1], cores[: done + 1])


def test_corrupt_checkpoint_fails_naming_the_file(study, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run/state.pt").write_bytes(b"not a checkpoint")
    proc = cxrloc("train", *run_args(study), "--out", str(tmp_path / "run"), check=False)
    assert proc.returncode == 1 and "corrupt or foreign training state" in proc.stderr and "state.pt" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("cxrloc train: error:"), "one line, no traceback"


def test_an_unfinished_state_of_other_settings_is_moved_aside(study, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    torch.save({"fingerprint": "0123456789abcdef", "epoch": 0}, out / "state.pt")
    proc = cxrloc("train", *run_args(study, epochs=2), "--out", str(out))
    log = proc.stderr + proc.stdout
    assert "moved aside to state.0123456789abcdef.pt, training from scratch" in log and "resuming" not in log
    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == [0, 1]
    assert sorted(p.name for p in out.iterdir()) == ["history.csv", "model.pt"], "a finished run keeps no state"


class Payload:
    """Unpickling this creates a file: what a crafted checkpoint would do."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_a_crafted_checkpoint_runs_nothing(tmp_path):
    """What ``train`` (state.pt) and ``evaluate`` (model.pt) load is read as plain tensors."""
    from cxrloc.checkpoint import CheckpointError
    from cxrloc.tasks import BUILTIN
    from cxrloc.train.inference import load_trained
    from cxrloc.train.job import _unfinished_state
    from cxrloc.train.run import RunSpec

    marker = tmp_path / "pwned"
    torch.save({"fingerprint": "x", "state_dict": {}, "payload": Payload(marker)}, tmp_path / "crafted.pt")
    with pytest.raises(CheckpointError, match=rf"corrupt or foreign training state {tmp_path}/crafted\.pt") as e:
        _unfinished_state(tmp_path / "crafted.pt", "x")
    assert "weights_only" not in str(e.value) and "never runs pickled code" in str(e.value), "no advice to trust it"
    with pytest.raises(CheckpointError, match="corrupt or foreign checkpoint"):
        load_trained(tmp_path / "crafted.pt", RunSpec("d", BUILTIN["ne"], "resnet18", 1.0, 0.5, 0), torch.device("cpu"))
    assert not marker.exists(), "the pickled payload ran"
    torch.load(tmp_path / "crafted.pt", weights_only=False)
    assert marker.exists(), "the payload does run where pickles are trusted: the test's file is a real exploit"


def test_a_finished_model_copied_as_the_state_is_one_line(tmp_path):
    """A model.pt carries the run's fingerprint but no optimizer state: resuming from it was a KeyError."""
    from cxrloc.checkpoint import CheckpointError
    from cxrloc.train.job import _unfinished_state

    torch.save({"state_dict": {}, "spec": {}, "best_epoch": 0, "fingerprint": "f", "image_size": 36}, tmp_path / "state.pt")
    with pytest.raises(CheckpointError, match="state.pt is no training state \\(it lacks epoch, model, optimizer"):
        _unfinished_state(tmp_path / "state.pt", "f")


def test_the_fingerprint_covers_settings_inputs_and_device_but_not_threads():
    import dataclasses

    from cxrloc.tasks import BUILTIN
    from cxrloc.train.run import RunSpec

    spec = RunSpec("d", BUILTIN["ne"], "resnet18", 0.5, 0.5, 0)
    inputs = {"splits": "a", "images": "b", "lungs": "c"}
    base = spec.fingerprint(inputs)
    assert base == RunSpec("d", BUILTIN["ne"], "resnet18", 0.5, 0.5, 0).fingerprint(dict(inputs))
    for key in inputs:
        assert spec.fingerprint({**inputs, key: "other"}) != base, key
    cuda = dataclasses.replace(spec, train=dataclasses.replace(spec.train, device="cuda"))
    assert cuda.fingerprint(inputs) != base
    threads = dataclasses.replace(spec, train=dataclasses.replace(spec.train, threads=8))
    assert threads.fingerprint(inputs) == base, "the thread count (--cores) does not change the result"
