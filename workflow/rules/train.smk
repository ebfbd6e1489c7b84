# One training job per task × backbone × λ × threshold × seed, then its evaluation.


rule train:
    input:
        splits=f"{OUT}/splits/{{task}}.csv",
        images=f"{OUT}/cache/images.npy",
        lungs=f"{OUT}/masks/lungs.npz",
    output:
        model=f"{run_dir()}/model.pt",
        history=f"{run_dir()}/history.csv",
    params:
        settings=settings("train", "attention", "weights"),
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
        "cxrloc train --dataset {DS} --task {wildcards.task} --backbone {wildcards.backbone} --lamda {wildcards.lam}"
        " --thresh {wildcards.thresh} --seed {wildcards.seed} --objective {wildcards.objective} --splits {input.splits}"
        " --cache {params.cache} --lungs {input.lungs} --threads {threads} --settings {params.settings}"
        " --out {params.out} > {log} 2>&1"


rule evaluate:
    input:
        model=f"{run_dir()}/model.pt",
        splits=f"{OUT}/splits/{{task}}.csv",
        images=f"{OUT}/cache/images.npy",
        lungs=f"{OUT}/masks/lungs.npz",
        locset=locset(),
        markers=MARKERS or [],
    output:
        metrics=f"{run_dir()}/metrics.json",
        cams=f"{run_dir()}/cams.npz",
    params:
        settings=settings("train", "attention", "weights"),
        cache=f"{OUT}/cache",
        bootstrap=config.get("evaluate", {}).get("bootstrap", 200),
        locset=lambda w, input: f" --localization {input.locset}" if input.locset else "",
        markers=lambda w, input: f" --markers {input.markers}" if input.markers else "",
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
        "cxrloc evaluate --dataset {DS} --task {wildcards.task} --backbone {wildcards.backbone} --lamda {wildcards.lam}"
        " --thresh {wildcards.thresh} --seed {wildcards.seed} --objective {wildcards.objective} --splits {input.splits}"
        " --cache {params.cache} --lungs {input.lungs} --threads {threads} --settings {params.settings} --model {input.model}"
        " --bootstrap {params.bootstrap}{params.locset}{params.markers} --out {output.metrics} > {log} 2>&1"
