rule register:
    """A device's fitted time models, stored under its fingerprint's key (device type, OS and
    runtime version), for `fdi predict`."""
    input:
        dataset="results/dataset/{device}.parquet",
        models=expand("results/models/{{device}}/{layer}.json", layer=LAYERS),
        op_models=PLAN.op_model_files,
    output:
        "results/registry/{device}.json",
    log:
        "results/logs/register/{device}.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        op_models=lambda wildcards, input: PLAN.option("--op-models", input.op_models),
    shell:
        "fdi register --device {wildcards.device} --dataset {input.dataset:q} --models {input.models:q}"
        " {params.op_models} --out {output:q} > {log:q} 2>&1"
