"""The real Snakefile, end to end, on the tiny config in a temp dir."""

import json
import shutil

import pandas as pd
import pytest
import yaml
from fake_adb import FakeAdbServer, FakeDevice, stand_in_benchmark_model

from conftest import board_settings, job_counts, planned_jobs, snakemake
from fdi.profile.space import sample_scope
from fdi.timemodel.adaptive import shard_count
from fdi.timemodel.dataset import UNSETTLED_SPLIT, assign_split
from fdi.timemodel.tree import TreeLinearRegressor
from fdi.timings import CONFIRM_FACTOR, pass_value


def test_table5_has_every_layer_metric_and_model(tiny_run):
    table = pd.read_csv(tiny_run / "results/tables/table5.csv")
    assert sorted(table.layer.unique()) == ["cnn", "fc", "gru", "lstm"]
    assert sorted(table.metric.unique()) == ["MAE ms", "MAPE %", "R2", "within ±10% %"]
    # Table 2's layers for every type; the families' layer shapes for conv, FC and GRU (no LSTM).
    groups = table.groupby("scope").layer.unique().map(sorted).to_dict()
    assert groups == {"families": ["cnn", "fc", "gru"], "table2": ["cnn", "fc", "gru", "lstm"]}
    assert len(table) == 7 * 4
    models = [
        "FastDeepIoT",
        "FastDeepIoT-MSE",
        "FastDeepIoT-paper-x",
        "SVR",
        "DT",
        "RF",
        "GBRT",
        "DNN",
        "FLOPs",
    ]
    mape = table[table.metric == "MAPE %"]
    # A group whose few test components all failed to settle has no score (and says n_test 0);
    # Table 2's groups always have settled test components.
    scored = mape[mape.n_test > 0]
    assert (scored.scope == "table2").sum() == 4
    for column in [*models, "noise_floor"]:
        assert scored[column].notna().all(), column
        assert mape[mape.n_test == 0][column].isna().all(), column
    assert (scored.FastDeepIoT > 0).all()
    # the noise floor compares each test graph with its check-job time: a scope with one or two
    # sub-microsecond test graphs can repeat to the nanosecond (0.0), never go below it
    assert (scored.noise_floor >= 0).all() and (scored[scored.scope == "table2"].noise_floor > 0).all()
    within = table[table.metric == "within ±10% %"]
    assert within[within.n_test > 0].FastDeepIoT.between(0, 100).all()
    assert (table.flagged <= table.n).all()
    assert "FastDeepIoT" in (tiny_run / "results/tables/table5.md").read_text()


def test_whole_networks_are_timed_and_predicted(tiny_run):
    table = pd.read_csv(tiny_run / "results/tables/networks.csv")
    assert table.groupby(["family", "role"]).size().to_dict() == {
        ("deepsense", "calibration"): 1,
        ("deepsense", "test"): 2,
        ("vgg", "calibration"): 1,
        ("vgg", "test"): 1,
        ("zoo", "sample"): 4,  # the zoo table's networks, the same time model's predictions
        ("zoo", "test"): 2,
    }
    assert (table.measured_ms > 0).all()
    zoo = pd.read_csv(tiny_run / "results/tables/zoo/host.csv").set_index("network")
    from_zoo = table[table.family == "zoo"].set_index("id")
    assert from_zoo.predicted_ms.to_dict() == pytest.approx(zoo.predicted_ms[from_zoo.index].to_dict())
    assert from_zoo.check_ms.isna().all()  # no check job times them
    table = table[table.family != "zoo"]
    assert (table.check_ms > 0).all() and (table.predicted_parts_ms > 0).all()
    # the device's time model: the parts plus the zoo's in-network term
    parts_and_term = table.predicted_parts_ms + table.predicted_in_network_ms
    assert table.predicted_ms.to_numpy() == pytest.approx(parts_and_term.to_numpy(), rel=1e-12)
    assert (table.predicted_in_network_ms != 0).all()
    assert (table.passes >= 2).all()
    markdown = (tiny_run / "results/tables/networks.md").read_text()
    assert "Spearman" in markdown and "| host | zoo | " in markdown


