rule baseline:
    """One comparison model, tuned by cross-validation on the training rows; test predictions."""
    input:
        "results/dataset/{device}.parquet",
    output:
        "results/baselines/{device}/{layer}/{model}.parquet",
    log:
        "results/logs/baseline/{device}/{layer}/{model}.log",
    conda:
        "../envs/fdi.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        settings=PLAN.baseline_settings,
    shell:
        "fdi baseline --dataset {input:q} --layer {wildcards.layer} --model {wildcards.model}"
        " --settings {params.settings:q} --out {output:q} > {log:q} 2>&1"
