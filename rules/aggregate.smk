rule aggregate:
    """One device's dataset: structures, Table 3 features, timing statistics, train/test split."""
    input:
        structures=structure_files,
        timings=timing_files,
    output:
        "results/dataset/{device}.parquet",
    log:
        "results/logs/aggregate/{device}.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        split=as_json(config["split"]),
        statistic=device_statistic,
    shell:
        "fdi aggregate --structures {input.structures:q} --timings {input.timings:q}"
        " --split {params.split:q} --statistic {params.statistic} --out {output:q} > {log:q} 2>&1"