def test_localmin_expands_the_test_networks_measures_and_tabulates(tiny_run):
    """Algorithm 2's target runs only its own jobs, after the finished workflow."""
    dry = snakemake(tiny_run, "-n", "--cores", "2", "results/tables/localmin.csv")
    assert job_counts(dry.stdout + dry.stderr) == {
        "localmin_plan": 1,
        "localmin_export": 1,
        "localmin_benchmark": 1,
        "localmin_table": 1,
    }
    snakemake(tiny_run, "--cores", "2", "results/tables/localmin.csv")
    table = pd.read_csv(tiny_run / "results/tables/localmin.csv")
    # The tiny config's 3 test networks (1 VGG, 2 DeepSense), each in both modes.
    assert table.groupby("mode").size().to_dict() == {"paper": 3, "staircase": 3}
    assert (table.measured_before_ms > 0).all() and (table.measured_after_ms > 0).all()
    assert (table.max_abs_output_difference <= 1e-5).all()
    for row in table.itertuples():
        before, after = json.loads(row.widths), json.loads(row.expanded_widths)
        assert all(a >= b for a, b in zip(after, before, strict=True))
        assert row.changed == (after != before)
        assert row.predicted_after_ms <= row.predicted_before_ms + 1e-12
    timed = pd.read_parquet(tiny_run / "results/timings/host/localmin.parquet")
    assert set(timed.id) >= set(table.id)  # the originals, timed again in the same job
    assert set(timed.id) >= {f"{i}-control" for i in table.id}  # and their identical copies
    passes = timed[timed.role == "component"]  # each pass's runs between two looks at the reference
    assert (passes.run_gate_blocks >= 1).all() and (passes.run_gate_ratio > 0).all()
    assert (table.measured_control_ms > 0).all() and (table.noise_floor_pct >= 0).all()
    assert "not worse than noise" in (tiny_run / "results/tables/localmin.md").read_text()


def test_tasks_target_prepares_trains_exports_and_times_each_task_once(tiny_run):
    """The tasks' jobs after a finished workflow: one per task and stage, one benchmark per
    device, and nothing of the campaign again."""
    dry = snakemake(tiny_run, "-n", "--cores", "2", "results/tables/tasks.csv")
    assert job_counts(dry.stdout + dry.stderr) == {
        "task_prepare": 2,
        "task_train": 2,
        "task_export": 2,
        "task_benchmark": 1,
        "tasks_table": 1,
    }


def test_compression_plans_every_variant_once_and_device_free_jobs_read_no_time_model(tiny_run):
    """Tables 6 and 8 after a finished campaign: the tasks once, a search and a finish per task and
    variant (DeepIoT, +FLOPs, FastDeepIoT on the host), localMin per task and device, one benchmark
    per device; DeepIoT's jobs read no device's time models, so a new device leaves them alone."""
    dry = snakemake(
        tiny_run, "-n", "-p", "--cores", "2", "results/tables/table6.csv", "results/tables/table8.csv"
    )
    assert job_counts(dry.stdout + dry.stderr) == {
        "task_prepare": 2,
        "task_train": 2,
        "task_train_spread": 1,
        "task_export": 2,
        "compress_search": 6,
        "compress_finish": 6,
        "compress_localmin": 2,
        "compress_benchmark": 1,
        "compress_table": 1,
    }
    jobs = planned_jobs(dry.stdout)

    def job(rule: str, output: str) -> str:
        (block,) = [text for name, text in jobs if name == rule and f"output: {output}" in text]
        return block

    # DeepIoT's search and finish read no device's time models; FastDeepIoT's search reads them.
    for rule, output in [("compress_search", "search.json"), ("compress_finish", "final/points.parquet")]:
        assert "results/registry/" not in job(rule, f"results/compress/vgg/deepiot/{output}")
    # FastDeepIoT's search reads its device's one time model (the registry entry), nothing else
    steered = job("compress_search", "results/compress/vgg/fastdeepiot_host/search.json")
    assert "--time-models results/registry/host.json" in steered and "results/models/" not in steered
    # Each task's search gets its own targets (compress.task_targets), else the shared ones, its own
    # lambda (compress.task_lambda), search seeds (task_search_seeds) and threads (task_threads).
    for task, targets, weight, seeds, threads in [
        ("deepsense", '"targets":[0.95,0.8]', '"lambda":2.0', '"seeds":[0,4]', 1),
        ("vgg", '"targets":[0.9,0.6]', '"lambda":4.0', '"seeds":[0]', 2),
    ]:
        deepiot = job("compress_search", f"results/compress/{task}/deepiot/search.json")
        assert targets in deepiot and seeds in deepiot and f"--threads {threads} " in deepiot
        steered = job("compress_search", f"results/compress/{task}/fastdeepiot_host/search.json")
        assert weight in steered and '"objective":"time"' in steered


