rule table5:
    """Every model scored on the same test rows: MAPE, MAE, R2, and the measurement noise floor."""
    input:
        datasets=expand("results/dataset/{device}.parquet", device=DEVICES),
        models=expand(
            "results/models/{device}/{layer}.json", device=DEVICES, layer=LAYERS
        ),
        baselines=PLAN.baseline_files(DEVICES, LAYERS),
    output:
        csv=report(
            "results/tables/table5.csv",
            caption="../report/table5.rst",
            category="Time models",
        ),
        markdown="results/tables/table5.md",
    log:
        "results/logs/table5.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        datasets=lambda wildcards, input: PLAN.dataset_pairs(input.datasets),
        mse_is_time_model=PLAN.mse_is_time_model(LAYERS),
    shell:
        "fdi table5 --datasets {params.datasets} --models {input.models:q} --baselines {input.baselines:q}"
        " --mse-is-time-model {params.mse_is_time_model}"
        " --csv {output.csv:q} --markdown {output.markdown:q} > {log:q} 2>&1"


rule table4:
    """OLS p-values of the explanatory variables per device and layer type (the paper's Table 4)."""
    input:
        expand("results/dataset/{device}.parquet", device=DEVICES),
    output:
        report(
            "results/tables/table4.csv",
            caption="../report/table4.rst",
            category="Time models",
        ),
    log:
        "results/logs/table4.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        datasets=lambda wildcards, input: PLAN.dataset_pairs(input),
        layers=LAYERS,
    shell:
        "fdi table4 --datasets {params.datasets} --layers {params.layers} --out {output:q} > {log:q} 2>&1"


rule fig1:
    """Figure 1: the measured channel sweep of every device, with FLOPs for contrast."""
    input:
        expand("results/dataset/{device}.parquet", device=DEVICES),
    output:
        report(
            "results/figures/fig1.png",
            caption="../report/fig1.rst",
            category="Measurements",
        ),
    log:
        "results/logs/fig1.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        datasets=lambda wildcards, input: PLAN.dataset_pairs(input),
    shell:
        "fdi fig1 --datasets {params.datasets} --out {output:q} > {log:q} 2>&1"


rule fig2:
    """Figure 2: the first device's fitted conv time model, drawn with its conditions."""
    input:
        f"results/models/{DEVICES[0]}/cnn.json",
    output:
        report(
            "results/figures/fig2.png",
            caption="../report/fig2.rst",
            category="Time models",
        ),
    log:
        "results/logs/fig2.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        title=f"Algorithm 1 conv time model, device {DEVICES[0]}",
    shell:
        "fdi fig2 --model {input:q} --title {params.title:q} --out {output:q} > {log:q} 2>&1"
