# Aggregation: the appendix's tables (markdown, LaTeX), figures, and appendix.tex.
localrules: aggregate


rule aggregate:
    input:
        runs=grid(f"{run_dir()}/metrics.json"),
        histories=grid(f"{run_dir()}/history.csv"),
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
    conda:
        ENV
    log:
        f"{OUT}/logs/aggregate.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "cxrloc aggregate --dataset {DS} --runs {input.runs} --histories {input.histories} --out {params.out}"
        " > {log} 2>&1"
