# Lung segmentation: train_unet (or a given checkpoint) → precache_masks, once per image.


if UNET_FROM_MONTGOMERY:

    localrules:
        download_montgomery,

    rule download_montgomery:
        output:
            images=directory(f"{LUNGSET}/images"),
            masks=directory(f"{LUNGSET}/masks"),
        log:
            "results/logs/download_montgomery.log",
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=2000,
            runtime=60,
        params:
            url=MONTGOMERY_URL,
            sha256=MONTGOMERY_SHA256,
            zip="data/lungsets/NLM-MontgomeryCXRSet.zip",
            manifest="data/lungsets/SHA256SUMS",
            out=folder("images"),
        shell:
            "(cxrloc download --url {params.url:q} --out {params.zip:q} --sha256 {params.sha256}"
            " --manifest {params.manifest:q}"
            " && cxrloc montgomery --zip {params.zip:q} --out {params.out:q}) > {log:q} 2>&1"


if not UNET_CFG["checkpoint"]:

    localrules:
        fetch_unet_weights,

    rule fetch_unet_weights:
        output:
            UNET_WEIGHTS_PATTERN,
        log:
            f"{OUT}/logs/fetch_unet_weights/{{encoder}}.{{weights}}.log",
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=4000,
            runtime=30,
        shell:
            "cxrloc fetch-weights --unet-encoder {wildcards.encoder:q} --encoder-weights {wildcards.weights:q}"
            " --out {output:q} > {log:q} 2>&1"

    rule train_unet:
        input:
            images=UNET_IMAGES,
            masks=UNET_MASKS,
            labels=UNET_LABELS,
            encoder_weights=UNET_WEIGHTS,
        output:
            unet=UNET,
            report=f"{OUT}/unet/report.json",
            figure=report(
                f"{OUT}/unet/worst.png",
                caption="../report/unet_worst.rst",
                category="Lung masks",
            ),
        log:
            f"{OUT}/logs/train_unet.log",
        conda:
            ENV
        threads: 8
        resources:
            gpu=GPU,
            mem_mb=8000,
            runtime=60,
        params:
            settings=settings("unet"),
            films=UNET_FILMS,
            device=config["device"],
            labels=lambda w, input: option("--labels", input.labels),
            encoder_weights=lambda w, input: option("--encoder-weights", input.encoder_weights),
        shell:
            "cxrloc train-unet --images {input.images:q} --masks {input.masks:q}{params.labels}{params.encoder_weights}"
            " --settings {params.settings:q}"
            " --device {params.device:q} --threads {threads} --out {output.unet:q} --report {output.report:q}"
            " --figure {output.figure:q} > {log:q} 2>&1"


# Lung masks of the study's images (set "") and of each external set's (set "external/<name>/").
rule precache_masks:
    input:
        unpack(lambda w: set_cache(w.set)),
        unet=UNET,
    output:
        lungs=f"{OUT}/{{set}}masks/lungs.npz",
        report=f"{OUT}/{{set}}masks/report.json",
        figure=report(
            f"{OUT}/{{set}}masks/lung_quality.png",
            caption="../report/lung_quality.rst",
            category="Lung masks",
        ),
        table=report(
            f"{OUT}/{{set}}masks/lung_quality.html",
            caption="../report/lung_counts.rst",
            category="Lung masks",
        ),
    log:
        f"{OUT}/logs/{{set}}precache_masks.log",
    conda:
        ENV
    threads: 8
    resources:
        gpu=GPU,
        mem_mb=8000,
        runtime=60,
    params:
        cache=folder("images"),
        postprocess=" --postprocess" if UNET_SETTINGS.postprocess else "",
        device=config["device"],
    shell:
        "cxrloc precache-masks --unet {input.unet:q} --cache {params.cache:q} --device {params.device:q}"
        "{params.postprocess} --threads {threads} --out {output.lungs:q} --report {output.report:q}"
        " --figure {output.figure:q} --table {output.table:q} > {log:q} 2>&1"


if LESIONS:

    rule finding_coverage:
        input:
            **CACHE,
            splits=f"{OUT}/splits/{{task}}.csv",
            lungs=f"{OUT}/masks/lungs.npz",
            markers=MARKERS,
        output:
            json=f"{OUT}/masks/{{task}}.coverage.json",
            table=report(
                f"{OUT}/masks/{{task}}.coverage.html",
                caption="../report/finding_coverage.rst",
                category="Lung masks",
            ),
        log:
            f"{OUT}/logs/finding_coverage/{{task}}.log",
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=4000,
            runtime=10,
        params:
            task=task_argument,
            settings=settings("attention"),
            cache=folder("images"),
        shell:
            "cxrloc finding-coverage --splits {input.splits:q} --cache {params.cache:q} --lungs {input.lungs:q}"
            " --task {params.task:q} --settings {params.settings:q} --markers {input.markers:q} --out {output.json:q}"
            " --table {output.table:q} > {log:q} 2>&1"
