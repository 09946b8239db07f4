"""The chain's hard-coded network-inference cases (mechanism.md §11.1).

From ``network_inferences_test.go``.

Epoch-302 inferences/forecasts with different subsets of epoch-301 regrets stored and different
topic InitialRegret values; expected values are the Go tests' literals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from allora_sim.conformance.golden import load_golden
from allora_sim.conformance.inference_synthesis import state_from_rows
from allora_sim.core.params import golden
from allora_sim.core.synthesis import RegretStore, synthesize

N, K = 5, 3


def _run(
    golden_dir: Path,
    initial_regret: float,
    inferers: list[int],
    forecasters: list[int],
    with_forecasts: bool = True,
    with_loss: bool = True,
):
    df = load_golden(golden_dir / "inference_synthesis_epochs.csv")
    row = df.loc[302]
    full, _ = state_from_rows(df, 301)
    r = full.regrets
    inf = np.zeros(N, dtype=bool)
    inf[inferers] = True
    fc = np.zeros(K, dtype=bool)
    fc[forecasters] = True

    def only(a: np.ndarray, keep: np.ndarray) -> np.ndarray:
        return np.where(keep[None], a, np.nan)

    def pair(a: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return np.where((rows[:, None] & cols[None, :])[None], a, np.nan)

    stored = RegretStore(
        inferer=only(r.inferer, inf),
        forecaster=only(r.forecaster, fc),
        naive_inferer=only(r.naive_inferer, inf),
        oneout_inferer_inferer=pair(r.oneout_inferer_inferer, inf, inf),
        oneout_inferer_forecaster=pair(r.oneout_inferer_forecaster, inf, fc),
        oneout_forecaster_inferer=pair(r.oneout_forecaster_inferer, fc, inf),
        oneout_forecaster_forecaster=pair(r.oneout_forecaster_forecaster, fc, fc),
        onein_forecaster_inferer=pair(r.onein_forecaster_inferer, fc, inf),
        onein_forecaster_self=only(r.onein_forecaster_self, fc),
    )
    inference = np.array([[row[f"inference_{j}"] for j in range(N)]])
    forecast = np.array(
        [[[row[f"forecasted_loss_{k}_for_{j}"] for j in range(N)] for k in range(K)]]
    )
    element = np.full((1, K, N), with_forecasts)
    mech, _ = golden()
    loss = np.array([df.loc[301, "network_loss"] if with_loss else np.nan])
    return synthesize(
        inference,
        np.ones((1, N), dtype=bool),
        forecast,
        element,
        stored,
        np.array([initial_regret]),
        loss,
        mech.topic.epsilon,
        mech.topic.p_norm,
        mech.module.c_norm,
        mech.module.epsilon_safe_div,
    ).values


def _close(got: np.ndarray, want: list[float]) -> None:
    np.testing.assert_allclose(np.ravel(got), want, rtol=1e-12, atol=0)


def test_no_previous_losses_is_the_median(golden_dir: Path) -> None:
    v = _run(golden_dir, 0.0, [], [], with_forecasts=False, with_loss=False)
    _close(v.combined, [0.1997509073157136])  # TestGetNetworkInferencesAtBlockWithNoPreviousLosses
    assert np.isnan(v.oneout_inferer).all()
    assert v.naive[0] == 0.0


def test_one_old_inferer_no_forecasters(golden_dir: Path) -> None:
    v = _run(golden_dir, -1.8331309069480215, [0], [], with_forecasts=False)
    _close(v.combined, [0.20059970801966293])
    _close(
        v.oneout_inferer,
        [
            0.1404419672286048,
            0.1288457756437288,
            0.1431887680171583,
            0.18794792677471128,
            0.17208154172014362,
        ],
    )


def test_old_inferers_one_old_forecaster(golden_dir: Path) -> None:
    v = _run(golden_dir, -3.7780955644806307, list(range(N)), [0])
    _close(v.combined, [0.09643700801928372])
    _close(v.forecaster, [0.08475997300723974, 0.0807110022144602, 0.07851400736008668])
    _close(
        v.oneout_inferer,
        [
            0.10278833087892551,
            0.10309434130026068,
            0.10749347667557652,
            0.09957413455954356,
            0.23133130005198607,
        ],
    )
    _close(v.oneout_forecaster, [0.19384484001403682, 0.13368285139309616, 0.1339967078008638])
    _close(v.onein_forecaster, [0.086385958713291, 0.14220283026646785, 0.1418366644574056])


def test_old_inferers_all_new_forecasters(golden_dir: Path) -> None:
    v = _run(golden_dir, -3.0557074373274475, list(range(N)), [])
    _close(v.combined, [0.20065795737590336])
    _close(v.forecaster, [0.08475997300723974, 0.0807110022144602, 0.07851400736008668])
    _close(
        v.oneout_inferer,
        [
            0.195653799650153,
            0.1768775314107972,
            0.1931955480873375,
            0.20197760150788802,
            0.21429866100721226,
        ],
    )
    _close(v.oneout_forecaster, [0.13310442699412764, 0.13368285139309616, 0.1339967078008638])
    _close(v.onein_forecaster, [0.1428776587319311, 0.14220283026646785, 0.1418366644574056])
