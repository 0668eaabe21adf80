"""benchmark_model output parsing, on 13 verbatim recordings from real devices (fixtures/benchmark_model,
provenance in SOURCES.md there). Every expected figure below is copied by hand from the file itself."""

from pathlib import Path

import pytest

from fdi.profile.devices.benchmark_output import BenchmarkOutputError, parse

FIXTURES = Path(__file__).parent / "fixtures" / "benchmark_model"

# file: (layout, latency source, latency us, timed-runs count, warm-up count, ops in the primary
#        graph, profiler's avg us (None: no profile))
RECORDINGS = {
    "arm_tc2_mobile_object_localizer_xnnpack_t4.txt": ("current", "runs", 7454.97, 67, 67, 115, 7360.09),
    "mLite_x86_efficientdet_lite0_xnnpack.txt": ("current", "runs", 15517.6, 64, 32, 171, 15309.2),
    "meta-tflite_qemuriscv64_mbv1_t4.txt": ("transitional", "runs", 2.95034e6, 50, 1, 31, 2.9499e6),
    "imx8mp_mobilenet-CPU.txt": ("transitional", "runs", 162980, 50, 4, 31, 162910),
    "imx8mp_ssd_mobilenet-CPU.txt": ("transitional", "runs", 343696, 50, 2, 64, 343597),
    "imx8mp_deeplabv3-CPU.txt": ("transitional", "runs", 1.05037e6, 50, 1, 43, 1.05024e6),
    "imx8mp_mobilenet-NPU.txt": ("transitional", "runs", 2525.59, 379, 1, 1, 2503.71),
    "imx8mp_mobilenet-GPU.txt": ("transitional", "runs", 163347, 50, 1, 1, 163313),
    "yolov5s_android_mi11_nnapi_fp16_profile.txt": (
        "transitional",
        "profiler",
        158715,
        None,
        None,
        11,
        158715,
    ),
    "yolov5s_android_mi11_nnapi_v1_profile.txt": ("transitional", "profiler", 164609, None, None, 14, 164609),
    "yolov5s_android_mi11_cpu_fp32_summary.txt": (None, "runs", 249684, 50, None, 0, None),
    "tf_readme_pixel2_mbv1quant_oldlayout.txt": ("old", "summary", 79760.9, None, None, 31, 79732),
    "hexo_blog_android_mbv2quant_oldlayout.txt": ("old", "runs", 115062, 50, 6, 65, 114924),
}


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_every_recording_is_covered():
    assert sorted(RECORDINGS) == sorted(path.name for path in FIXTURES.glob("*.txt"))


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_recording_parses_to_the_figures_it_prints(name):
    layout, source, latency_us, count, warmup_count, n_ops, profiler_us = RECORDINGS[name]
    result = parse(read(name))
    assert result.layout == layout
    assert result.latency_source == source
    assert result.latency_ms == pytest.approx(latency_us / 1e3, rel=1e-9)
    assert (result.runs.count if result.runs else None) == count
    assert (result.warmup.count if result.warmup else None) == warmup_count
    assert len(result.ops) == n_ops
    profiler = result.primary.timings if result.primary else None
    assert (profiler.avg_ms * 1e3 if profiler else None) == (
        pytest.approx(profiler_us) if profiler_us else None
    )
    totals = [op.total_ms for op in result.ops]
    if totals and None not in totals:
        # avg ms x times called, summed over the primary graph's ops, is the profiler's line, to
        # the table's rounding (3 decimals per row).
        assert sum(totals) == pytest.approx(profiler.avg_ms, abs=0.0005 * len(totals) + 1e-9)


def test_latency_is_the_timed_runs_not_the_profilers_sum():
    """Fault 1: the profiler's `Timings` line (avg=7360.09) was taken for the run (avg=7454.97)."""
    result = parse(read("arm_tc2_mobile_object_localizer_xnnpack_t4.txt"))
    runs = result.runs
    assert (runs.count, runs.first_ms, runs.min_ms, runs.max_ms, runs.std_ms) == pytest.approx(
        (67, 7.176, 6.373, 7.775, 0.256)
    )
    assert result.latency_ms == pytest.approx(7.45497) == result.summary["inference"]
    assert result.warmup.avg_ms == pytest.approx(7.51493)
    assert result.summary["init"] == pytest.approx(16.772)
    assert [op.node_type for op in result.init_profile[0].ops] == [
        "ModifyGraphWithDelegate",
        "AllocateTensors",
    ]


