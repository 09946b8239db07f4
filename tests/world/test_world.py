"""The world: processes, the CSV loader and its errors, loss functions (simulation engine)."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from allora_sim.cli import main
from allora_sim.config import LossKind, TargetKind, WorldConfig, WorldKind
from allora_sim.world import SeriesError, load_series, log10_loss, simulate_world
from allora_sim.world.losses import LOSSES, power_tanh, zptae
from allora_sim.world.processes import gbm_log_returns, regime_path


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_gbm_log_returns_have_ito_drift_and_volatility() -> None:
    r = gbm_log_returns(0.002, 0.03, (4, 50_000), _rng())
    # independent argument: mean μ − σ²/2 and sd σ, within 5 standard errors
    se = 0.03 / np.sqrt(r.size)
    assert abs(r.mean() - (0.002 - 0.5 * 0.03**2)) < 5 * se
    assert abs(r.std() / 0.03 - 1) < 0.01


def test_regime_dwell_time_matches_the_configured_mean() -> None:
    reg = regime_path(3, 8.0, (2, 60_000), _rng(1))
    switches = np.count_nonzero(np.diff(reg, axis=1))
    assert abs(reg.size / switches / 8.0 - 1) < 0.05
    assert set(np.unique(reg)) == {0, 1, 2}
    # a switch always goes to another regime
    assert np.all(np.diff(reg, axis=1)[np.diff(reg, axis=1) != 0] != 0)


def test_regime_world_volatility_follows_the_regime() -> None:
    cfg = WorldConfig(
        kind=WorldKind.regime, regime_means=[0.0, 0.01], regime_volatilities=[0.001, 0.05]
    )
    w = simulate_world(cfg, 2, 20_000, _rng(2))
    calm, wild = w.truth[w.context == 0], w.truth[w.context == 1]
    assert abs(calm.std() / 0.001 - 1) < 0.05 and abs(wild.std() / 0.05 - 1) < 0.05
    assert abs(wild.mean() - 0.01) < 5 * 0.05 / np.sqrt(wild.size)
    assert w.n_contexts == 2


def test_price_target_is_the_compounded_path() -> None:
    cfg = WorldConfig(target=TargetKind.price, start_price=50.0, volatility=0.02)
    ret = simulate_world(WorldConfig(volatility=0.02), 3, 200, _rng(3))
    px = simulate_world(cfg, 3, 200, _rng(3))
    np.testing.assert_allclose(px.truth, 50.0 * np.exp(np.cumsum(ret.truth, axis=1)), rtol=1e-12)
    # the unit of skill: the first epochs' σ of the price change, whatever the run's length
    np.testing.assert_allclose(px.scale, 50.0 * 0.02)
    first = np.diff(np.c_[np.full(3, 50.0), px.truth[:, :20]], axis=1)
    assert abs(first.std() / 1.0 - 1) < 0.3


@pytest.mark.parametrize("kind", ["gbm", "regime", "price", "csv"])
def test_a_longer_world_extends_a_shorter_one(kind: str, tmp_path) -> None:
    """Same seed, more epochs: the first epochs (target, context, scale) are unchanged, so a
    longer run extends a shorter one instead of drawing a different world."""
    rng = np.random.default_rng(7)
    cfg = {
        "gbm": WorldConfig(),
        "regime": WorldConfig(kind=WorldKind.regime),
        "price": WorldConfig(target=TargetKind.price),
        "csv": WorldConfig(
            kind=WorldKind.csv,
            csv_path=str(
                _csv(
                    tmp_path,
                    "time,value\n"
                    + "".join(
                        f"{i},{100 * np.exp(0.01 * np.sin(i) + 0.001 * i)}\n" for i in range(80)
                    ),
                )
            ),
        ),
    }[kind]
    short = simulate_world(cfg, 3, 30, np.random.default_rng(7))
    long = simulate_world(cfg, 3, 70, rng)
    np.testing.assert_array_equal(long.truth[:, :30], short.truth)
    np.testing.assert_array_equal(long.context[:, :30], short.context)
    np.testing.assert_array_equal(long.scale, short.scale)


def test_regime_scale_is_the_returns_stationary_sigma() -> None:
    """Independent check: the σ of a long simulated path (regimes with different means)."""
    cfg = WorldConfig(
        kind=WorldKind.regime, regime_means=[-0.02, 0.0, 0.02], regime_volatilities=[0.005] * 3
    )
    w = simulate_world(cfg, 4, 50_000, _rng(11))
    assert abs(w.truth.std() / w.scale[0] - 1) < 0.02
    assert w.scale[0] == pytest.approx(np.sqrt(0.005**2 + 2 * 0.02**2 / 3))


def test_same_generator_same_world_and_different_seeds_differ() -> None:
    cfg = WorldConfig()
    a, b = simulate_world(cfg, 2, 30, _rng(5)), simulate_world(cfg, 2, 30, _rng(5))
    c = simulate_world(cfg, 2, 30, _rng(6))
    assert np.array_equal(a.truth, b.truth) and np.array_equal(a.context, b.context)
    assert not np.array_equal(a.truth, c.truth)


# ---------------------------------------------------------------------------------- losses


def test_squared_and_absolute_log10_losses() -> None:
    pred, truth = np.array([[1.5, 0.9, 1.0]]), np.array([[1.0]])
    sq = log10_loss("squared_error", np.ones(1))(pred, truth)
    ab = log10_loss("absolute_error", np.ones(1))(pred, truth)
    np.testing.assert_allclose(sq[0, :2], [np.log10(0.25), np.log10(0.01)], rtol=1e-14)
    np.testing.assert_allclose(ab[0, :2], [np.log10(0.5), np.log10(0.1)], rtol=1e-14)
    # an exact prediction is a finite, very low loss (floored), never -inf
    assert np.isfinite(sq[0, 2]) and sq[0, 2] == -30.0


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_every_log10_loss_keeps_absent_entries_absent(kind: str) -> None:
    """The model takes the losses of a whole value bundle at once: an absent (NaN) entry must
    stay NaN, and a present one match log10 of the raw loss to a few ulp."""
    loss = log10_loss(kind, np.ones(2))
    pred = np.array([[np.nan, 1.5, 0.2], [0.3, np.nan, -4.0]])
    got = loss(pred, np.array([[1.0], [0.5]]))
    want = np.log10(np.maximum(LOSSES[kind](pred, np.array([[1.0], [0.5]])), 1e-30))
    assert np.array_equal(np.isnan(got), np.isnan(pred))
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_power_tanh_and_zptae_by_hand() -> None:
    # x / (1 + x²)^(0.375): by hand at x = 1 → 2^-0.375
    assert power_tanh(np.array(1.0)) == pytest.approx(2.0**-0.375, rel=1e-15)
    assert power_tanh(np.array(-3.0)) == pytest.approx(-3.0 / 10.0**0.375, rel=1e-15)
    # z_true = 0, z_pred = 2 (std 0.5): |0 − 2/5^0.375| + (0.01·2)^4
    expected = 2.0 / 5.0**0.375 + 0.02**4
    assert zptae(np.array(1.0), np.array(0.0), std=0.5) == pytest.approx(expected, rel=1e-15)
    # the topic's scale is its z-score std, per topic on the first axis
    loss = log10_loss("zptae", np.array([0.5, 1.0]))
    got = loss(np.array([[1.0], [2.0]]), np.zeros((2, 1)))
    np.testing.assert_allclose(got[:, 0], np.log10([expected, expected]), rtol=1e-14)


def test_zptae_grows_with_the_error_and_is_symmetric() -> None:
    err = np.linspace(0.01, 20, 200)
    loss = zptae(err, np.zeros_like(err), std=1.0)
    assert np.all(np.diff(loss) > 0)
    np.testing.assert_array_equal(loss, zptae(-err, np.zeros_like(err), std=1.0))


def test_unknown_loss_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"loss='hinge' is invalid: must be one of"):
        log10_loss("hinge", np.ones(1))


# ---------------------------------------------------------------------------------- CSV series


def _csv(tmp_path, text: str):
    p = tmp_path / "series.csv"
    p.write_text(text)
    return p


def test_iso_dates_of_mixed_precision_are_one_format(tmp_path) -> None:
    p = _csv(tmp_path, "time,value\n2024-01-01,100\n2024-01-01 12:00,110\n2024-01-02T06:00Z,99\n")
    np.testing.assert_array_equal(load_series(p), [100, 110, 99])


def test_csv_series_with_dates_drives_every_topic(tmp_path) -> None:
    p = _csv(
        tmp_path,
        "time,value\n2024-01-01,100\n2024-01-02,110\n2024-01-03,99\n2024-01-04,99.5\n",
    )
    np.testing.assert_array_equal(load_series(p), [100, 110, 99, 99.5])
    cfg = WorldConfig(kind=WorldKind.csv, csv_path=str(p), loss=LossKind.absolute_error)
    w = simulate_world(cfg, 2, 3, _rng())
    np.testing.assert_allclose(w.truth[0], np.diff(np.log([100, 110, 99, 99.5])), rtol=1e-15)
    np.testing.assert_array_equal(w.truth[0], w.truth[1])


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("when,value\n1,2\n2,3\n", "missing column(s) ['time']; the file has ['when', 'value']"),
        ("time,price\n1,2\n2,3\n", "missing column(s) ['value']"),
        ("time,value\n1,2\n2,abc\n3,4\n", "column 'value' row 3 is 'abc': values must be finite"),
        ("time,value\n1,2\n3,3\n2,4\n", "column 'time' is not strictly increasing at row 4"),
        ("time,value\n1,2\n1,3\n", "not strictly increasing at row 3"),
        ("time,value\n1,2\nyesterday,3\n", "column 'time' row 3 is 'yesterday'"),
        ("time,value\n2024-01-01,2\n2024-13-45,3\n", "row 3 is '2024-13-45'"),
        ("time,value\n1,2\n", "has 1 data row(s)"),
        ("time,value\n1,2\n2,0\n3,1\n", "column 'value' row 3 is 0.0: log-returns need positive"),
        ("time,value\n1,2\n2,\n3,1\n", "column 'value' row 3 is nan: values must be finite"),
        ("time,value\n1,2\n3,3\n2,4\n", "at row 4 (2 after 3)"),
        ("time,value\n1,true\n2,false\n", "row 2 is True: values must be finite numbers"),
        # one format for the whole column: a day-first file is not read month-first row by row
        ("time,value\n01/02/2024,2\n25/01/2024,3\n26/01/2024,4\n", "row 3 is '25/01/2024'"),
        # the entry unlike the others is named, not its neighbour
        ("time,value\n2024-01-01,2\n5,3\n2024-01-03,4\n", "row 3 is '5'"),
        ("", "not a readable CSV file"),
    ],
)
def test_bad_csv_is_one_clear_line_and_exit_2(text, needle, tmp_path, capsys) -> None:
    p = _csv(tmp_path, text)
    code = main(
        [
            "epochs=2",
            "output.progress=false",
            f"output.dir={tmp_path / 'out'}",
            "world=csv",
            f"world.csv_path={p}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err
    assert lines[0].startswith("error: world.csv_path") or "world.csv_path" in lines[0]
    assert "Traceback" not in err


def test_csv_too_short_for_the_run_and_missing_file(tmp_path, capsys) -> None:
    p = _csv(tmp_path, "time,value\n1,2\n2,3\n3,4\n")
    for path, needle in [
        (p, "gives 2 epochs of log_return; epochs=5 needs 5"),
        (tmp_path / "no.csv", "no such file"),
    ]:
        code = main(["epochs=5", "output.progress=false", "world=csv", f"world.csv_path={path}"])
        err = capsys.readouterr().err
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(SeriesError, match="no such file"):
        load_series(tmp_path / "no.csv")


def test_csv_scenario_runs_end_to_end(tmp_path) -> None:
    import allora_sim
    from allora_sim.model import AlloraModel

    rows = "\n".join(f"{t},{100 * np.exp(0.01 * np.sin(t))}" for t in range(40))
    p = _csv(tmp_path, "time,value\n" + rows + "\n")
    sc = allora_sim.scenario("world=csv", f"world.csv_path={p}", "epochs=30")
    model = AlloraModel(sc)
    for _ in range(30):
        model.step()
    frame = model.epochs_frame()
    # epochs 0..28 closed (the last one's reputers report in the next epoch)
    assert len(frame) == 29 and np.isfinite(frame["network_loss"].dropna()).all()
    assert frame["network_loss"].notna().sum() >= 25
    OmegaConf.clear_resolvers()  # nothing leaks between tests


def test_a_price_path_beyond_float64_is_refused() -> None:
    cfg = WorldConfig(target=TargetKind.price, drift=1000.0)
    with pytest.raises(ValueError, match="leaves float64's range"):
        simulate_world(cfg, 1, 5, _rng())
