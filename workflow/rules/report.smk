# Aggregation: the appendix's tables (markdown, LaTeX), figures, and appendix.tex.
localrules: aggregate


rule aggregate:
    input:
        runs=grid(f"{run_dir()}/metrics.json"),
        histories=grid(f"{run_dir()}/history.csv"),
        cams=grid(f"{run_dir()}/cams.npz"),
        images=f"{OUT}/cache/images.npy",
        lungs=f"{OUT}/masks/lungs.npz",
    output:
        appendix=f"{OUT}/tables/appendix.tex",
        tables=report(f"{OUT}/tables/README.md", caption="../report/tables.rst", category="Tables"),
        figures=report(
            directory(f"{OUT}/tables/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    params:
        out=f"{OUT}/tables",
        cache=f"{OUT}/cache",
    conda:
        ENV
    log:
        f"{OUT}/logs/aggregate.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "cxrloc aggregate --dataset {DS:q} --runs {input.runs:q} --histories {input.histories:q} --out {params.out:q}"
        " --cache {params.cache:q} --lungs {input.lungs:q} > {log:q} 2>&1"


rule appendix_pdf:
    input:
        f"{OUT}/tables/appendix.tex",
    output:
        f"{OUT}/tables/appendix.pdf",
    params:
        out=f"{OUT}/tables",
    conda:
        ENV
    log:
        f"{OUT}/logs/appendix_pdf.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "log=$(realpath {log:q}) && cd {params.out:q} && latexmk -xelatex -interaction=nonstopmode appendix.tex > \"$log\" 2>&1"