def test_op_time_is_avg_times_calls():
    result = parse(read("mLite_x86_efficientdet_lite0_xnnpack.txt"))
    assert sum(op.avg_ms for op in result.ops) == pytest.approx(11.63, abs=0.01)
    assert sum(op.total_ms for op in result.ops) == pytest.approx(15.31, abs=0.01)
    dwconv = result.ops[2]
    assert (dwconv.node_type, dwconv.avg_ms, dwconv.times_called) == (
        "Convolution (NHWC, QC8) DWConv",
        0.051,
        13,
    )
    assert dwconv.total_ms == pytest.approx(0.663)


def test_names_lose_exactly_their_brackets_and_keep_the_node_index():
    """Fault 3: `[tfl.quantize]:0` became `tfl.quantize]:0`."""
    ops = parse(read("mLite_x86_efficientdet_lite0_xnnpack.txt")).ops
    assert (ops[0].name, ops[0].node_index) == ("tfl.quantize", 0)
    assert (ops[1].name, ops[1].node_index) == ("Delegate/Convolution (NHWC, QC8) IGEMM", 0)
    ssd = parse(read("yolov5s_android_mi11_nnapi_v1_profile.txt")).ops
    delegate = ssd[6]
    assert delegate.node_type == "TfLiteNnapiDelegate" and delegate.node_index == 270
    assert (
        delegate.name
        == "model/tf.math.multiply_23/Mul, model/tf.math.multiply_38/Mul, model/tf.math.multiply_49/Mul"
    )
    old = parse(read("hexo_blog_android_mbv2quant_oldlayout.txt")).ops
    assert (old[0].name, old[0].node_index, old[0].avg_ms) == ("MobilenetV2/Conv/Relu6", None, 7.237)


def test_old_version_without_call_counts_gives_no_totals():
    ops = parse(read("tf_readme_pixel2_mbv1quant_oldlayout.txt")).ops
    assert {op.times_called for op in ops} == {0} and {op.total_ms for op in ops} == {None}


def test_warmup_line_without_first_and_vendor_lines():
    result = parse(read("imx8mp_mobilenet-NPU.txt"))
    assert result.warmup.count == 1 and result.warmup.curr_ms == pytest.approx(4625.131)
    assert result.warmup.avg_ms is None
    assert result.summary["warmup"] == pytest.approx(4625.13)  # printed as 4.62513e+06


def with_subgraphs() -> str:
    """A real recording's regular-runs profile laid out as the tool prints a graph with a WHILE loop
    (tflite/profiling/profile_summary_formatter.cc): 'Primary graph' and 'Subgraph (index: 1, ...)'
    headings, one Run Order table and one Timings line each. The loop body's table is the NPU
    recording's; constructed here, not recorded (no recording with a WHILE loop was found)."""
    host = read("imx8mp_mobilenet-GPU.txt").splitlines()
    body = read("imx8mp_mobilenet-NPU.txt").splitlines()
    start = next(i for i, line in enumerate(host) if "Regular Benchmark Runs" in line)
    body_start = next(i for i, line in enumerate(body) if "Regular Benchmark Runs" in line)
    body_timings = next(i for i, line in enumerate(body) if i > body_start and line.startswith("Timings"))
    return "\n".join(
        [
            *host[: start + 1],
            "Primary graph (name: main) profile:",
            *host[start + 1 :],
            "Subgraph (index: 1, name: while_body) profile:",
            *body[body_start + 1 : body_timings],
            "Subgraph (index: 1, name: while_body) " + body[body_timings],
            *body[body_timings + 1 :],
        ]
    )


