# External test sets (config key external): synthesize_external (synthetic sets) → external_table
# (and external_boxes, a set's radiologist boxes), once per set; then the study's own rules built
# for sets too: cache_external (data.smk), precache_masks (its set wildcard external/<name>/),
# evaluate_external (train.smk), once per run and set.


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
        layout=MARKER_LAYOUT,
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


rule external_boxes:
    input:
        table=lambda w: external(w.ext)["table"],
    output:
        f"{OUT}/external/{{ext}}/{{task}}.localization.csv",
    log:
        f"{OUT}/logs/external/{{ext}}/boxes_{{task}}.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        task=task_argument,
    shell:
        "cxrloc external-boxes --task {params.task:q} --vindr {input.table:q} --out {output:q} > {log:q} 2>&1"
