"""Runner, CLI and report: files, atomic output, sweeps loaded as one dataset, figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import allora_sim
from allora_sim.cli import main, report_main
from allora_sim.results import load
from allora_sim.runner import run_scenario
from allora_sim.runner.io import ParquetStream


def test_run_writes_the_result_files(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["epochs=20", f"output.dir={out}", "output.flush_every=7"]) == 0
    text = capsys.readouterr().out
    for needle in (
        "log10 loss",
        "network",
        "naive",
        "best inferer",
        "median inferer",
        "rewarded      18 of 19 topic-epochs (unrewarded: no inferer scores 1)",
        "reward share",
        "reward Gini",
        f"results: {out}",
    ):
        assert needle in text
    names = {p.name for p in out.iterdir()}
    assert names == {
        "epochs.parquet",
        "agents.parquet",
        "economy.parquet",
        "summary.json",
        "config.yaml",
        "manifest.json",
    }
    ep = pd.read_parquet(out / "epochs.parquet")
    ag = pd.read_parquet(out / "agents.parquet")
    # epochs 0..18 closed (the last one's reputers report in the next epoch)
    assert len(ep) == 19 and len(ag) == 19 * 13  # written in 3 row groups
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 0 and manifest["versions"]["numpy"]
    assert "mechanism" in (out / "config.yaml").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 20
    res = load(out)
    pd.testing.assert_frame_equal(res.epochs, ep)


def test_interrupted_run_leaves_no_complete_looking_table(tmp_path: Path, monkeypatch) -> None:
    sc = allora_sim.scenario("epochs=30", "output.flush_every=5", "output.progress=false")
    from allora_sim import model as model_mod

    calls = {"n": 0}
    original = model_mod.AlloraModel.step

    def failing_step(self):
        calls["n"] += 1
        if calls["n"] == 17:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(model_mod.AlloraModel, "step", failing_step)
    with pytest.raises(KeyboardInterrupt):
        run_scenario(sc, tmp_path / "run")
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert "epochs.parquet" not in names and "summary.json" not in names
    assert any(n.startswith("epochs.parquet.") and n.endswith(".partial") for n in names)


def test_interrupted_rerun_leaves_no_earlier_table_behind(tmp_path: Path, monkeypatch) -> None:
    """A run into a directory holding an earlier run's results replaces them: if it is
    interrupted, nothing of the earlier run remains to pass for this one."""
    out = tmp_path / "run"
    run_scenario(allora_sim.scenario("epochs=5", "output.progress=false"), out)
    assert (out / "epochs.parquet").exists() and (out / "summary.json").exists()
    from allora_sim import model as model_mod

    def failing_step(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(model_mod.AlloraModel, "step", failing_step)
    with pytest.raises(KeyboardInterrupt):
        run_scenario(allora_sim.scenario("epochs=8", "output.progress=false"), out)
    assert not any(out.glob("*.parquet")) and not any(out.glob("*.json"))
    with pytest.raises(FileNotFoundError):
        load(out)


def test_runs_started_in_the_same_second_get_their_own_directories(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    import time

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(time, "strftime", lambda *_: "2026-01-01_00-00-00")
    assert main(["epochs=3", "seed=0"]) == 0
    assert main(["epochs=3", "seed=1"]) == 0
    dirs = sorted(p.name for p in (tmp_path / "outputs" / "default").iterdir())
    assert dirs == ["2026-01-01_00-00-00", "2026-01-01_00-00-00_2"]
    seeds = [load(tmp_path / "outputs" / "default" / d).epochs for d in dirs]
    assert not seeds[0].equals(seeds[1])
    assert f"results: {Path('outputs/default/2026-01-01_00-00-00_2')}" in capsys.readouterr().out


@pytest.mark.parametrize("agents", [True, False])
def test_tables_keep_their_types_when_the_first_flush_has_no_rows(
    tmp_path: Path, agents: bool
) -> None:
    """With a ground-truth lag of three epochs nothing is settled by the first flushes; the
    tables' column types come from the rows, not from the empty flushes."""
    out = tmp_path / "run"
    sc = allora_sim.scenario(
        "epochs=6",
        "world.ground_truth_lag=36",
        "output.flush_every=1",
        f"output.record_agents={str(agents).lower()}",
        "output.progress=false",
    )
    run_scenario(sc, out)
    res = load(out)
    assert len(res.epochs) == 3  # epochs 0..2 closed by the end of epoch 5
    for frame in (res.epochs, res.economy) + ((res.agents,) if agents else ()):
        for col in ("run", "topic", "epoch"):
            assert frame[col].dtype == "int64", col
    assert res.epochs["reward_error"].dtype == "int64"
    if agents:
        assert res.agents["role"].dtype == "category" and len(res.agents) == 3 * 13


