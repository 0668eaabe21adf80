rule benchmark:
    """Time one shard of graphs on one device. The measuring instrument: a device runs one job at a
    time (its resource device_<name>); the host's job takes every core, so no other job runs beside
    it; jobs of different phones and boards may overlap. It stays on the machine that owns the
    device (localrule)."""
    input:
        "results/graphs/{scope}/{shard}",
    output:
        "results/timings/{device}/{scope}/{shard}.parquet",
    log:
        "results/logs/benchmark/{device}/{scope}/{shard}.log",
    localrule: True
    conda:
        "../envs/benchmark.yaml"
    threads: benchmark_threads
    resources:
        **DEVICE_RESOURCES,
        mem_mb=2000,
        runtime=60,
    params:
        settings=device_settings,
    shell:
        "fdi benchmark --device {wildcards.device} --settings {params.settings:q}"
        " --graphs {input:q} --out {output:q} > {log:q} 2>&1"
