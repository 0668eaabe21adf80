# DeepIoT and the time-steered variants on the trained tasks (SPEC §3, Tables 6 and 8, Fig. 5).
# Not part of the default target: snakemake results/tables/table6.csv results/tables/table8.csv --cores all


wildcard_constraints:
    variant="deepiot|deepiot_flops|fastdeepiot_[A-Za-z][A-Za-z0-9_]*",


rule compress_search:
    """The compressor-critic search of one variant: a curve of extracted points (resumable)."""
    input:
        unpack(PLAN.variant_models),
        original="results/tasks/{task}/original.keras",
        data=f"{TASK_DATA_DIR}/{{task}}.npz",
    output:
        "results/compress/{task}/{variant}/search.json",
    log:
        "results/logs/compress/{task}/{variant}/search.log",
    conda:
        "../envs/fdi.yaml"
    threads: PLAN.compress_threads
    resources:
        mem_mb=8000,
        runtime=600,
    params:
        settings=PLAN.search_settings,
        family=lambda wildcards: config["tasks"][wildcards.task]["family"],
        device=lambda wildcards: (
            f"--device {search_device(wildcards.variant)}"
            if search_device(wildcards.variant)
            else ""
        ),
        out_dir=subpath(output[0], parent=True),
    shell:
        "fdi compress-search --task {wildcards.task} --variant {wildcards.variant}"
        " --family {params.family} --settings {params.settings:q} {params.device}"
        " --original {input.original:q} --data {input.data:q} --out-dir {params.out_dir:q}"
        " --time-models {input.time_models:q} --threads {threads}"
        " > {log:q} 2>&1"


rule compress_finish:
    """Every point fine-tuned with its structure frozen (FastDeepIoT: after Algorithm 2), judged
    on the test split and exported."""
    input:
        unpack(PLAN.variant_models),
        search="results/compress/{task}/{variant}/search.json",
        data=f"{TASK_DATA_DIR}/{{task}}.npz",
    output:
        points="results/compress/{task}/{variant}/final/points.parquet",
        graphs=directory("results/compress/{task}/{variant}/final/graphs"),
    log:
        "results/logs/compress/{task}/{variant}/finish.log",
    conda:
        "../envs/fdi.yaml"
    threads: PLAN.compress_threads
    resources:
        mem_mb=8000,
        runtime=240,
    params:
        settings=PLAN.finish_settings("finetune", "localmin"),
        expand_with=lambda wildcards: (
            f"--expand-with {search_device(wildcards.variant)}"
            if search_device(wildcards.variant)
            else ""
        ),
        search_dir=subpath(input.search, parent=True),
        out_dir=subpath(output.points, parent=True),
    shell:
        "fdi compress-finish --task {wildcards.task} --variant {wildcards.variant}"
        " --search-dir {params.search_dir:q} --data {input.data:q} --settings {params.settings:q}"
        " {params.expand_with} --out-dir {params.out_dir:q} --time-models {input.time_models:q}"
        " --threads {threads} > {log:q} 2>&1"


rule compress_localmin:
    """DeepIoT+localMin on a device: DeepIoT's points widened by Algorithm 2, no retraining;
    and t_min, the network at every width 1 after Algorithm 2."""
    input:
        unpack(PLAN.variant_models),
        deepiot="results/compress/{task}/deepiot/final/points.parquet",
        data=f"{TASK_DATA_DIR}/{{task}}.npz",
    output:
        points="results/compress/{task}/deepiot_localmin_{device}/final/points.parquet",
        graphs=directory(
            "results/compress/{task}/deepiot_localmin_{device}/final/graphs"
        ),
    log:
        "results/logs/compress/{task}/deepiot_localmin_{device}.log",
    conda:
        "../envs/fdi.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        settings=PLAN.finish_settings("localmin"),
        deepiot_dir=subpath(input.deepiot, parent=True),
        out_dir=subpath(output.points, parent=True),
    shell:
        "fdi compress-localmin --task {wildcards.task} --device {wildcards.device}"
        " --deepiot-dir {params.deepiot_dir:q} --data {input.data:q} --settings {params.settings:q}"
        " --out-dir {params.out_dir:q} --time-models {input.time_models:q}"
        " > {log:q} 2>&1"


rule compress_benchmark:
    """Every variant's points and the originals, timed side by side in one job on the device,
    with at least `localmin.repeats` passes per graph (networks compared with each other).
    """
    input:
        graphs=PLAN.compress_files("final/graphs"),
        originals=expand("results/graphs/tasks/task-{task}.tflite", task=TASKS),
        reference="results/graphs/reference.tflite",
        cache_probe="results/graphs/cache_probe.tflite",
    output:
        "results/timings/{device}/compress.parquet",
    log:
        "results/logs/benchmark/{device}/compress.log",
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
        " --graphs {input.originals:q} {input.graphs:q} --reference {input.reference:q}"
        " --cache-probe {input.cache_probe:q}"
        " --out {output:q} > {log:q} 2>&1"


rule compress_table:
    """Tables 6 and 8 (each variant's pick), every point's curve and Figure 5."""
    input:
        time_models=PLAN.time_model_files(DEVICES),
        points=PLAN.compress_files("final/points.parquet"),
        metrics=expand("results/tasks/{task}/metrics.json", task=TASKS),
        spread=PLAN.spread_metrics(),
        timings=expand("results/timings/{device}/compress.parquet", device=DEVICES),
        energy=PLAN.energy_files([(device, "compress") for device in DEVICES]),
    output:
        **PLAN.compress_table_outputs(),
        curves="results/tables/compress_curves.csv",
    log:
        "results/logs/compress/table.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        timings=lambda wildcards, input: PLAN.dataset_pairs(input.timings),
        tolerance=lambda wildcards: PLAN.compress["accuracy_tolerance"],
        spread_sd=lambda wildcards: PLAN.compress["accuracy_spread_sd"],
        levels=lambda wildcards: PLAN.compress["equal_accuracy_drops"],
        settings=PLAN.instrument_settings(),
    shell:
        "fdi compress-table --points {input.points:q} --metrics {input.metrics:q}"
        " --timings {params.timings} --settings {params.settings:q} --tolerance {params.tolerance}"
        " --spread-metrics {input.spread:q} --spread-sd {params.spread_sd} --levels {params.levels}"
        " --curves {output.curves:q} --tables-dir results/tables --figures-dir results/figures"
        " --time-models {input.time_models:q} --energy {input.energy:q}"
        " > {log:q} 2>&1"