def test_a_users_model_from_the_config_plans_its_runs_benchmark_and_table(tiny_run, tmp_path):
    """compress.models after a finished campaign: the original exported once, one run per variant
    (FastDeepIoT per device), one benchmark per device, one table; DeepIoT's runs read no device's
    registry entry; a model path with a space reaches the command quoted."""
    model, data = tmp_path / "my model.keras", tmp_path / "data.npz"
    model.touch()
    data.touch()
    variants = ["deepiot", "deepiot_flops", "fastdeepiot"]
    overlay = tmp_path / "mine.yaml"
    mine = {"model": str(model), "data": str(data), "variants": variants, "iterations": 40}
    overlay.write_text(yaml.safe_dump({"compress": {"models": {"mine": mine}}}))
    configs = ("--configfile", "config/config.yaml", str(overlay))
    dry = snakemake(tiny_run, "-n", "-p", "--cores", "2", "user_models", *configs)
    assert job_counts(dry.stdout + dry.stderr) == {
        "user_original": 1,
        "user_compress": 3,
        "user_benchmark": 1,
        "user_table": 1,
        "user_models": 1,
    }
    jobs = planned_jobs(dry.stdout)
    runs = {
        text.split("results/user/mine/")[1].split("/")[0]: text
        for name, text in jobs
        if name == "user_compress"
    }
    assert sorted(runs) == ["deepiot", "deepiot_flops", "fastdeepiot_host"]
    assert "results/registry" not in runs["deepiot"] and "--objective none" in runs["deepiot"]
    assert "--objective flops" in runs["deepiot_flops"]
    assert "results/registry/host.json" in runs["fastdeepiot_host"]
    assert (
        "--objective time" in runs["fastdeepiot_host"]
        and "--expand --device host" in runs["fastdeepiot_host"]
    )
    assert f"fdi compress '{model}'" in runs["deepiot"]
    # the points are listed, not declared: a rerun after a params change keeps the fine-tunes
    (timing,) = [text for name, text in jobs if name == "user_benchmark"]
    lists = [f"results/user/mine/{v}/graphs.txt" for v in ["deepiot", "deepiot_flops", "fastdeepiot_host"]]
    assert "--graph-list " + " ".join(lists) in timing and "/final" not in timing


def test_a_baseline_job_gets_its_layer_types_x(tiny_run):
    """The baselines fit on the configured x (baselines.x; tiny: runtime), not the paper's by default."""
    shown = snakemake(tiny_run, "-n", "-p", "-f", "--cores", "2", "results/baselines/host/fc/svr.parquet")
    assert '"x":"runtime"' in shown.stdout


