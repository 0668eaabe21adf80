rule adaptive_sample:
    """One round of adaptive sampling on one device: new structures around the training rows that
    the configured time model predicts worst out of fold (fdi.timemodel.adaptive)."""
    input:
        lambda wildcards: f"results/dataset/{wildcards.device}/round{int(wildcards.round) - 1}.parquet",
    output:
        "results/structures/{device}/adaptive{round}.parquet",
    log:
        "results/logs/adaptive/{device}/round{round}.log",
    conda:
        "../envs/fdi.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        time_model=as_json(config["time_model"]),
        settings=PLAN.adaptive_settings(),
        seed=config["seed"],
    shell:
        "fdi adaptive --dataset {input:q} --time-model {params.time_model:q} --settings {params.settings:q}"
        " --round {wildcards.round} --seed {params.seed} --out {output:q} > {log:q} 2>&1"


rule export_adaptive:
    """One shard of an adaptive round's structures -> .tflite graphs."""
    input:
        "results/structures/{device}/adaptive{round}.parquet",
    output:
        directory("results/graphs/{device}/adaptive{round}/{shard}"),
    log:
        "results/logs/export/{device}/adaptive{round}/{shard}.log",
    conda:
        "../envs/export.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    shell:
        "fdi export --structures {input:q} --shard {wildcards.shard} --out {output:q} > {log:q} 2>&1"


rule benchmark_adaptive:
    """Time one shard of an adaptive round on its device, with the same instrument as the campaign."""
    input:
        graphs="results/graphs/{device}/adaptive{round}/{shard}",
        reference="results/graphs/reference.tflite",
        cache_probe="results/graphs/cache_probe.tflite",
    output:
        "results/timings/{device}/adaptive{round}/{shard}.parquet",
    log:
        "results/logs/benchmark/{device}/adaptive{round}/{shard}.log",
    localrule: True
    conda:
        "../envs/benchmark.yaml"
    threads: PLAN.benchmark_threads
    resources:
        **DEVICE_RESOURCES,
        mem_mb=2000,
        runtime=60,
    params:
        settings=PLAN.device_settings,
    shell:
        "fdi benchmark --device {wildcards.device} --settings {params.settings:q}"
        " --graphs {input.graphs:q} --reference {input.reference:q}"
        " --cache-probe {input.cache_probe:q} --out {output:q} > {log:q} 2>&1"