def test_a_table_without_rows_is_typed(tmp_path: Path) -> None:
    out = tmp_path / "run"
    sc = allora_sim.scenario("epochs=3", "output.record_agents=false", "output.progress=false")
    run_scenario(sc, out)
    agents = load(out).agents
    assert agents.empty and list(agents.columns)[:4] == ["run", "topic", "epoch", "agent"]
    assert agents["epoch"].dtype == "int64" and agents["role"].dtype == "category"


def test_parquet_stream_publishes_only_on_close(tmp_path: Path) -> None:
    s = ParquetStream(tmp_path / "t.parquet")
    s.write(pd.DataFrame({"a": [1, 2]}))
    assert not (tmp_path / "t.parquet").exists()
    s.write(pd.DataFrame({"a": [3]}))
    s.close()
    assert pd.read_parquet(tmp_path / "t.parquet")["a"].tolist() == [1, 2, 3]


def test_sweep_loads_as_one_dataset_keyed_by_run(tmp_path: Path, capsys) -> None:
    root = tmp_path / "sweep"
    code = main(
        [
            "--multirun",
            "mechanism.p_norm=2.5,3.5",
            "seed=0,1",
            "epochs=12",
            f"output.dir={root}",
            "output.progress=false",
        ]
    )
    assert code == 0
    assert "sweep of 4 runs over mechanism.p_norm, seed" in capsys.readouterr().out
    res = load(root)
    assert sorted(res.epochs["run"].unique()) == [0, 1, 2, 3]
    assert res.swept == ["mechanism.p_norm", "seed"]
    assert set(res.epochs["mechanism.p_norm"]) == {2.5, 3.5}
    assert len(res.summaries) == 4 and "network_loss" in res.summaries
    assert res.agents["role"].dtype == "category"
    one = load(root / "3")  # one run of the sweep keeps its run number
    assert one.epochs["run"].unique().tolist() == one.summaries["run"].tolist() == [3]
    files = [Path(p) for p in _report(root, capsys)]
    assert [f.name for f in files] == ["sweep_mechanism.p_norm.png"]
    assert files[0].stat().st_size > 10_000


def test_sweep_backends_agree(tmp_path: Path) -> None:
    args = ["--multirun", "seed=0,1", "epochs=8", "output.progress=false"]
    assert main([*args, f"output.dir={tmp_path / 's'}"]) == 0
    assert main([*args, "--processes", "2", f"output.dir={tmp_path / 'p'}"]) == 0
    a, b = load(tmp_path / "s"), load(tmp_path / "p")
    pd.testing.assert_frame_equal(a.epochs, b.epochs)
    pd.testing.assert_frame_equal(a.agents, b.agents)


def _report(path: Path, capsys) -> list[str]:
    assert report_main([str(path)]) == 0
    return capsys.readouterr().out.split()


