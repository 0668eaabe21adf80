rule export:
    """One shard of structures -> one LiteRT .tflite graph per component (TensorFlow/Keras)."""
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
