"""DeepIoT's structure compression, steered by a device's time model (SPEC §3): the masked critic,
the compressor, the objectives, extraction of the kept elements, the search loop and the tables;
Algorithm 2 (expand) with its lossless widening (widen_graph) and the localMin experiment. Every
trained model, the paper families' as a user's, is read from its Keras graph (width_groups)."""
