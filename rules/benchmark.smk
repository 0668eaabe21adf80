rule benchmark:
    """Time one shard of graphs on one device. The measuring instrument: passes are repeated until
    two agree, and the reference graph is timed in between. A device runs one job at a time (its
    resource device_<name>); the host's job takes every core, so no other job runs beside it; jobs
    of different phones and boards may overlap. It stays on the machine that owns the device
    (localrule)."""
    input:
        graphs="results/graphs/{scope}/{shard}",
        reference="results/graphs/reference.tflite",
        cache_probe="results/graphs/cache_probe.tflite",
    output:
        "results/timings/{device}/{scope}/{shard}.parquet",
    log:
        "results/logs/benchmark/{device}/{scope}/{shard}.log",
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


rule check_graphs:
    """The graphs a device times again after its campaign: the test components and the networks."""
    input:
        structures=PLAN.structure_files(),
        graphs=PLAN.graph_dirs(SCOPES),
        networks=PLAN.graph_dirs(NETWORK_SCOPES),
    output:
        "results/check/graphs.txt",
    log:
        "results/logs/check/graphs.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        split=as_json(config["split"]),
    shell:
        "fdi check-graphs --structures {input.structures:q} --graph-dirs {input.graphs:q}"
        " --network-dirs {input.networks:q} --split {params.split:q} --out {output:q} > {log:q} 2>&1"


rule check:
    """The test components and networks timed again in a later, separate job on the same device:
    Table 5's noise floor compares the two, so drift between jobs shows in it. It waits for the
    device's whole campaign (`after`)."""
    input:
        graphs="results/check/graphs.txt",
        reference="results/graphs/reference.tflite",
        cache_probe="results/graphs/cache_probe.tflite",
        after=lambda wildcards: PLAN.timing_files(wildcards)
        + PLAN.network_timing_files(wildcards),
    output:
        "results/timings/{device}/check.parquet",
    log:
        "results/logs/benchmark/{device}/check.log",
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
        " --graph-list {input.graphs:q} --reference {input.reference:q}"
        " --cache-probe {input.cache_probe:q} --out {output:q} > {log:q} 2>&1"
