# Pretrained weights fetched once (a local rule: compute nodes need no network), then one training
# job per task × backbone × λ (with its warm-up) × objective × threshold × seed, then its evaluation.


localrules:
    fetch_weights,


rule fetch_weights:
    output:
        f"{WEIGHTS_CACHE}/{{backbone}}.safetensors",
    log:
        f"{OUT}/logs/fetch_weights/{{backbone}}.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "cxrloc fetch-weights --backbone {wildcards.backbone:q} --out {output:q} > {log:q} 2>&1"


rule train:
    input:
        **CACHE,
        splits=f"{OUT}/splits/{{task}}.csv",
        lungs=f"{OUT}/masks/lungs.npz",
        markers=MARKERS or [],
        weights=weights_file,
    output:
        model=f"{run_dir()}/model.pt",
        history=f"{run_dir()}/history.csv",
    log:
        f"{OUT}/logs/train/{RUN}.log",
    conda:
        ENV
    threads: config["train"]["threads"]
    resources:
        gpu=GPU,
        cpus_per_gpu=RES["cpus_per_gpu"] if GPU else 0,
        mem_mb=lambda wc, attempt: train_mem_mb(RES["train_mem_mb"], config["image_size"], attempt),
        runtime=lambda wc: train_runtime(
            RES["train_runtime"],
            wc.backbone,
            config["image_size"],
            config["train"]["epochs"],
        ),
    params:
        run=run_options,
        cache=folder("images"),
        markers=lambda w, input: option("--markers", input.markers),
        out=folder("model"),
        weights=lambda w, input: option("--weights", input.weights),
    shell:
        "cxrloc train{params.run} --splits {input.splits:q} --cache {params.cache:q} --lungs {input.lungs:q}"
        " --threads {threads}{params.markers}{params.weights} --out {params.out:q} > {log:q} 2>&1"


# The study's evaluation and each external set's: one definition builds both rules.
for name, scope, outputs in (
    ("evaluate", "", {"metrics": f"{run_dir()}/metrics.json", "cams": f"{run_dir()}/cams.npz"}),
    ("evaluate_external", "external/{ext}/", {"metrics": f"{run_dir()}/external/{{ext}}.json"}),
):

    rule:
        name:
            name
        input:
            unpack(evaluation_inputs(scope)),
            model=f"{run_dir()}/model.pt",
        output:
            **outputs,
        log:
            f"{OUT}/logs/evaluate/{scope}{RUN}.log",
        conda:
            ENV
        threads: config["train"]["threads"]
        resources:
            gpu=GPU,
            mem_mb=8000,
            runtime=30,
        params:
            run=evaluation_options,
            cache=folder("images"),
            reads=evaluation_reads,
        shell:
            "cxrloc evaluate{params.run} --splits {input.splits:q} --cache {params.cache:q} --lungs {input.lungs:q}"
            " --threads {threads}{params.reads} --model {input.model:q} --out {output.metrics:q} > {log:q} 2>&1"
