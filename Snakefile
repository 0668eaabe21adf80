# fdi: FastDeepIoT as a Snakemake workflow. Main job: snakemake results/tables/table5.csv
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/sample.smk"
include: "rules/export.smk"
include: "rules/benchmark.smk"
include: "rules/aggregate.smk"
include: "rules/adaptive.smk"
include: "rules/fit.smk"
include: "rules/baselines.smk"
include: "rules/evaluate.smk"
include: "rules/registry.smk"
include: "rules/networks.smk"
include: "rules/zoo.smk"
include: "rules/localmin.smk"
include: "rules/tasks.smk"
include: "rules/compress.smk"
include: "rules/user_models.smk"
include: "rules/energy.smk"


rule all:
    default_target: True
    input:
        "results/tables/table5.csv",
        "results/tables/table5.md",
        "results/tables/table4.csv",
        "results/figures/fig1.png",
        "results/figures/fig2.png",
        expand("results/registry/{device}.json", device=DEVICES),
        "results/tables/networks.csv" if NETWORK_SCOPES else [],
        PLAN.zoo_tables(),


rule paper:
    """Every table and figure of the papers in one target (`make run TARGETS=paper`): the main
    job's, Algorithm 2 on the whole networks, the tasks, Tables 6 and 8 and Figure 5."""
    input:
        rules.all.input,
        "results/tables/localmin.csv" if NETWORK_SCOPES else [],
        "results/tables/tasks.csv" if TASKS else [],
        (list(PLAN.compress_table_outputs().values()) if PLAN.search_variants else []),
