rule sample:
    """Random networks of one layer type in its scope (or the Figure 1 sweep), seeded."""
    output:
        "results/structures/{scope}.parquet",
    log:
        "results/logs/sample/{scope}.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        settings=scope_settings,
        seed=config["seed"],
    shell:
        "fdi sample --scope {wildcards.scope} --settings {params.settings:q} --seed {params.seed}"
        " --out {output:q} > {log:q} 2>&1"
