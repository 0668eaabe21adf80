"""benchmark_model output parsing, on both table layouts (fixtures: see fixtures/benchmark_model)."""

from pathlib import Path

import pytest

from fdi.devices.benchmark_output import BenchmarkOutputError, parse

FIXTURES = Path(__file__).parent / "fixtures" / "benchmark_model"


def test_current_layout_with_info_prefix():
    result = parse((FIXTURES / "current_layout.txt").read_text())
    assert result.table_layout == "current"
    # The timed runs (the last statistics line), in ms: avg=1208.3 us.
    assert (result.count, result.avg_ms, result.min_ms, result.max_ms) == (20, 1.2083, 1.19, 1.262)
    assert result.std_ms == pytest.approx(0.015) and result.first_ms == pytest.approx(1.199)
    assert result.inference_avg_ms == pytest.approx(1.2083) and result.init_ms == pytest.approx(3.412)
    # The regular runs' table, not the initialisation profile nor the "Top by" table.
    assert [op.node_type for op in result.ops] == ["CONV_2D", "FULLY_CONNECTED"]
    assert result.ops[0].avg_ms == 1.107 and result.ops[0].percent == pytest.approx(91.786)
    assert result.ops[1].name == "dense/Relu;dense/BiasAdd]:1"
    assert sum(op.avg_ms for op in result.ops) == pytest.approx(1.206)


def test_old_layout_with_start_column():
    result = parse((FIXTURES / "old_layout.txt").read_text())
    assert result.table_layout == "start"
    assert (result.count, result.avg_ms) == (5765, pytest.approx(0.1729))
    assert [(op.node_type, op.first_ms, op.avg_ms, op.times_called) for op in result.ops] == [
        ("FULLY_CONNECTED", 0.168, 0.170, 1),
        ("RELU", 0.002, 0.002, 1),
    ]
    assert result.inference_avg_ms is None  # the old summary line is not the documented one


def test_unknown_table_header_is_quoted():
    text = (FIXTURES / "current_layout.txt").read_text().replace("[times called]", "[calls]", 1)
    with pytest.raises(BenchmarkOutputError, match=r"unknown op-profile table header: .*\[calls\]"):
        parse(text)


def test_output_without_timings_is_a_clear_error():
    with pytest.raises(BenchmarkOutputError, match=r"no 'count= first=.*first line: .ERROR: Could not open"):
        parse("ERROR: Could not open '/data/local/tmp/fdi/x.tflite'.\nBenchmarking failed.\n")


def test_bad_table_row_is_quoted():
    text = (FIXTURES / "old_layout.txt").read_text().replace("0.002\t", "two\t", 1)
    with pytest.raises(BenchmarkOutputError, match="unexpected Run Order row"):
        parse(text)