def test_report_of_a_run(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["epochs=15", f"output.dir={out}", "output.progress=false"]) == 0
    capsys.readouterr()
    names = sorted(Path(p).name for p in _report(out, capsys))
    assert names == [
        "inferers.png",
        "losses.png",
        "reward_distribution.png",
        "supply.png",
        "topics.png",
    ]
    assert report_main([str(tmp_path / "nothing")]) == 2
    (tmp_path / "afile").write_text("")
    capsys.readouterr()
    assert report_main([str(out), "--out", str(tmp_path / "afile" / "figs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("allora-sim-report: error:"), err


def test_printing_the_config_into_a_closed_pipe_is_quiet() -> None:
    """``allora-sim --cfg | head -1``: the reader stops early; no BrokenPipeError traceback."""
    import subprocess
    import sys

    cmd = f"{sys.executable} -m allora_sim.cli --cfg | head -1"
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "name: default"
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def _gini(x: np.ndarray) -> float:
    """Gini as the mean absolute difference over twice the mean (independent of the code's)."""
    x = np.asarray(x, dtype=float)
    return float(np.abs(x[:, None] - x[None, :]).mean() / (2 * x.mean()))


def test_summary_counts_participants_and_does_not_depend_on_agent_rows(tmp_path: Path) -> None:
    """Reward Gini over the participants (active at least once: the reputers staked on another
    topic are left out), best and median inferer over each inferer's mean loss, and the same
    numbers whether or not the agent rows are written."""
    args = ("scenario=economy", "epochs=30", "output.progress=false")
    with_rows = run_scenario(allora_sim.scenario(*args), tmp_path / "a")
    without = run_scenario(allora_sim.scenario(*args, "output.record_agents=false"), tmp_path / "b")
    for key in ("best_inferer_loss", "median_inferer_loss", "reward_gini", "network_loss"):
        assert with_rows[key] == pytest.approx(without[key], rel=1e-12), key
    ag = load(tmp_path / "a").agents
    took_part = ag.groupby("agent")["active"].transform("any")
    per_agent = ag[took_part].groupby(["role", "agent"], observed=True)["reward"].sum()
    assert len(per_agent.xs("reputer", level="role")) == 15  # of 45 registered reputers
    gini = with_rows["reward_gini"]
    assert gini["all"] == pytest.approx(_gini(per_agent.to_numpy()), rel=1e-9)
    for role in ("inferer", "forecaster", "reputer"):
        assert gini[role] == pytest.approx(_gini(per_agent.xs(role, level="role")), rel=1e-9)
    inf = ag[ag["role"] == "inferer"].groupby(["topic", "agent"])["loss"].mean()
    best = inf.groupby(level="topic").min().mean()
    assert with_rows["best_inferer_loss"] == pytest.approx(best, rel=1e-12)


def test_naive_inference_is_not_recorded_in_the_median_mode(tmp_path: Path) -> None:
    """In the first epoch (no network loss yet) the chain returns the median and a placeholder
    naive value of 0: the tables hold NaN there, not a loss of predicting 0. With a lag of two
    epochs, epoch 1's network inferences are queried after epoch 0 closed: not median mode."""
    summary = run_scenario(
        allora_sim.scenario("epochs=6", "world.ground_truth_lag=24", "output.progress=false"),
        tmp_path / "run",
    )
    ep = load(tmp_path / "run").epochs
    assert ep["naive_inference"].isna().tolist() == [True, False, False, False]
    assert ep["naive_loss"].isna().tolist() == [True, False, False, False]
    assert summary["naive_loss"] == pytest.approx(ep["naive_loss"].iloc[1:].mean())
    assert summary["epochs"] == 6 and summary["settled_epochs"] == 4


def test_sweeps_and_runs_into_one_directory_replace_each_other(tmp_path: Path, capsys) -> None:
    """A run into a sweep's directory is that run, not the old sweep; a sweep over a key added
    with '+' lists the key once; interval() sweeps and a file as output.dir are one line."""
    root = tmp_path / "mix"
    args = ["epochs=4", f"output.dir={root}", "output.progress=false"]
    assert main(["--multirun", "+population.inferers.0.params.error=1.0,2.0", *args]) == 0
    assert load(root).swept == ["population.inferers.0.params.error"]
    assert main(["epochs=6", f"output.dir={root}", "output.progress=false"]) == 0
    res = load(root)
    assert res.swept == [] and res.epochs["epoch"].max() == 4
    capsys.readouterr()
    for bad in (
        ["--multirun", "mechanism.p_norm=interval(2,4)", *args],
        ["epochs=2", f"output.dir={tmp_path / 'mix' / 'epochs.parquet'}"],
    ):
        assert main(bad) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err


def test_sweep_figures_keep_other_parameters_apart(tmp_path: Path, monkeypatch) -> None:
    """Each point's interval is over seeds only: one line per value of the other swept
    parameter, at that combination's mean over seeds; categories are placed, not joined."""
    from allora_sim import report

    root = tmp_path / "sweep"
    assert (
        main(
            [
                "--multirun",
                "mechanism.p_norm=2.5,3.5",
                "mechanism.alpha_regret=0.1,0.5",
                "seed=0,1",
                "epochs=6",
                f"output.dir={root}",
                "output.progress=false",
            ]
        )
        == 0
    )
    figures = {}
    monkeypatch.setattr(report, "_save", lambda fig, path: figures.setdefault(path.name, fig))
    report.make_report(root)
    ax = figures["sweep_mechanism.p_norm.png"].axes[0]
    lines = [c.lines[0] for c in ax.containers]  # each errorbar's data line
    assert len(lines) == 2  # alpha_regret = 0.1 and 0.5
    s = load(root).summaries
    metric = ax.get_title().split(" ")[0]
    for line, alpha in zip(lines, (0.1, 0.5), strict=True):
        want = s[s["mechanism.alpha_regret"] == alpha].groupby("mechanism.p_norm")[metric].mean()
        np.testing.assert_allclose(line.get_ydata(), want.to_numpy())
        np.testing.assert_array_equal(line.get_xdata(), [2.5, 3.5])
    assert "n=2 seeds per point" in ax.get_title()

    cat = tmp_path / "cat"
    args = ["--multirun", "population=fiducial,no_forecasters", "epochs=6"]
    assert main([*args, f"output.dir={cat}", "output.progress=false"]) == 0
    figures.clear()
    report.make_report(cat)
    ax = figures["sweep_population.png"].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fiducial", "no_forecasters"]
    assert [c.lines[0].get_linestyle() for c in ax.containers] == ["None"]


def test_a_directory_another_run_is_writing_is_refused(tmp_path: Path, capsys) -> None:
    """Partial files of finished runs are cleared; one of a live process stops the run."""
    import os

    out = tmp_path / "run"
    out.mkdir()
    (out / "epochs.parquet.999999999.partial").write_text("stale")  # no such process
    run_scenario(allora_sim.scenario("epochs=2", "output.progress=false"), out)
    assert not (out / "epochs.parquet.999999999.partial").exists()
    (out / f"epochs.parquet.{os.getppid()}.partial").write_text("live")
    assert main(["epochs=2", f"output.dir={out}", "output.progress=false"]) == 2
    assert "is being written by another run" in capsys.readouterr().err


def test_bad_process_count_and_interrupt_are_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    import allora_sim.runner as runner

    with pytest.raises(SystemExit) as exit_info:
        main(["--processes", "0", "epochs=2"])
    assert exit_info.value.code == 2
    assert "--processes=0 is invalid: must be >= 1" in capsys.readouterr().err

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_scenario", interrupted)
    assert main(["epochs=2", f"output.dir={tmp_path / 'r'}"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == "allora-sim: interrupted (no complete table was left half-written)"


def test_ctrl_c_stops_a_parallel_sweep_at_once(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the terminal's process group) ends a sweep over processes within a
    moment: the running jobs stop, the pending ones never start, no sweep.json, exit 130."""
    import os
    import signal
    import subprocess
    import sys
    import time

    root = tmp_path / "sweep"
    proc = subprocess.Popen(
        [sys.executable, "-m", "allora_sim.cli", "--multirun", "--processes", "2",
         "seed=0,1,2,3", "epochs=3000", f"output.dir={root}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("sweep of 4 runs")
    time.sleep(1.0)  # the first two jobs are running
    start = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - start < 10
    assert proc.returncode == 130, err
    assert err.strip() == "allora-sim: interrupted (no complete table was left half-written)"
    assert not (root / "sweep.json").exists()
    assert not list(root.rglob("*.parquet")) and not list(root.rglob("summary.json"))


def test_a_swept_key_named_like_a_column_does_not_overwrite_it(tmp_path: Path) -> None:
    """``topic_reward`` is a config key (the fixed emission's reward per epoch, unused under
    the chain's emission) and a column (E_t of each closed epoch); ``epochs`` is a config key
    and a summary number. Swept, they load as config.<key> and the data keep their values."""
    root = tmp_path / "s"
    args = ["--multirun", "scenario=economy", "topic_reward=100,200", "epochs=4,5"]
    assert main([*args, f"output.dir={root}", "output.progress=false"]) == 0
    res = load(root)
    assert res.swept == ["config.topic_reward", "config.epochs"]
    ep = res.epochs
    assert sorted(ep["config.topic_reward"].unique()) == [100, 200]
    for run, one in ep.groupby("run"):
        raw = pd.read_parquet(root / str(run) / "epochs.parquet")
        np.testing.assert_array_equal(one["topic_reward"], raw["topic_reward"])
    assert not ep["topic_reward"].isin([100.0, 200.0]).any()  # E_t, not the config value
    s = res.summaries.set_index("run")
    assert (s["epochs"] == s["config.epochs"]).all()
    assert sorted(s["settled_epochs"]) == [3, 3, 4, 4]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--multirun", "seed=0,1", "seed=2,3"], "seed=2,3: seed is already given (seed=0,1)"),
        (["--multirun", "seed=range(0,0)"], "seed=range(0,0): the sweep has no values"),
    ],
)
def test_sweep_mistakes_are_one_line(args: list[str], needle: str, tmp_path: Path, capsys) -> None:
    assert main([*args, "epochs=3", f"output.dir={tmp_path / 'x'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "x").exists()


def test_processes_without_a_sweep_is_refused(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--processes", "2", "epochs=3"])
    assert exit_info.value.code == 2
    assert "--processes=2 runs the jobs of a sweep: add --multirun" in capsys.readouterr().err


def test_budgets_beyond_the_genesis_allocation_and_memory_are_one_line(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """400 topics' consumer budgets and stakes exceed the participants' genesis allocation: one
    line naming the keys to change (was the ledger's internal account error); running out of
    memory is one line too."""
    assert main(["n_topics=400", "epochs=2", f"output.dir={tmp_path / 'a'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exceed their genesis allocation" in err[0], err
    assert "economy.consumer_budget" in err[0] and "n_topics" in err[0]

    import allora_sim.runner as runner

    def huge(*a, **k):
        raise MemoryError("Unable to allocate 7.45 GiB for an array")

    monkeypatch.setattr(runner, "run_scenario", huge)
    assert main(["epochs=2", f"output.dir={tmp_path / 'b'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("allora-sim: error: not enough memory"), err


def test_best_and_median_inferer_need_half_of_the_epochs() -> None:
    """An inferer active in one lucky epoch of ten is not the best single inferer; where nobody
    was active in half of the epochs, the most active ones are compared."""
    from allora_sim.runner.summary import summarize

    epochs = pd.DataFrame(
        {
            "topic": np.repeat([0, 1], 10),
            "epoch": np.tile(np.arange(10), 2),
            "network_loss": -5.0,
            "naive_loss": -4.0,
            "reward_error": 0,
            "inferers_reward": 1.0,
            "forecasters_reward": 0.0,
            "reputers_reward": 1.0,
        }
    )
    agents = pd.DataFrame(
        {
            "topic": [0, 0, 0, 0, 1, 1, 1],
            "agent": [1, 2, 3, 4, 5, 6, 7],
            "role": "inferer",
            "active": [10, 5, 1, 0, 2, 2, 1],
            "reward": 1.0,
            "loss": [-3.0, -4.0, -9.0, np.nan, -2.0, -3.0, -8.0],
        }
    )
    s = summarize(epochs, agents)
    # topic 0: inferers 1 and 2 (≥ 5 of 10 epochs) → best −4, median −3.5; topic 1: nobody has
    # 5, the most active (2 epochs) are 5 and 6 → best −3, median −2.5
    assert s["best_inferer_loss"] == pytest.approx((-4.0 - 3.0) / 2)
    assert s["median_inferer_loss"] == pytest.approx((-3.5 - 2.5) / 2)


def test_a_file_as_output_dir_is_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "afile").write_text("")
    for out in (tmp_path / "afile", tmp_path / "afile" / "below"):
        assert main(["epochs=2", f"output.dir={out}", "output.progress=false"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "is a file, not a directory" in err[0], err
