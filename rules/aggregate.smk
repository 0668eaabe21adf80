rule aggregate_round:
    """One device's dataset after the campaign (round 0) and after each adaptive round: structures,
    Table 3 features, timings with their quality (passes, spread, drift, flagged: never settled),
    the later check job's times, the train/test split (adaptive rows always train, unsettled rows
    never), and what the campaign went through (passes, waits, the reference's spread).
    """
    input:
        structures=PLAN.round_structure_files,
        timings=PLAN.round_timing_files,
        check="results/timings/{device}/check.parquet",
    output:
        dataset="results/dataset/{device}/round{round}.parquet",
        campaign="results/dataset/{device}/round{round}.campaign.csv",
    log:
        "results/logs/aggregate/{device}/round{round}.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        split=as_json(config["split"]),
        settings=PLAN.device_settings,
    shell:
        "fdi aggregate --structures {input.structures:q} --timings {input.timings:q} --check {input.check:q}"
        " --split {params.split:q} --device-settings {params.settings:q} --out {output.dataset:q}"
        " --campaign {output.campaign:q} > {log:q} 2>&1"


rule dataset:
    """A device's dataset for the models: the one after the last adaptive round."""
    input:
        f"results/dataset/{{device}}/round{ROUNDS}.parquet",
    output:
        "results/dataset/{device}.parquet",
    log:
        "results/logs/aggregate/{device}/final.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    shell:
        "cp {input:q} {output:q} 2> {log:q}"
