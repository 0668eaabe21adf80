"""Conv, GRU and LSTM graphs made from templates do the converter's work at every size."""

import numpy as np
import pandas as pd
import pytest

from fdi.profile.export import converted_graph, export_shard, resized_graph
from fdi.profile.resize import NotAffineError, fit_family, graph_outline

CASES = [
    # a kernel as large as the input (1x1 output), one channel in and out
    {"layer": "cnn", "in_height": 5, "in_width": 5, "in_channel": 1, "out_channel": 1, "kernel_h": 5,
     "kernel_w": 5, "stride_h": 1, "stride_w": 1, "padding": "valid"},
    # a 1x1 kernel with strides larger than it, non-square
    {"layer": "cnn", "in_height": 5, "in_width": 7, "in_channel": 64, "out_channel": 3, "kernel_h": 1,
     "kernel_w": 1, "stride_h": 3, "stride_w": 4, "padding": "same"},
    {"layer": "gru", "in_dim": 1, "out_dim": 1, "step": 2},  # the smallest recurrent layer resized
    {"layer": "gru", "in_dim": 64, "out_dim": 64, "step": 20},  # in = out: the converter shares buffers
    {"layer": "lstm", "in_dim": 300, "out_dim": 2, "step": 2},  # the converter orders ops otherwise
]  # fmt: skip


@pytest.mark.parametrize("index", range(len(CASES)))
def test_a_resized_graph_does_the_converters_work_and_runs(index):
    from ai_edge_litert.interpreter import Interpreter

    component = {"id": f"case-{index}", **CASES[index]}
    graph = resized_graph(component)
    assert graph_outline(graph) == graph_outline(converted_graph(component))
    interpreter = Interpreter(model_content=graph)
    interpreter.allocate_tensors()
    [inputs], [output] = interpreter.get_input_details(), interpreter.get_output_details()
    x = np.random.default_rng(index).standard_normal(inputs["shape"]).astype(np.float32)
    interpreter.set_tensor(inputs["index"], x)
    interpreter.invoke()
    y = interpreter.get_tensor(output["index"])
    assert np.isfinite(y).all() and (y >= 0).all() and y.any()  # ReLU of Glorot-scaled weights


def test_the_outline_sees_a_different_graph():
    """One step: the converter drops the transposes, so that size is left to the converter;
    the template's graph at one step is told apart (the outline is not blind)."""
    component = {"id": "one-step", "layer": "lstm", "in_dim": 4, "out_dim": 3, "step": 1}
    assert graph_outline(resized_graph(component)) != graph_outline(converted_graph(component))


def test_templates_of_different_graphs_or_not_affine_are_refused():
    from fdi.profile.export import conv_graph, fc_graph

    fc = {"id": "fc", "layer": "fc", "in_dim": 3, "out_dim": 4}
    with pytest.raises(NotAffineError, match="differ in structure"):
        fit_family([fc_graph(fc), conv_graph({"id": "conv", **CASES[0]})], [{"in_dim": 3}, {"in_dim": 5}])
    # out_dim = in_dim squared: the output width is not affine in in_dim
    graphs = [fc_graph({**fc, "in_dim": n, "out_dim": n * n}) for n in (2, 3, 5)]
    with pytest.raises(NotAffineError, match="not affine"):
        fit_family(graphs, [{"in_dim": n} for n in (2, 3, 5)])
    # two points: the line through 4 and 9 (out = 5 in - 6) fits them, and reads 14 at 4
    family = fit_family(graphs[:2], [{"in_dim": n} for n in (2, 3)])
    line = fc_graph({**fc, "in_dim": 4, "out_dim": 14})
    assert graph_outline(family.graph({"in_dim": 4}, seed=0)) == graph_outline(line)


def test_a_shard_whose_check_fails_is_converted_and_says_so(monkeypatch, tmp_path):
    import fdi.profile.export as export

    wrong = {"id": "wrong", **CASES[1], "out_channel": 4}
    monkeypatch.setattr(export, "conv_graph", lambda component: export.converted_graph(wrong))
    components = [{"id": f"conv{n}", **CASES[1], "in_channel": n} for n in (64, 5, 9)]
    lines: list[str] = []
    paths = export_shard(pd.DataFrame(components), tmp_path, log=lines.append)
    assert len(lines) == 1 and "conv64" in lines[0] and "converting" in lines[0]
    for path, component in zip(paths, components, strict=True):  # the converter's graphs after all
        assert graph_outline(path.read_bytes()) == graph_outline(converted_graph(component))
