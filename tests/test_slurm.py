"""One training job of the tiny study and its evaluation on a real one-node SLURM cluster
(started by .ci/run), through the official executor plugin and the workflow's slurm profile,
from the local study's data, splits and lung masks; its results must equal the local run's."""

import json
import os
import re

import pytest
import yaml

from .workflow import OUT, ROOT, TINY, seed_upstream, snakemake

RUN = "resnet18_tiny_ne_la0.5_t0.5_s0_soft"  # with the attention term: the GPU rule's costliest step

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(os.environ.get("CXRLOC_SLURM") != "1",
                       reason="needs a running SLURM: CXRLOC_SLURM=1 (set by .ci/run, which starts one)"),
]


@pytest.fixture(scope="module")
def slurm_run(study, tmp_path_factory):
    work = tmp_path_factory.mktemp("slurm")
    seed_upstream(study, work)
    cfg = yaml.safe_load(TINY.read_text())
    cfg["resources"] = {"cpus_per_gpu": 1, "train_mem_mb": 1500, "train_runtime": 10}
    (work / "slurm.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(work, f"{OUT}/runs/{RUN}/metrics.json", "--configfile", str(work / "slurm.yaml"),
                     "--workflow-profile", str(ROOT / "profiles/slurm"),
                     "--default-resources", "slurm_partition=debug", "mem_mb=1000", "runtime=10",
                     # a GPU asked for by hand, as the fake one lets a CPU job hold it (device stays cpu)
                     "--set-resources", "train:gpu=1", "train:cpus_per_gpu=1",
                     "--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2",
                     "--max-threads", "2", "--jobs", "4",
                     "--retries", "0")
    return work, proc.stdout + proc.stderr


def test_every_cluster_job_went_through_sbatch(slurm_run, capsys):
    work, log = slurm_run
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", log, re.M))
    local = {"aggregate", "appendix_pdf", "all"}
    remote = sum(int(n) for rule, n in stats.items() if rule not in local and rule != "total")
    ids = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    assert len(ids) == remote, log[-3000:]
    assert int(stats["train"]) == 1 and int(stats["evaluate"]) == 1
    slurm_id = dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", log))
    train = re.findall(r"^rule train:\n(?:    .*\n)*?    jobid: (\d+)\n(?:    .*\n)*?    wildcards: (.*)$", log, re.M)
    assert len(train) == 1 and all(job in slurm_id for job, _ in train)
    with capsys.disabled():
        print("\nSLURM job ids of the training jobs:", *(f"  {slurm_id[job]}: {wc}" for job, wc in train), sep="\n")


def test_train_jobs_got_the_fake_gpu_and_ran_on_the_cpu(slurm_run):
    work, _ = slurm_run
    logs = sorted((work / OUT / "logs/train").glob("*.log"))
    assert len(logs) == 1
    for log in logs:
        assert "device cpu, CUDA_VISIBLE_DEVICES=0" in log.read_text(), log.name


def test_results_equal_a_local_run(slurm_run, study):
    work, _ = slurm_run
    local = json.loads((study / OUT / "runs" / RUN / "metrics.json").read_text())
    remote = json.loads((work / OUT / "runs" / RUN / "metrics.json").read_text())
    assert remote["test"]["metrics"] == local["test"]["metrics"]
    assert remote["val"]["metrics"] == local["val"]["metrics"]
