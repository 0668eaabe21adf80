# Your own Keras models (config compress.models), compressed as the tasks are: DeepIoT and its
# variants searched and fine-tuned by `fdi compress`, every point measured on each device, a table
# and a figure per model (docs/your-model.md). Not part of the default target:
# snakemake user_models --cores all


wildcard_constraints:
    usermodel="|".join(PLAN.user_models) if PLAN.user_models else "(?!)",
    uvariant="deepiot|deepiot_flops|fastdeepiot_[A-Za-z][A-Za-z0-9_]*",


rule user_models:
    """Every user model's table and figure."""
    input:
        [list(PLAN.user_table_outputs(model).values()) for model in PLAN.user_models],


rule user_original:
    """The trained original at batch 1, the graph its points are measured against."""
    input:
        model=lambda wildcards: PLAN.user_models[wildcards.usermodel]["model"],
    output:
        "results/user/{usermodel}/original.tflite",
    log:
        "results/logs/user/{usermodel}/original.log",
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=4000,
        runtime=10,
    shell:
        "fdi compress-user-original {input.model:q} --out {output:q} > {log:q} 2>&1"


rule user_compress:
    """One variant's searches, each point fine-tuned under the original's plateau rule and
    exported; the graphs to time are listed in `graphs.txt`. Its searches (`search*/`) and
    points (`final/`) are fdi compress's own cache, not declared outputs: Snakemake empties an
    output directory before a rerun, and a rerun after a params change (a seed added, the rate
    changed) would lose every finished fine-tune, which fdi compress keeps or sets aside by the
    settings they were made under (fdi.compress.reruns)."""
    input:
        unpack(PLAN.user_inputs),
    output:
        curve="results/user/{usermodel}/{uvariant}/curve.json",
        graphs="results/user/{usermodel}/{uvariant}/graphs.txt",
    log:
        "results/logs/user/{usermodel}/{uvariant}.log",
    conda:
        "../envs/fdi.yaml"
    threads: PLAN.user_threads
    resources:
        mem_mb=8000,
        runtime=600,
    params:
        options=PLAN.user_compress_args,
        out_dir=subpath(output.curve, parent=True),
    shell:
        "fdi compress {input.model:q} --data {input.data:q} --out-dir {params.out_dir:q}"
        " {params.options} --threads {threads} > {log:q} 2>&1"


rule user_benchmark:
    """The original and every variant's points of one model, timed side by side on the device."""
    input:
        original="results/user/{usermodel}/original.tflite",
        graphs=lambda wildcards: PLAN.user_files(wildcards.usermodel, "graphs.txt"),
        reference="results/graphs/reference.tflite",
        cache_probe="results/graphs/cache_probe.tflite",
    output:
        "results/timings/{device}/user-{usermodel}.parquet",
    log:
        "results/logs/benchmark/{device}/user-{usermodel}.log",
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
        " --graphs {input.original:q} --graph-list {input.graphs:q} --reference {input.reference:q}"
        " --cache-probe {input.cache_probe:q}"
        " --out {output:q} > {log:q} 2>&1"


rule user_table:
    """The model's table (each variant's pick, times at equal accuracy) and its figure."""
    input:
        curves=lambda wildcards: PLAN.user_files(wildcards.usermodel, "curve.json"),
        timings=PLAN.user_timing_files,
    output:
        table="results/tables/user-{usermodel}.csv",
        markdown="results/tables/user-{usermodel}.md",
        figure="results/figures/user-{usermodel}.png",
        points="results/tables/user-{usermodel}-points.csv",
    log:
        "results/logs/user/{usermodel}/table.log",
    localrule: True
    conda:
        "../envs/fdi.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        timings=PLAN.user_timing_pairs,
        tolerance=lambda wildcards: PLAN.compress["accuracy_tolerance"],
        levels=lambda wildcards: PLAN.compress["equal_accuracy_drops"],
        settings=PLAN.instrument_settings(),
    shell:
        "fdi compress-user-table --name {wildcards.usermodel} --curves {input.curves:q}"
        " --timings {params.timings} --settings {params.settings:q}"
        " --tolerance {params.tolerance} --levels {params.levels}"
        " --table {output.table:q} --markdown {output.markdown:q}"
        " --figure {output.figure:q} --points {output.points:q} > {log:q} 2>&1"
