# Energy per inference (fdi.energy): every timings file of a device with an energy source gets an
# energy file beside it, from the readings in it (RAPL, the battery gauge) or from the device's
# power-meter traces (config PLAN.energy_traces). The whole-network and compression tables read them.


rule energy:
    """One timings file's energy per inference: its blocks' windows integrated over the device's
    power source, the idle baseline subtracted. Only this device's settings and traces are params.
    """
    input:
        timings="results/timings/{device}/{stage}.parquet",
        traces=PLAN.energy_trace_paths,
    output:
        "results/energy/{device}/{stage}.parquet",
    log:
        "results/logs/energy/{device}/{stage}.log",
    wildcard_constraints:
        stage=r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*",
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=PLAN.device_settings,
        traces=lambda wildcards: as_json(PLAN.energy_traces(wildcards)),
    shell:
        "fdi energy --device {wildcards.device} --settings {params.settings:q} --traces {params.traces:q}"
        " --timings {input.timings:q} --out {output:q} > {log:q} 2>&1"
