# DeepIoT+localMin (Algorithm 2) on the whole-network table's test networks, per device.
# Not part of the default target: snakemake results/tables/localmin.csv --cores all


rule localmin_plan:
    """Expanded widths of every test network, per mode, from this device's time models."""
    input:
        structures=PLAN.network_structure_files(),
        time_model="results/registry/{device}.json",
    output:
        "results/localmin/{device}/plan.parquet",
    log:
        "results/logs/localmin/{device}/plan.log",
    conda:
        "../envs/fdi.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=PLAN.localmin_plan_settings(),
    shell:
        "fdi localmin-plan --structures {input.structures:q} --time-model {input.time_model:q}"
        " --settings {params.settings:q} --out {output:q} > {log:q} 2>&1"


rule localmin_export:
    """Widen the original networks losslessly (outputs checked), export the expansions."""
    input:
        plan="results/localmin/{device}/plan.parquet",
        structures=PLAN.network_structure_files(),
        originals=PLAN.graph_dirs(NETWORK_SCOPES),
    output:
        graphs=directory("results/graphs/{device}/localmin"),
        graph_list="results/localmin/{device}/graphs.txt",
        exported="results/localmin/{device}/exported.parquet",
    log:
        "results/logs/localmin/{device}/export.log",
    conda:
        "../envs/fdi.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "fdi localmin-export --plan {input.plan:q} --structures {input.structures:q}"
        " --original-dirs {input.originals:q} --out-dir {output.graphs:q}"
        " --graph-list {output.graph_list:q} --out {output.exported:q} > {log:q} 2>&1"


rule localmin_benchmark:
    """The originals and their expansions timed side by side, in one job on the device."""
    input:
        graphs="results/localmin/{device}/graphs.txt",
        expanded="results/graphs/{device}/localmin",
        reference="results/graphs/reference.tflite",
        cache_probe="results/graphs/cache_probe.tflite",
    output:
        "results/timings/{device}/localmin.parquet",
    log:
        "results/logs/benchmark/{device}/localmin.log",
    localrule: True
    conda:
        "../envs/benchmark.yaml"
    threads: PLAN.benchmark_threads
    resources:
        **DEVICE_RESOURCES,
        mem_mb=2000,
        runtime=60,
    params:
        settings=PLAN.localmin_device_settings,
    shell:
        "fdi benchmark --device {wildcards.device} --settings {params.settings:q}"
        " --graph-list {input.graphs:q} --reference {input.reference:q}"
        " --cache-probe {input.cache_probe:q} --out {output:q} > {log:q} 2>&1"


rule localmin_table:
    """Measured and predicted change of every expansion, with the noise floor: localmin.csv."""
    input:
        exported=expand("results/localmin/{device}/exported.parquet", device=DEVICES),
        timings=expand("results/timings/{device}/localmin.parquet", device=DEVICES),
        campaign=[
            path
            for device in DEVICES
            for path in PLAN.device_timing_files(device, NETWORK_SCOPES)
        ],
    output:
        csv="results/tables/localmin.csv",
        markdown="results/tables/localmin.md",
    log:
        "results/logs/localmin/table.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        exported=lambda wildcards, input: PLAN.dataset_pairs(input.exported),
        timings=lambda wildcards, input: PLAN.dataset_pairs(input.timings),
        settings=PLAN.instrument_settings(),
    shell:
        "fdi localmin-table --exported {params.exported} --timings {params.timings}"
        " --campaign {input.campaign:q} --settings {params.settings:q}"
        " --csv {output.csv:q} --markdown {output.markdown:q} > {log:q} 2>&1"