def test_with_several_subgraphs_the_primary_graph_holds_the_models_ops():
    """Fault 2: the last table (the loop body's) was taken for the model."""
    result = parse(with_subgraphs())
    assert [(part.kind, part.index, part.name) for part in result.subgraphs] == [
        ("primary", 0, "main"),
        ("subgraph", 1, "while_body"),
    ]
    assert [op.node_type for op in result.ops] == ["Vx Delegate"] and result.ops[0].avg_ms == 163.313
    assert result.primary.timings.avg_ms == pytest.approx(163.313)
    body = result.subgraphs[1]
    assert body.ops[0].avg_ms == 2.504 and body.timings.avg_ms == pytest.approx(2.50371)
    assert result.latency_ms == pytest.approx(163.347)


def test_delegate_internal_table_is_kept_apart():
    text = with_subgraphs().replace("Subgraph (index: 1, name: while_body) profile:", "Delegate internal: ")
    text = text.replace("Subgraph (index: 1, name: while_body) Timings", "Timings")
    result = parse(text)
    assert [part.kind for part in result.subgraphs] == ["primary", "delegate"]
    assert result.ops[0].node_type == "Vx Delegate" and result.subgraphs[1].ops[0].avg_ms == 2.504


def test_several_runs_in_one_text_are_refused_with_the_line():
    """Fault 4: two runs were mixed silently (ops of one, totals of the other)."""
    first, second = read("imx8mp_mobilenet-CPU.txt"), read("imx8mp_mobilenet-GPU.txt")
    n_first = len(first.splitlines())
    with pytest.raises(BenchmarkOutputError, match=rf"line {n_first + 1}: a second benchmark starts here"):
        parse(first + second)
    profile_only = read("yolov5s_android_mi11_nnapi_fp16_profile.txt")
    with pytest.raises(BenchmarkOutputError, match="several runs"):
        parse(profile_only + profile_only)
    # The runs' line of one run, the summary line of another.
    mixed = first.replace("Inference (avg): 162980", "Inference (avg): 163347")
    with pytest.raises(
        BenchmarkOutputError, match=r"line 15: .*differs from the timed runs' avg 162980 us on line 13"
    ):
        parse(mixed)


def test_a_table_whose_title_is_missing_is_refused():
    """Fault 4: a Run Order header not preceded by its title gave no ops and no error."""
    lines = read("imx8mp_mobilenet-CPU.txt").splitlines()
    regular = next(i for i, line in enumerate(lines) if "Regular Benchmark Runs" in line)
    del lines[regular + 1]  # the '=== Run Order ===' line
    with pytest.raises(BenchmarkOutputError, match=rf"line {regular + 2}: a table header without its"):
        parse("\n".join(lines))


def test_unknown_table_header_is_quoted():
    text = read("imx8mp_mobilenet-CPU.txt").replace("[times called]", "[calls]", 2)
    with pytest.raises(BenchmarkOutputError, match=r"unknown op-profile table header: .*\[calls\]"):
        parse(text)


def test_output_without_timings_is_a_clear_error():
    with pytest.raises(BenchmarkOutputError, match=r"no timing.*first line: .ERROR: Could not open"):
        parse("ERROR: Could not open '/data/local/tmp/fdi/x.tflite'.\nBenchmarking failed.\n")


def test_bad_table_row_is_quoted_with_its_line():
    lines = read("hexo_blog_android_mbv2quant_oldlayout.txt").splitlines()
    lines[30] = lines[30].replace("7.237", "seven")
    with pytest.raises(BenchmarkOutputError, match=r"line 31: unexpected Run Order row .*seven"):
        parse("\n".join(lines))


def test_tabs_become_spaces_and_prefixes_vanish_without_changing_figures():
    text = read("arm_tc2_mobile_object_localizer_xnnpack_t4.txt")
    plain = "\n".join(line.expandtabs(1).replace("INFO: ", "") for line in text.splitlines())
    a, b = parse(text), parse(plain)
    assert a.latency_ms == b.latency_ms and [op.as_record() for op in a.ops] == [
        op.as_record() for op in b.ops
    ]
