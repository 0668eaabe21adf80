rule sample:
    """One scope's structures, seeded: a layer type's random networks (Table 2), the Figure 1
    sweep, a network family's layer shapes under random widths, or whole random-width networks.
    """
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
        settings=PLAN.scope_settings,
        kind=PLAN.scope_kind,
        seed=config["seed"],
    shell:
        "fdi sample --scope {wildcards.scope} --kind {params.kind} --settings {params.settings:q}"
        " --seed {params.seed} --out {output:q} > {log:q} 2>&1"
