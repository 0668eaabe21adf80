"""Stage 2, time models: the dataset of timed structures and their features, Algorithm 1 (tree),
its baselines, Table 5's evaluation, whole-network prediction, the registry and `fdi predict`.
Imports the profile stage and the bottom modules, never a later stage."""
