# One training job per task × backbone × λ × threshold × seed, then its evaluation.


rule train:
    input:
        splits=f"{OUT}/splits/{{task}}.csv",
        images=f"{OUT}/cache/images.npy",
        digest=f"{OUT}/cache/SHA256SUMS",
        lungs=f"{OUT}/masks/lungs.npz",
    output:
        model=f"{run_dir()}/model.pt",
        history=f"{run_dir()}/history.csv",
    params:
        settings=settings("train", "attention", "weights", "device"),
        cache=f"{OUT}/cache",
        out=run_dir(),
    conda:
        ENV
    log:
        f"{OUT}/logs/train/{RUN}.log",
    threads: config["train"]["threads"]
    resources:
        gpu=GPU,
        cpus_per_gpu=RES.get("cpus_per_gpu", 4) if GPU else 0,
        mem_mb=lambda wc, attempt: train_mem_mb(RES.get("train_mem_mb", 16000), config["image_size"], attempt),
        runtime=lambda wc: train_runtime(RES.get("train_runtime", 120), wc.backbone, config["image_size"],
                                         config["train"]["epochs"]),
    shell:
        "cxrloc train --dataset {DS:q} --task {wildcards.task:q} --backbone {wildcards.backbone:q}"
        " --lamda {wildcards.lam:q} --thresh {wildcards.thresh:q} --seed {wildcards.seed:q}"
        " --objective {wildcards.objective:q} --splits {input.splits:q} --cache {params.cache:q}"
        " --lungs {input.lungs:q} --threads {threads} --settings {params.settings:q} --out {params.out:q} > {log:q} 2>&1"


rule evaluate:
    input:
        model=f"{run_dir()}/model.pt",
        splits=f"{OUT}/splits/{{task}}.csv",
        images=f"{OUT}/cache/images.npy",
        digest=f"{OUT}/cache/SHA256SUMS",
        lungs=f"{OUT}/masks/lungs.npz",
        locset=locset(),
        markers=MARKERS or [],
    output:
        metrics=f"{run_dir()}/metrics.json",
        cams=f"{run_dir()}/cams.npz",
    params:
        settings=settings("train", "attention", "weights", "device"),
        cache=f"{OUT}/cache",
        bootstrap=config.get("evaluate", {}).get("bootstrap", 200),
        locset=lambda w, input: option("--localization", input.locset),
        markers=lambda w, input: option("--markers", input.markers),
    conda:
        ENV
    log:
        f"{OUT}/logs/evaluate/{RUN}.log",
    threads: config["train"]["threads"]
    resources:
        gpu=GPU,
        mem_mb=8000,
        runtime=30,
    shell:
        "cxrloc evaluate --dataset {DS:q} --task {wildcards.task:q} --backbone {wildcards.backbone:q}"
        " --lamda {wildcards.lam:q} --thresh {wildcards.thresh:q} --seed {wildcards.seed:q}"
        " --objective {wildcards.objective:q} --splits {input.splits:q} --cache {params.cache:q}"
        " --lungs {input.lungs:q} --threads {threads} --settings {params.settings:q} --model {input.model:q}"
        " --bootstrap {params.bootstrap}{params.locset}{params.markers} --out {output.metrics:q} > {log:q} 2>&1"
