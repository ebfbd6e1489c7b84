# Aggregation: the appendix's tables (markdown, LaTeX), figures, and appendix.tex.


localrules:
    aggregate,
    appendix_pdf,


rule aggregate:
    input:
        **CACHE,
        runs=grid(f"{run_dir()}/metrics.json"),
        histories=grid(f"{run_dir()}/history.csv"),
        cams=grid(f"{run_dir()}/cams.npz"),
        externals=[f for e in EXTERNAL for f in grid(f"{run_dir()}/external/{e}.json")],
        lungs=f"{OUT}/masks/lungs.npz",
        splits=expand(f"{OUT}/splits/{{task}}.csv", task=TASKS),
    output:
        appendix=f"{OUT}/tables/appendix.tex",
        tables=report(
            f"{OUT}/tables/README.md",
            caption="../report/tables.rst",
            category="Tables",
        ),
        markdown=directory(f"{OUT}/tables/md"),
        latex=directory(f"{OUT}/tables/tex"),
        figures=report(
            directory(f"{OUT}/tables/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    log:
        f"{OUT}/logs/aggregate.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dataset=DS,
        out=folder("appendix"),
        cache=folder("images"),
        bootstrap=config["evaluate"]["bootstrap"],
    shell:
        "cxrloc aggregate --dataset {params.dataset:q} --runs {input.runs:q} --histories {input.histories:q}"
        " --externals {input.externals:q} --out {params.out:q} --cache {params.cache:q} --lungs {input.lungs:q}"
        " --splits {input.splits:q} --bootstrap {params.bootstrap} > {log:q} 2>&1"


rule appendix_pdf:
    input:
        f"{OUT}/tables/appendix.tex",
    output:
        f"{OUT}/tables/appendix.pdf",
    log:
        f"{OUT}/logs/appendix_pdf.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        out=lambda w, input: os.path.dirname(input[0]),
    shell:
        "log=$(realpath {log:q}) && cd {params.out:q}"
        ' && latexmk -pdf -interaction=nonstopmode -halt-on-error appendix.tex > "$log" 2>&1'
