rule export:
    """One shard of structures -> one LiteRT .tflite graph per component or network (TensorFlow/Keras)."""
    input:
        "results/structures/{scope}.parquet",
    output:
        directory("results/graphs/{scope}/{shard}"),
    log:
        "results/logs/export/{scope}/{shard}.log",
    conda:
        "../envs/export.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    shell:
        "fdi export --structures {input:q} --shard {wildcards.shard} --out {output:q} > {log:q} 2>&1"


rule export_reference:
    """The fixed reference graph every benchmark job times in between, so machine drift shows."""
    output:
        "results/graphs/reference.tflite",
    log:
        "results/logs/export/reference.log",
    conda:
        "../envs/export.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    shell:
        "fdi export-reference --out {output:q} > {log:q} 2>&1"


rule export_cache_probe:
    """The fixed cache probe every benchmark job times before a pass over a large graph, so a slow
    state of the shared cache (other tenants') shows (fdi.timings)."""
    output:
        "results/graphs/cache_probe.tflite",
    log:
        "results/logs/export/cache_probe.log",
    conda:
        "../envs/export.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    shell:
        "fdi export-cache-probe --out {output:q} > {log:q} 2>&1"
