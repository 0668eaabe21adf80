rule networks:
    """Whole networks (the families' random-width networks, and the zoo's as family `zoo`):
    measured time against the device's time model, per device; Spearman's rank correlation per
    family."""
    input:
        structures=PLAN.network_structure_files(),
        timings=[
            path
            for device in DEVICES
            for path in PLAN.device_timing_files(device, NETWORK_SCOPES)
        ],
        checks=expand("results/timings/{device}/check.parquet", device=DEVICES),
        time_models=PLAN.time_model_files(DEVICES),
        zoo=PLAN.zoo_tables(("csv",)),
        energy=PLAN.energy_files(
            [
                (device, stage)
                for device in DEVICES
                for stage in PLAN.timing_stages(NETWORK_SCOPES)
            ]
        ),
    output:
        csv=report(
            "results/tables/networks.csv",
            caption="../report/networks.rst",
            category="Time models",
        ),
        markdown="results/tables/networks.md",
    log:
        "results/logs/networks.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        checks=lambda wildcards, input: PLAN.dataset_pairs(input.checks),
        settings=PLAN.instrument_settings(),
    shell:
        "fdi networks --structures {input.structures:q} --timings {input.timings:q} --checks {params.checks}"
        " --time-models {input.time_models:q} --settings {params.settings:q} --zoo {input.zoo:q}"
        " --energy {input.energy:q} --csv {output.csv:q} --markdown {output.markdown:q} > {log:q} 2>&1"