def test_dataset_holds_real_timings_with_fingerprint(tiny_run):
    dataset = pd.read_parquet(tiny_run / "results/dataset/host.parquet")
    assert (dataset.time_ms > 0).all() and (dataset.time_ms_repeat > 0).all()
    assert (dataset.n_runs == 3).all()  # tiny config: 3 timed runs per pass
    fingerprint = json.loads(dataset.fingerprint.iloc[0])
    assert fingerprint["threads"] == 1 and fingerprint["runtime"] == "ai-edge-litert"
    assert (dataset.statistic == "min").all()
    assert fingerprint["cpu_model"] and fingerprint["kernel"]
    assert fingerprint["malloc_huge_pages"] is True  # the benchmark step restarted itself with it
    # Quality: at least 2 passes each (the tiny config's repeats), at most its max_passes (4),
    # or twice that where a fast pass waited for its confirmation (fdi.timings).
    assert (dataset.passes >= 2).all() and dataset.passes.max() <= 4 * CONFIRM_FACTOR
    assert (dataset.spread >= 0).all() and (~dataset.agreed <= dataset.flagged).all()
    assert dataset.drift.notna().all()  # the reference graph was timed in every job
    counts = dataset[~dataset.scope.str.startswith("adaptive")].groupby("scope").size().to_dict()
    config = yaml.safe_load((tiny_run / "config/config.yaml").read_text())
    family_rows = {
        family: len(sample_scope(family, config)[lambda f: f.layer != "op"])
        for family in ("vgg", "deepsense")
    }
    assert {k: v for k, v in counts.items() if k not in family_rows} == {
        "fc": 18,
        "cnn": 18,
        "gru": 18,
        "lstm": 18,
        "sweep": 6,
    }
    ops = dataset[dataset.layer == "op"].groupby("scope").size().to_dict()
    assert {k: counts[k] - ops.get(k, 0) for k in family_rows} == family_rows
    assert set(dataset[dataset.layer == "op"].op) == {"max_pool", "softmax", "concatenation", "mean"}
    # The later check job timed every test component again.
    test = dataset[(dataset.split == "test") & (dataset.scope != "sweep")]
    assert test.time_ms_check.notna().all() and dataset[dataset.split == "train"].time_ms_check.isna().all()
    # The drawn split (a seeded quarter of each scope's components, adaptive rows train); a
    # component that never settled leaves it for "unsettled", which a loaded machine makes many
    # of, so the share is checked on the draw.
    drawn = dataset[(dataset.scope != "sweep") & ~dataset.scope.str.startswith("adaptive")]
    drawn_split = assign_split(drawn, config["split"]["test_fraction"], config["split"]["seed"])
    assert 0.2 < (drawn_split == "test").mean() < 0.35
    settled = drawn.split != UNSETTLED_SPLIT
    assert (drawn.split[settled] == drawn_split[settled]).all()


def test_models_are_readable_json_and_explainable(tiny_run):
    for layer in ["fc", "cnn", "gru", "lstm"]:
        model = TreeLinearRegressor.from_json(tiny_run / f"results/models/host/{layer}.json")
        assert "time_ms =" in model.explain()
    assert (tiny_run / "results/figures/fig1.png").stat().st_size > 10_000
    assert (tiny_run / "results/figures/fig2.png").stat().st_size > 5_000
    table4 = pd.read_csv(tiny_run / "results/tables/table4.csv")
    assert set(table4.variable) == {"flops", "mem", "param_size", "step"}


