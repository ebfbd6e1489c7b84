"""A training job stopped by SIGTERM resumes from its checkpoint and ends as an uninterrupted one."""

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
    done = torch.load(out / "state.pt", weights_only=False)["epoch"]
    assert done < 3

    resumed = cxrloc("train", *args, "--out", str(out))
    assert f"resuming {out} from epoch {done + 1}" in resumed.stderr + resumed.stdout
    whole, cut = (pd.read_csv(tmp_path / n / "history.csv")[COLS] for n in ("whole", "cut"))
    pd.testing.assert_frame_equal(whole, cut)
    a = torch.load(tmp_path / "whole/model.pt", weights_only=False)["state_dict"]
    b = torch.load(out / "model.pt", weights_only=False)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_corrupt_checkpoint_fails_naming_the_file(study, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run/state.pt").write_bytes(b"not a checkpoint")
    proc = cxrloc("train", *run_args(study), "--out", str(tmp_path / "run"), check=False)
    assert proc.returncode != 0 and "corrupt checkpoint" in proc.stderr and "state.pt" in proc.stderr


def test_run_folder_of_another_config_is_not_resumed_silently(study, tmp_path):
    cxrloc("train", *run_args(study, epochs=1), "--out", str(tmp_path / "run"))
    proc = cxrloc("train", *run_args(study, epochs=2), "--out", str(tmp_path / "run"), check=False)
    assert proc.returncode != 0 and "different configuration" in proc.stderr
