rule fit:
    """Algorithm 1 on one device's training rows of one layer type, stored as readable JSON."""
    input:
        "results/dataset/{device}.parquet",
    output:
        "results/models/{device}/{layer}.json",
    log:
        "results/logs/fit/{device}/{layer}.log",
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=as_json(config["time_model"]),
    shell:
        "fdi fit --dataset {input:q} --layer {wildcards.layer} --settings {params.settings:q}"
        " --out {output:q} > {log:q} 2>&1"