def test_a_second_run_has_nothing_to_do(tiny_run):
    result = snakemake(tiny_run, "-n", "--cores", "2")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_an_interrupted_campaign_remeasures_only_the_missing_shard(tiny_run, tmp_path):
    # As if the campaign stopped during the GRU benchmarks: that shard and all that follows
    # the benchmarks are missing; the other shards' timings are kept. (A copy: the finished
    # run stays finished for the other tests.)
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir)  # keeps mtimes and Snakemake's metadata
    assert "Nothing to be done" in snakemake(workdir, "-n", "--cores", "2").stdout
    (workdir / "results/timings/host/gru/0.parquet").unlink()
    for stage in ("dataset", "models", "baselines", "tables", "figures"):
        shutil.rmtree(workdir / "results" / stage)
    result = snakemake(workdir, "-n", "--cores", "2")
    counts = job_counts(result.stdout + result.stderr)
    assert counts["benchmark"] == 1 and counts["check"] == 1 and counts["aggregate_round"] == 2
    assert "export" not in counts and "sample" not in counts
    # The rerun finishes the measurements (what follows them is the first run's code path).
    dataset = "results/dataset/host.parquet"
    snakemake(workdir, "--cores", "2", dataset)
    assert "Nothing to be done" in snakemake(workdir, "-n", "--cores", "2", dataset).stdout
    rejoined = pd.read_parquet(workdir / dataset)
    assert set(rejoined.layer) >= {"fc", "cnn", "gru", "lstm"}


def test_a_phone_and_a_board_added_to_a_finished_workflow_run_only_their_own_jobs(
    tiny_run, tmp_path, loopback_sshd
):
    """A phone (the fake adb server) and a board (ssh to the loopback sshd) added to a finished tiny
    workflow: only their jobs run, their benchmarks may overlap each other but never themselves."""
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir)  # keeps mtimes and Snakemake's metadata
    config_path = workdir / "config/config.yaml"
    config = yaml.safe_load(config_path.read_text())
    device = FakeDevice(tmp_path / "device", "0123abcd", {"ro.product.model": "Nexus 5"})
    with FakeAdbServer(device) as server:
        config["devices"]["phone"] = {
            "kind": "adb",
            "serial": "0123abcd",
            "adb_port": server.port,
            "benchmark_model": str(stand_in_benchmark_model(tmp_path)),
            "threads": 1,
            "warmup_runs": 1,
            "runs": 3,
            "repeats": 1,  # one pass per graph: the passes' logic is tested on its own
            "statistic": "mean",
        }
        config["devices"]["board"] = board_settings(loopback_sshd, warmup_min_ms=20, repeats=1)
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        planned = snakemake(workdir, "-n", "--cores", "2")
        counts = job_counts(planned.stdout)
        n_layers, n_models, n_new = 4, len(config["baselines"]["models"]), 2
        adaptive_shards = shard_count(config["adaptive"])
        assert counts == {
            # fc, cnn, gru, lstm, sweep, vgg, deepsense, 2 network scopes, the zoo
            "benchmark": 10 * n_new,
            "check": n_new,
            "aggregate_round": 2 * n_new,  # the campaign, then the adaptive round
            "adaptive_sample": n_new,
            "export_adaptive": adaptive_shards * n_new,
            "benchmark_adaptive": adaptive_shards * n_new,
            "dataset": n_new,
            "fit": n_layers * n_new,
            "baseline": n_layers * n_models * n_new,
            "register": n_new,
            "fit_ops": n_new,  # each device's op models on the zoo, and its zoo table
            "zoo_table": n_new,
            "table5": 1,
            "table4": 1,
            "fig1": 1,
            "networks": 1,
            "all": 1,
        }
        assert "device=host" not in planned.stdout
        # Their recurrent shards for real, side by side (the aggregate, fit and baseline jobs that
        # follow are the host's code path, run by the tiny workflow itself).
        shards = [
            f"results/timings/{name}/{scope}/0.parquet"
            for name in ("phone", "board")
            for scope in ("gru", "lstm")
        ]
        snakemake(workdir, "--cores", "2", *shards)
        timed = {
            name: pd.concat(pd.read_parquet(workdir / s) for s in shards if f"/{name}/" in s)
            for name in ("phone", "board")
        }
        for name, kind in (("phone", "adb"), ("board", "ssh")):
            components = timed[name][timed[name].role == "component"]
            assert len(components) == 2 * 3 * 6, name  # 3 networks of 6 components per type, one pass
            assert (components.runs == 3).all(), name
            assert all(pass_value(row, "mean") > 0 for row in components.to_dict("records")), name
            assert json.loads(components.fingerprint.iloc[0])["device_kind"] == kind
        assert json.loads(timed["phone"].fingerprint.iloc[0])["model"] == "Nexus 5"

        # Each device's benchmark jobs never overlapped; the phone's and the board's did.
        windows = {}
        for name in ("phone", "board"):
            jobs = [pd.read_parquet(workdir / s) for s in shards if f"/{name}/" in s]
            windows[name] = sorted((job.start_unix_s.min(), job.end_unix_s.max()) for job in jobs)
            assert all(a[1] <= b[0] for a, b in zip(windows[name], windows[name][1:], strict=False)), name
        overlap = sum(
            max(0.0, min(p[1], b[1]) - max(p[0], b[0])) for p in windows["phone"] for b in windows["board"]
        )
        assert overlap > 0

        # Changing one device's settings reruns only that device.
        config["devices"]["phone"]["runs"] = 4
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        planned = snakemake(workdir, "-n", "--cores", "2", *shards)
        assert job_counts(planned.stdout)["benchmark"] == 2
        assert "device=phone" in planned.stdout and "device=board" not in planned.stdout


