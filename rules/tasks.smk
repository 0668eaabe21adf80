# The paper's tasks on real data (SPEC §4): prepare -> train -> export -> time on every device.
# Not part of the default target: snakemake results/tables/tasks.csv --cores all


rule task_prepare:
    """The task's real data in the family's input shape, split, as a checksummed .npz."""
    output:
        data=f"{TASK_DATA_DIR}/{{task}}.npz",
        record=f"{TASK_DATA_DIR}/{{task}}.json",
    log:
        "results/logs/tasks/{task}/prepare.log",
    conda:
        "../envs/fdi.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=30,
    params:
        settings=PLAN.task_settings,
        cache=f"{TASK_DATA_DIR}/downloads",
    shell:
        "fdi task-prepare --task {wildcards.task} --settings {params.settings:q}"
        " --cache-dir {params.cache:q} --out {output.data:q} > {log:q} 2>&1"


rule task_train:
    """Train the task's network (seeded; a killed job resumes from its last finished epoch)."""
    input:
        data=f"{TASK_DATA_DIR}/{{task}}.npz",
        record=f"{TASK_DATA_DIR}/{{task}}.json",
    output:
        model="results/tasks/{task}/original.keras",
        metrics="results/tasks/{task}/metrics.json",
    log:
        "results/logs/tasks/{task}/train.log",
    conda:
        "../envs/fdi.yaml"
    threads: workflow.cores
    resources:
        mem_mb=8000,
        runtime=240,
    params:
        settings=PLAN.task_settings,
        checkpoint="results/tasks/{task}/checkpoint",
    shell:
        "fdi task-train --task {wildcards.task} --settings {params.settings:q} --data {input.data:q}"
        " --out-model {output.model:q} --metrics {output.metrics:q}"
        " --checkpoint-dir {params.checkpoint:q} > {log:q} 2>&1"


rule task_train_spread:
    """The task's original trained again under another seed, for its test accuracy only: the
    spread that a compressed network's accuracy is judged against (compress_table)."""
    input:
        data=f"{TASK_DATA_DIR}/{{task}}.npz",
        record=f"{TASK_DATA_DIR}/{{task}}.json",
    output:
        model=temp("results/tasks/{task}/spread/seed-{seed}/model.keras"),
        metrics="results/tasks/{task}/spread/seed-{seed}/metrics.json",
    log:
        "results/logs/tasks/{task}/spread-seed-{seed}.log",
    conda:
        "../envs/fdi.yaml"
    threads: workflow.cores
    resources:
        mem_mb=8000,
        runtime=240,
    params:
        settings=PLAN.spread_seed_settings,
        checkpoint="results/tasks/{task}/spread/seed-{seed}/checkpoint",
    shell:
        "fdi task-train --task {wildcards.task} --settings {params.settings:q} --data {input.data:q}"
        " --out-model {output.model:q} --metrics {output.metrics:q}"
        " --checkpoint-dir {params.checkpoint:q} > {log:q} 2>&1"


rule task_export:
    """The trained network at batch 1, as the .tflite graph the devices time."""
    input:
        "results/tasks/{task}/original.keras",
    output:
        "results/graphs/tasks/task-{task}.tflite",
    log:
        "results/logs/tasks/{task}/export.log",
    conda:
        "../envs/fdi.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        settings=PLAN.task_settings,
    shell:
        "fdi task-export --task {wildcards.task} --settings {params.settings:q} {input:q}"
        " --out {output:q} > {log:q} 2>&1"


rule task_benchmark:
    """The trained networks timed on the device by the same instrument as everything else."""
    input:
        graphs=expand("results/graphs/tasks/task-{task}.tflite", task=TASKS),
        reference="results/graphs/reference.tflite",
        cache_probe="results/graphs/cache_probe.tflite",
    output:
        "results/timings/{device}/tasks.parquet",
    log:
        "results/logs/benchmark/{device}/tasks.log",
    localrule: True
    conda:
        "../envs/benchmark.yaml"
    threads: PLAN.benchmark_threads
    resources:
        **DEVICE_RESOURCES,
        mem_mb=2000,
        runtime=30,
    params:
        settings=PLAN.device_settings,
    shell:
        "fdi benchmark --device {wildcards.device} --settings {params.settings:q}"
        " --graphs {input.graphs:q} --reference {input.reference:q}"
        " --cache-probe {input.cache_probe:q} --out {output:q} > {log:q} 2>&1"


rule tasks_table:
    """Each trained task's accuracy beside its measured and predicted time: tasks.csv."""
    input:
        metrics=expand("results/tasks/{task}/metrics.json", task=TASKS),
        task_timings=expand("results/timings/{device}/tasks.parquet", device=DEVICES),
        structures=PLAN.network_structure_files(),
        timings=[
            path
            for device in DEVICES
            for path in PLAN.device_timing_files(device, NETWORK_SCOPES)
        ],
        checks=expand("results/timings/{device}/check.parquet", device=DEVICES),
        time_models=PLAN.time_model_files(DEVICES),
    output:
        csv="results/tables/tasks.csv",
        markdown="results/tables/tasks.md",
    log:
        "results/logs/tasks/table.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        task_timings=lambda wildcards, input: PLAN.dataset_pairs(input.task_timings),
        checks=lambda wildcards, input: PLAN.dataset_pairs(input.checks),
        settings=PLAN.instrument_settings(),
    shell:
        "fdi tasks-table --metrics {input.metrics:q} --task-timings {params.task_timings}"
        " --structures {input.structures:q} --timings {input.timings:q} --checks {params.checks}"
        " --time-models {input.time_models:q} --settings {params.settings:q}"
        " --csv {output.csv:q} --markdown {output.markdown:q} > {log:q} 2>&1"
