# External test sets (config key external): synthesize_external (synthetic sets) → external_table →
# cache_external → precache_masks (the study's rule, its set wildcard external/<name>/), once per
# set; evaluate_external, once per run and set.


rule synthesize_external:
    output:
        images=directory(f"{OUT}/external/{{ext}}/raw/images"),
        metadata=f"{OUT}/external/{{ext}}/raw/Data_Entry.csv",
        lesions=directory(f"{OUT}/external/{{ext}}/raw/lesion_masks"),
        lungs=directory(f"{OUT}/external/{{ext}}/raw/lung_masks"),
        test_list=f"{OUT}/external/{{ext}}/raw/test_list.txt",
        markers=f"{OUT}/external/{{ext}}/raw/markers.csv",
    log:
        f"{OUT}/logs/external/{{ext}}/synthesize.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        settings=lambda w: json.dumps({"source": {"synthetic": EXTERNAL[w.ext]["synthetic"]}}, sort_keys=True),
        raw=folder("metadata"),
    shell:
        "cxrloc synthesize --settings {params.settings:q} --out {params.raw:q} > {log:q} 2>&1"


rule external_table:
    input:
        source=lambda w: external(w.ext)["table"] or external(w.ext)["images"],
    output:
        f"{OUT}/external/{{ext}}/{{task}}.csv",
    log:
        f"{OUT}/logs/external/{{ext}}/table_{{task}}.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        task=task_argument,
        source=lambda w: external_table_options(w.ext),
        films=lambda w: EXTERNAL_FILMS[w.ext],
    shell:
        "cxrloc external-table --task {params.task:q} --set {wildcards.ext:q}{params.source} --out {output:q} > {log:q} 2>&1"


# Sets with true lesion masks (synthetic) cache them too; one definition builds both rules.
for name, lesions in (("cache_external", True), ("cache_external_plain", False)):

    rule:
        name:
            name
        input:
            tables=lambda w: [f"{OUT}/external/{w.ext}/{t}.csv" for t in TASKS],
            images=lambda w: external(w.ext)["images"],
            lesions=lambda w: external(w.ext)["lesions"] or [],
        output:
            **cache_files(f"{OUT}/external/{{ext}}/cache", lesions),
        log:
            f"{OUT}/logs/external/{{ext}}/cache_images.log",
        wildcard_constraints:
            ext="|".join(re.escape(n) for n in EXTERNAL if bool(external(n)["lesions"]) == lesions) or "(?!)",
        conda:
            ENV
        threads: 8
        resources:
            mem_mb=4000,
            runtime=120,
        params:
            out=folder("images"),
            size=config["image_size"],
            lesions=lambda w, input: option("--lesions", input.lesions),
            films=lambda w: EXTERNAL_FILMS[w.ext],
        shell:
            "cxrloc cache-images --splits {input.tables:q} --images {input.images:q} --size {params.size}"
            "{params.lesions} --threads {threads} --out {params.out:q} > {log:q} 2>&1"


rule evaluate_external:
    input:
        unpack(lambda w: external_cache(w.ext)),
        model=f"{run_dir()}/model.pt",
        internal=f"{run_dir()}/metrics.json",
        table=f"{OUT}/external/{{ext}}/{{task}}.csv",
        lungs=f"{OUT}/external/{{ext}}/masks/lungs.npz",
        markers=lambda w: external(w.ext)["markers"] or [],
    output:
        f"{run_dir()}/external/{{ext}}.json",
    log:
        f"{OUT}/logs/evaluate_external/{{ext}}/{RUN}.log",
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
        markers=lambda w, input: option("--markers", input.markers),
    shell:
        "cxrloc evaluate{params.run} --splits {input.table:q} --cache {params.cache:q} --lungs {input.lungs:q}"
        " --threads {threads}{params.markers} --model {input.model:q}"
        " --external {wildcards.ext:q} --internal {input.internal:q}"
        " --out {output:q} > {log:q} 2>&1"
