# Data: synthesize (embedded default) or download (NIH) → prepare_splits → cache_images.


if SYNTHETIC:

    rule synthesize:
        output:
            images=directory(f"{RAW}/images"),
            metadata=METADATA,
            lesions=directory(f"{RAW}/lesion_masks"),
            lungs=directory(f"{RAW}/lung_masks"),
            test_list=f"{RAW}/test_list.txt",
            markers=MARKERS,
        log:
            f"{OUT}/logs/synthesize.log",
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=2000,
            runtime=30,
        params:
            settings=settings("source"),
            raw=folder("metadata"),
            layout=MARKER_LAYOUT,
        shell:
            "cxrloc synthesize --settings {params.settings:q} --out {params.raw:q} > {log:q} 2>&1"

elif IMPLANTED:

    rule implant:
        input:
            films=SOURCE["root"],
        output:
            images=directory(f"{RAW}/images"),
            metadata=METADATA,
            lesions=directory(LESIONS),
            markers=MARKERS,
        log:
            f"{OUT}/logs/implant.log",
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=2000,
            runtime=30,
        params:
            settings=settings("source"),
            raw=folder("metadata"),
            films=films_digest(SOURCE["root"]),
            layout=MARKER_LAYOUT,
        shell:
            "cxrloc implant --films {input.films:q} --settings {params.settings:q} --out {params.raw:q} > {log:q} 2>&1"

elif PUBLIC:

    rule public_table:
        input:
            root=SOURCE["root"],
        output:
            table=METADATA,
            test_list=TEST_LIST,
        log:
            f"{OUT}/logs/public_table.log",
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=8000,
            runtime=30,
        params:
            kind=SOURCE["kind"],
            uncertain=SOURCE["uncertain"],
            views=SOURCE["views"],
            named=sorted({c for t in TASKS.values() for c in t.classes}),
            films=FILMS,
        shell:
            "cxrloc public-table --kind {params.kind} --root {input.root:q} --uncertain {params.uncertain}"
            " --views {params.views:q} --named {params.named:q} --out {output.table:q}"
            " --test-list {output.test_list:q} > {log:q} 2>&1"

elif SOURCE["kind"] == "nih":

    localrules:
        download_archive,
        extract_images,
        nih_file,

    rule download_archive:
        output:
            temp(f"{RAW}/archives/images_{{i}}.tar.gz"),
        log:
            f"{OUT}/logs/download/images_{{i}}.log",
        retries: 2
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=500,
            runtime=240,
        params:
            url=lambda w: f"https://nihcc.box.com/shared/static/{NIH_ARCHIVES[int(w.i) - 1]}.gz",
            expected=lambda w: expected_archive(f"images_{w.i}.tar.gz"),
            manifest=f"{RAW}/archives/SHA256SUMS",
        shell:
            "cxrloc download --url {params.url:q} --out {output:q}{params.expected} --manifest {params.manifest:q}"
            " > {log:q} 2>&1"

    rule nih_file:
        output:
            f"{RAW}/{{name}}",
        log:
            f"{OUT}/logs/nih_file/{{name}}.log",
        wildcard_constraints:
            name="Data_Entry_2017_v2020.csv|BBox_List_2017.csv",
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=1000,
            runtime=5,
        shell:
            "cxrloc nih-file --name {wildcards.name:q} --out {output:q} > {log:q} 2>&1"

    rule extract_images:
        input:
            expand(f"{RAW}/archives/images_{{i}}.tar.gz", i=[f"{k:03d}" for k in range(1, 13)]),
        output:
            directory(f"{RAW}/images"),
        log:
            f"{OUT}/logs/extract_images.log",
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=1000,
            runtime=120,
        shell:
            "cxrloc extract --archives {input:q} --out {output:q} --expect 112120 > {log:q} 2>&1"


if SOURCE["kind"] == "imagefolder":

    rule index_imagefolder:
        input:
            IMAGES,
        output:
            splits=f"{OUT}/splits/{{task}}.csv",
            report=f"{OUT}/splits/{{task}}.report.json",
        log:
            f"{OUT}/logs/index_imagefolder/{{task}}.log",
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            task=task_argument,
            films=FILMS,
        shell:
            "cxrloc index-imagefolder --root {input:q} --task {params.task:q} --out {output.splits:q} > {log:q} 2>&1"

else:

    rule prepare_splits:
        input:
            metadata=METADATA,
            test_list=TEST_LIST or [],
            bboxes=BBOXES or [],
            images=IMAGES if SKIP_MISSING else [],
        output:
            splits=f"{OUT}/splits/{{task}}.csv",
            report=f"{OUT}/splits/{{task}}.report.json",
            locset=locset(),
            missing=f"{OUT}/splits/{{task}}.missing.csv" if SKIP_MISSING else [],
        log:
            f"{OUT}/logs/prepare_splits/{{task}}.log",
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            task=task_argument,
            seed=config["split_seed"],
            test_list=lambda w, input: option("--test-list", input.test_list),
            bboxes=lambda w, input: option("--bboxes", input.bboxes),
            skip=lambda w, input: option("--skip-missing", input.images),
            table=table_options(),
            films=FILMS if SKIP_MISSING else "",
        shell:
            "cxrloc prepare-splits --metadata {input.metadata:q} --task {params.task:q} --seed {params.seed}"
            "{params.test_list}{params.bboxes}{params.skip}{params.table} --out {output.splits:q} > {log:q} 2>&1"


# The study's image cache and each external set's (with lesion masks or without): one definition
# builds the three rules.
for name, scope, lesions in (
    ("cache_images", "", bool(LESIONS)),
    ("cache_external", "external/{ext}/", True),
    ("cache_external_plain", "external/{ext}/", False),
):

    rule:
        name:
            name
        input:
            unpack(cache_inputs(scope)),
        output:
            **cache_files(f"{OUT}/{scope}cache", lesions),
        log:
            f"{OUT}/logs/{scope}cache_images.log",
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
            extra=lambda w, input: option("--extra", input.extra),
            lesions=lambda w, input: option("--lesions", input.lesions),
            markers=lambda w, input: option("--markers", input.markers),
            films=films_of,
        shell:
            "cxrloc cache-images --splits {input.tables:q}{params.extra} --images {input.images:q}"
            " --size {params.size}{params.lesions}{params.markers} --threads {threads} --out {params.out:q} > {log:q} 2>&1"
