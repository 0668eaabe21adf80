"""fdi: FastDeepIoT as a Snakemake workflow over this package. Its folders are the stages, in the
order they may import one another (a stage imports only earlier ones; tests/test_layers.py checks):

- fdi.timings, fdi.atomic: the bottom (the timing vocabulary; atomic file writes)
- fdi.profile: structures, families, LiteRT graphs and the instrument (devices)
- fdi.energy: energy per inference from the instrument's windows
- fdi.timemodel: dataset, features, Algorithm 1, baselines, evaluation, registry, prediction
- fdi.tasks: the paper's tasks on real data; training the originals
- fdi.compress: Algorithm 2, lossless widening, DeepIoT's search and its tables
- fdi.cli, fdi.plan: the `fdi` command (one module per stage); the workflow's file lists and
  job settings from the config (rules/common.smk names them)
"""