def test_energy_from_a_meter_trace_and_a_new_trace_reruns_only_the_energy_step(tiny_run, tmp_path):
    """A device with an external meter (source csv): its benchmark records idle windows, a trace
    (synthetic, written by this test: 2 W idle, 5 W while the blocks run) attached afterwards in the
    config gives each network's energy per inference, (5 - 2) W x its time; editing the traces
    reruns the energy step only."""
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir)
    config_path = workdir / "config/config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["devices"]["meter"] = {**config["devices"]["host"], "energy": {"source": "csv", "idle_s": 0.3}}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    timings_path = "results/timings/meter/net_deepsense/0.parquet"
    snakemake(workdir, "--cores", "2", timings_path)
    timings = pd.read_parquet(workdir / timings_path)
    assert timings.role.iloc[0] == timings.role.iloc[-1] == "idle"
    assert json.loads(timings.fingerprint.iloc[0])["energy_source"] == "csv"

    # the meter's samples: 2 W through each idle window, 5 W from the first block's start to the
    # last block's end (the blocks run back to back), linear in between
    idle, blocks = timings[timings.role == "idle"], timings[timings.role != "idle"]
    knots = [
        (idle.start_unix_s.iloc[0] - 1, 2.0),
        (idle.end_unix_s.iloc[0], 2.0),
        (blocks.start_unix_s.min(), 5.0),
        (blocks.end_unix_s.max(), 5.0),
        (idle.start_unix_s.iloc[-1], 2.0),
        (idle.end_unix_s.iloc[-1] + 1, 2.0),
    ]
    trace = workdir / "synthetic-meter-trace.csv"
    trace.write_text("time,power\n" + "".join(f"{a:.7f},{b}\n" for a, b in knots))
    config["energy_traces"] = {
        "meter": [{"path": trace.name, "time_column": "time", "power_column": "power"}]
    }
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    energy_path = "results/energy/meter/net_deepsense/0.parquet"
    assert job_counts(snakemake(workdir, "-n", "--cores", "2", energy_path).stdout) == {"energy": 1}
    snakemake(workdir, "--cores", "2", energy_path)
    energy = pd.read_parquet(workdir / energy_path)
    assert energy.idle_power_w.to_numpy() == pytest.approx(2.0, abs=0.01)
    assert energy.energy_mj.to_numpy() == pytest.approx(3.0 * energy.time_ms.to_numpy(), rel=1e-4)

    config["energy_traces"]["meter"][0]["clock_offset_s"] = 0.0  # a trace's settings edited
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    assert job_counts(snakemake(workdir, "-n", "--cores", "2", energy_path).stdout) == {"energy": 1}
