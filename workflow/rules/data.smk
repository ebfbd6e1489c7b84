# Data: synthesize (embedded default) or download (NIH) → prepare_splits → cache_images.
SOURCE = config["source"]
RAW = f"{OUT}/raw" if SOURCE["kind"] == "synthetic" else SOURCE["root"]
IMAGES = RAW if SOURCE["kind"] == "imagefolder" else f"{RAW}/images"
METADATA = f"{RAW}/Data_Entry.csv" if SOURCE["kind"] == "synthetic" else SOURCE.get("metadata")
TEST_LIST = f"{RAW}/{SOURCE['test_list']}" if SOURCE.get("test_list") else None
LESIONS = f"{RAW}/lesion_masks" if SOURCE["kind"] == "synthetic" else None
MARKERS = f"{RAW}/markers.csv" if SOURCE["kind"] == "synthetic" else None
BBOXES = SOURCE.get("bboxes")


def locset(task="{task}"):
    """The task's localization set (NIH boxes), when the source has boxes."""
    return [f"{OUT}/splits/{task}.localization.csv"] if BBOXES else []

NIH_ARCHIVES = [
    "vfk49d74nhbxq3nqjg0900w5nvkorp5c", "i28rlmbvmfjbl8p2n3ril0pptcmcu9d1", "f1t00wrtdk94satdfb9olcolqx20z2jp",
    "0aowwzs5lhjrceb3qp67ahp0rd1l1etg", "v5e3goj22zr6h8tzualxfsqlqaygfbsn", "asi7ikud9jwnkrnkj99jnpfkjdes7l6l",
    "jn1b4mw4n6lnh74ovmcjb8y48h8xj07n", "tvpxmn7qyrgl0w8wfh9kqfjskv6nmm1j", "upyy3ml7qdumlgk2rfcvlb9k6gvqq2pj",
    "l6nilvfa9cg3s28tqv1qc1olm3gnz54p", "hhq8fkdgvcari67vfhs7ppg2w6ni4jze", "ioqwiy20ihqwyr8pf4c24eazhh281pbu",
]



def expected_archive(name):
    """`` --size N --sha256 H`` of an archive, from ``source.archives`` (what is known of it)."""
    known = SOURCE.get("archives", {}).get(name, {})
    return option("--size", known.get("size")) + option("--sha256", known.get("sha256"))


if SOURCE["kind"] == "synthetic":

    rule synthesize:
        output:
            images=directory(f"{RAW}/images"),
            metadata=METADATA,
            lesions=directory(f"{RAW}/lesion_masks"),
            lungs=directory(f"{RAW}/lung_masks"),
            test_list=f"{RAW}/test_list.txt",
            markers=MARKERS,
        params:
            settings=settings("source"),
            raw=RAW,
        conda:
            ENV
        log:
            f"{OUT}/logs/synthesize.log",
        threads: 1
        resources:
            mem_mb=2000,
            runtime=30,
        shell:
            "cxrloc synthesize --settings {params.settings:q} --out {params.raw:q} > {log:q} 2>&1"

elif SOURCE["kind"] == "nih":

    localrules:
        download_archive,
        extract_images,
        nih_file,

    rule download_archive:
        output:
            temp(f"{RAW}/archives/images_{{i}}.tar.gz"),
        params:
            url=lambda w: f"https://nihcc.box.com/shared/static/{NIH_ARCHIVES[int(w.i) - 1]}.gz",
            expected=lambda w: expected_archive(f"images_{w.i}.tar.gz"),
            manifest=f"{RAW}/archives/SHA256SUMS",
        conda:
            ENV
        log:
            f"{OUT}/logs/download/images_{{i}}.log",
        threads: 1
        resources:
            mem_mb=500,
            runtime=240,
        retries: 2
        shell:
            "cxrloc download --url {params.url:q} --out {output:q}{params.expected} --manifest {params.manifest:q}"
            " > {log:q} 2>&1"

    rule nih_file:
        output:
            f"{RAW}/{{name}}",
        wildcard_constraints:
            name="Data_Entry_2017_v2020.csv|BBox_List_2017.csv",
        conda:
            ENV
        log:
            f"{OUT}/logs/nih_file/{{name}}.log",
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
        conda:
            ENV
        log:
            f"{OUT}/logs/extract_images.log",
        threads: 1
        resources:
            mem_mb=1000,
            runtime=120,
        shell:
            "cxrloc extract --archives {input:q} --out {output:q} --expect 112120 > {log:q} 2>&1"


if SOURCE["kind"] == "imagefolder":

    rule prepare_splits:
        input:
            IMAGES,
        output:
            splits=f"{OUT}/splits/{{task}}.csv",
            report=f"{OUT}/splits/{{task}}.report.json",
        conda:
            ENV
        log:
            f"{OUT}/logs/prepare_splits/{{task}}.log",
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        shell:
            "cxrloc index-imagefolder --root {input:q} --task {wildcards.task:q} --out {output.splits:q} > {log:q} 2>&1"

else:

    rule prepare_splits:
        input:
            metadata=METADATA,
            test_list=TEST_LIST or [],
            bboxes=BBOXES or [],
        output:
            splits=f"{OUT}/splits/{{task}}.csv",
            report=f"{OUT}/splits/{{task}}.report.json",
            locset=locset(),
        params:
            seed=config.get("split_seed", 0),
            test_list=lambda w, input: option("--test-list", input.test_list),
            bboxes=lambda w, input: option("--bboxes", input.bboxes),
        conda:
            ENV
        log:
            f"{OUT}/logs/prepare_splits/{{task}}.log",
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        shell:
            "cxrloc prepare-splits --metadata {input.metadata:q} --task {wildcards.task:q} --seed {params.seed}"
            "{params.test_list}{params.bboxes} --out {output.splits:q} > {log:q} 2>&1"


rule cache_images:
    input:
        splits=expand(f"{OUT}/splits/{{task}}.csv", task=config["tasks"]),
        locsets=[f for t in config["tasks"] for f in locset(t)],
        images=IMAGES,
        lesions=LESIONS or [],
    output:
        images=f"{OUT}/cache/images.npy",
        index=f"{OUT}/cache/index.csv",
        digest=f"{OUT}/cache/SHA256SUMS",
    params:
        out=f"{OUT}/cache",
        size=config["image_size"],
        lesions=lambda w, input: option("--lesions", input.lesions),
        skip=" --skip-missing" if SOURCE.get("skip_missing_images") else "",
    conda:
        ENV
    log:
        f"{OUT}/logs/cache_images.log",
    threads: 8
    resources:
        mem_mb=4000,
        runtime=120,
    shell:
        "cxrloc cache-images --splits {input.splits:q} --extra {input.locsets:q} --images {input.images:q}"
        " --size {params.size}{params.lesions}{params.skip} --threads {threads} --out {params.out:q} > {log:q} 2>&1"
