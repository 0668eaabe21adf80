rule fit_ops:
    """One device's op models, fitted on the zoo's ops timed alone (and the campaign's conv and FC
    layers: CONV_2D and FULLY_CONNECTED ops timed alone too): an Algorithm 1 tree per op kind,
    and the in-network term on the sample networks timed whole (fdi.timemodel.op_models).
    """
    input:
        graphs=PLAN.graph_dirs(ZOO_SCOPES),
        timings=PLAN.zoo_timing_files,
        dataset="results/dataset/{device}.parquet",
    output:
        "results/models/{device}/ops.json",
    log:
        "results/logs/fit/{device}/ops.log",
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=PLAN.device_settings,
        time_model=as_json(config["time_model"]),
    shell:
        "fdi fit-ops --graphs {input.graphs:q} --timings {input.timings:q} --settings {params.settings:q}"
        " --time-model {params.time_model:q} --dataset {input.dataset:q} --out {output:q} > {log:q} 2>&1"


rule zoo_table:
    """The zoo's networks timed whole on one device against their prediction op by op, through
    the path `fdi predict` takes (the device's time model, its registry entry); per role (sample /
    test) the share within 10% and Spearman.
    """
    input:
        graphs=PLAN.graph_dirs(ZOO_SCOPES),
        timings=PLAN.zoo_timing_files,
        time_model="results/registry/{device}.json",
    output:
        csv="results/tables/zoo/{device}.csv",
        markdown="results/tables/zoo/{device}.md",
    log:
        "results/logs/zoo/{device}.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=PLAN.device_settings,
    shell:
        "fdi zoo-table --device {wildcards.device} --graphs {input.graphs:q} --timings {input.timings:q}"
        " --time-model {input.time_model:q} --settings {params.settings:q} --csv {output.csv:q}"
        " --markdown {output.markdown:q} > {log:q} 2>&1"
