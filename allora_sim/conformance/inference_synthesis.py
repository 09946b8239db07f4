"""Replay of ``inference_synthesis_epochs.csv`` through the reward core (`mechanism.md` §11.1, §12).

Every epoch E after the first is run through :func:`allora_sim.core.run_topic_epoch` from row E's
inputs (inferences, forecasts, reputer stakes and losses, topic reward) and a
:class:`~allora_sim.core.TopicState` built from the earlier rows — the regrets, network loss,
listening coefficients, smoothed reward fractions, forecaster score ratio and score window that
the core itself carries forward. Comparing each row's state columns therefore also checks the
epoch-to-epoch carry (``tests/conformance`` checks the carried state against the next row's
built state directly).

Two kinds of cell need state from before the first row: everything of row 300 that depends on
epoch 299, and the forecaster reward fractions of 301–302, whose score window reaches into epochs
298–299 (the window holds the latest 10 scores, §5.4). Where such a cell is still a function of
values in the file, it is computed stage by stage with the same core functions from the row's own
intermediate columns, as the chain's Go tests do (e.g. rewards of row 300 from its entropies).
Only cells that depend on values the file does not hold are left NaN, with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from allora_sim.conformance.golden import Replay, Undetermined
from allora_sim.core import losses as core_losses
from allora_sim.core import rewards, scores
from allora_sim.core.bundle import ValueBundle
from allora_sim.core.epoch import EpochInputs, TopicState, run_topic_epoch
from allora_sim.core.params import golden as golden_params
from allora_sim.core.synthesis import RegretStore

__all__ = ["replay_inference_synthesis", "state_from_rows"]

UALLO = 1e18  # the Go tests feed golden stakes (whole tokens) as stake·1e18
# The topic's InitialRegret is not in the file; it is only read for regrets that are not stored,
# and every regret of this topic is stored from row 300 on. The chain's own test topic
# (mockTopic) uses 1.
INITIAL_REGRET = 1.0


@dataclass(frozen=True)
class _Layout:
    n: int  # inferers
    k: int  # forecasters
    m: int  # reputers

    @staticmethod
    def of(df: pd.DataFrame) -> _Layout:
        def count(prefix: str) -> int:
            return sum(1 for c in df.columns if c.startswith(prefix) and c[len(prefix) :].isdigit())

        return _Layout(
            count("inference_"), count("forecast_implied_inference_"), count("reputer_stake_")
        )

    def oneout(self, w: int) -> str:
        return f"_oneout_{w}"


def _v(row: pd.Series, col: str) -> float:
    return float(row[col])


def _reports(row: pd.Series, lay: _Layout) -> ValueBundle:
    n, k, m = lay.n, lay.k, lay.m

    def col(r: int, q: str) -> float:
        return _v(row, f"reputer_{r}_loss_{q}")

    return ValueBundle(
        combined=np.array([col(r, "network_inference") for r in range(m)]),
        naive=np.array([col(r, "naive_network_inference") for r in range(m)]),
        inferer=np.array([[col(r, f"inference_{j}") for j in range(n)] for r in range(m)]),
        forecaster=np.array(
            [[col(r, f"forecast_implied_inference_{f}") for f in range(k)] for r in range(m)]
        ),
        oneout_inferer=np.array(
            [[col(r, f"network_inference_oneout_{j}") for j in range(n)] for r in range(m)]
        ),
        oneout_forecaster=np.array(
            [[col(r, f"network_inference_oneout_{n + f}") for f in range(k)] for r in range(m)]
        ),
        onein_forecaster=np.array(
            [[col(r, f"naive_network_inference_onein_{f}") for f in range(k)] for r in range(m)]
        ),
        oneout_inferer_forecaster=np.array(
            [
                [
                    [col(r, f"forecast_implied_inference_{f}_oneout_{j}") for j in range(n)]
                    for f in range(k)
                ]
                for r in range(m)
            ]
        ),
    )


def _inputs(row: pd.Series, lay: _Layout) -> EpochInputs:
    n, k, m = lay.n, lay.k, lay.m
    return EpochInputs(
        inferer_ids=np.arange(n),
        inference=np.array([_v(row, f"inference_{j}") for j in range(n)]),
        forecaster_ids=np.arange(k),
        forecast=np.array(
            [[_v(row, f"forecasted_loss_{f}_for_{j}") for j in range(n)] for f in range(k)]
        ),
        reputer_ids=np.arange(m),
        stake=np.array([_v(row, f"reputer_stake_{r}") for r in range(m)]) * UALLO,
        reputer_losses=_reports(row, lay),
        topic_reward=np.float64(_v(row, "topic_rewards")) * UALLO,
    )


def _regrets(row: pd.Series, lay: _Layout) -> RegretStore:
    n, k = lay.n, lay.k

    def r(x: int, w: int | None = None, onein: int | None = None) -> float:
        if onein is not None:
            return _v(row, f"inference_regret_worker_{x}_onein_{onein}")
        if w is None:
            return _v(row, f"inference_regret_worker_{x}")
        return _v(row, f"inference_regret_worker_{x}_oneout_{w}")

    return RegretStore(
        inferer=np.array([[r(j) for j in range(n)]]),
        forecaster=np.array([[r(n + f) for f in range(k)]]),
        naive_inferer=np.array([[_v(row, f"naive_inference_regret_worker_{j}") for j in range(n)]]),
        oneout_inferer_inferer=np.array([[[r(j, w) for j in range(n)] for w in range(n)]]),
        oneout_inferer_forecaster=np.array([[[r(n + f, w) for f in range(k)] for w in range(n)]]),
        oneout_forecaster_inferer=np.array([[[r(j, n + w) for j in range(n)] for w in range(k)]]),
        oneout_forecaster_forecaster=np.array(
            [[[r(n + f, n + w) for f in range(k)] for w in range(k)]]
        ),
        onein_forecaster_inferer=np.array([[[r(j, onein=f) for j in range(n)] for f in range(k)]]),
        onein_forecaster_self=np.array([[r(n, onein=f) for f in range(k)]]),
    )


def _window(
    golden: pd.DataFrame, upto: int, prefix: str, count: int, w: int
) -> tuple[np.ndarray, int]:
    """Score window after storing rows ``≤ upto``: newest row first, in stored order (§5.4).
    Returns the window (NaN-padded) and how many of its W places the file could fill."""
    vals: list[float] = []
    for e in sorted((e for e in golden.index if e <= upto), reverse=True):
        row = golden.loc[e]
        vals.extend(_v(row, f"{prefix}{i}") for i in range(count))
        if len(vals) >= w:
            break
    known = min(len(vals), w)
    out = np.full(w, np.nan)
    out[:known] = vals[:known]
    return out, known


def state_from_rows(golden: pd.DataFrame, upto: int) -> tuple[TopicState, dict[str, int]]:
    """The core's topic state after epoch ``upto``, built from the file's rows ``≤ upto``.

    Returns the state and, per score window, how many of its places the file could fill (a
    window the file cannot fill makes the next reward fractions of that class undetermined).
    State the file does not record (score EMAs, inclusion counts, topic quantiles) does not
    enter any column; it starts empty.
    """
    lay = _Layout.of(golden)
    row = golden.loc[upto]
    w = golden_params()[0].module.max_samples_to_scale_scores
    st = TopicState.new(np.arange(lay.n), np.arange(lay.k), np.arange(lay.m), window=w)
    inf_hist, inf_known = _window(golden, upto, "inferer_score_", lay.n, w)
    fc_hist, fc_known = _window(golden, upto, "forecaster_score_", lay.k, w)
    state = replace(
        st,
        regrets=_regrets(row, lay),
        initial_regret=np.array([INITIAL_REGRET]),
        network_loss=np.array([_v(row, "network_loss")]),
        listening_coefficient=np.array(
            [[_v(row, f"reputer_listening_coefficient_{r}") for r in range(lay.m)]]
        ),
        inferer_score_history=inf_hist[None],
        forecaster_score_history=fc_hist[None],
        inferer_fraction_smooth=np.array(
            [[_v(row, f"inferer_reward_fraction_smooth_{j}") for j in range(lay.n)]]
        ),
        forecaster_fraction_smooth=np.array(
            [[_v(row, f"forecaster_reward_fraction_smooth_{f}") for f in range(lay.k)]]
        ),
        reputer_fraction_smooth=np.array(
            [[_v(row, f"reputer_reward_fraction_smooth_{r}") for r in range(lay.m)]]
        ),
        forecaster_score_ratio=np.array([_v(row, "forecaster_score_ratio")]),
    )
    return state, {"inferer": inf_known, "forecaster": fc_known}


def _loss_columns(nl: ValueBundle, lay: _Layout) -> dict[str, float]:
    n, k = lay.n, lay.k
    out = {"network_loss": nl.combined, "network_naive_loss": nl.naive}
    out |= {f"inference_loss_{j}": nl.inferer[j] for j in range(n)}
    out |= {f"forecast_implied_inference_loss_{f}": nl.forecaster[f] for f in range(k)}
    out |= {
        f"forecast_implied_inference_loss_{f}_oneout_{j}": nl.oneout_inferer_forecaster[f, j]
        for f in range(k)
        for j in range(n)
    }
    out |= {f"network_loss_oneout_{j}": nl.oneout_inferer[j] for j in range(n)}
    out |= {f"network_loss_oneout_{n + f}": nl.oneout_forecaster[f] for f in range(k)}
    out |= {f"network_naive_loss_onein_{f}": nl.onein_forecaster[f] for f in range(k)}
    return {c: float(v) for c, v in out.items()}


def _composed_row(outcome: object, nxt: TopicState, lay: _Layout) -> dict[str, float]:
    """Golden columns from one ``run_topic_epoch`` (unbatched outcome, batched next state)."""
    n, k, m = lay.n, lay.k, lay.m
    o = outcome
    net = o.network  # type: ignore[attr-defined]
    v = net.values
    out: dict[str, float] = {}
    out |= {
        f"forecasted_regret_{f}_inferer_{j}": net.forecasted_regret[f, j]
        for f in range(k)
        for j in range(n)
    }
    out |= {f"forecast_implied_inference_{f}": v.forecaster[f] for f in range(k)}
    out |= {
        f"forecast_implied_inference_{f}_oneout_{j}": v.oneout_inferer_forecaster[f, j]
        for f in range(k)
        for j in range(n)
    }
    out["network_inference"] = v.combined
    out |= {f"network_inference_errorbar_{i}": net.error_bars[i] for i in range(5)}
    out["network_naive_inference"] = v.naive
    out |= {f"network_inference_oneout_{j}": v.oneout_inferer[j] for j in range(n)}
    out |= {f"network_inference_oneout_{n + f}": v.oneout_forecaster[f] for f in range(k)}
    out |= {f"network_naive_inference_onein_{f}": v.onein_forecaster[f] for f in range(k)}
    out |= _loss_columns(o.network_losses, lay)  # type: ignore[attr-defined]
    r = nxt.regrets
    out |= {f"inference_regret_worker_{j}": r.inferer[0, j] for j in range(n)}
    out |= {f"inference_regret_worker_{n + f}": r.forecaster[0, f] for f in range(k)}
    out |= {f"naive_inference_regret_worker_{j}": r.naive_inferer[0, j] for j in range(n)}
    for w in range(n):
        out |= {
            f"inference_regret_worker_{j}_oneout_{w}": r.oneout_inferer_inferer[0, w, j]
            for j in range(n)
        }
        out |= {
            f"inference_regret_worker_{n + f}_oneout_{w}": r.oneout_inferer_forecaster[0, w, f]
            for f in range(k)
        }
    for w in range(k):
        out |= {
            f"inference_regret_worker_{j}_oneout_{n + w}": r.oneout_forecaster_inferer[0, w, j]
            for j in range(n)
        }
        out |= {
            f"inference_regret_worker_{n + f}_oneout_{n + w}": r.oneout_forecaster_forecaster[
                0, w, f
            ]
            for f in range(k)
        }
    for f in range(k):
        out |= {
            f"inference_regret_worker_{j}_onein_{f}": r.onein_forecaster_inferer[0, f, j]
            for j in range(n)
        }
        out[f"inference_regret_worker_{n}_onein_{f}"] = r.onein_forecaster_self[0, f]
    out |= {f"inferer_score_{j}": o.inferer_score[j] for j in range(n)}  # type: ignore[attr-defined]
    out |= {f"forecaster_score_{f}": o.forecaster_score[f] for f in range(k)}  # type: ignore[attr-defined]
    out |= {f"reputer_score_{i}": o.reputer_score[i] for i in range(m)}  # type: ignore[attr-defined]
    out |= {
        f"reputer_listening_coefficient_{i}": o.listening_coefficient[i]  # type: ignore[attr-defined]
        for i in range(m)
    }
    out |= {f"reputer_adjusted_stake_{i}": o.adjusted_stake[i] for i in range(m)}  # type: ignore[attr-defined]
    out |= {f"inferer_reward_fraction_{j}": o.inferer_fraction[j] for j in range(n)}  # type: ignore[attr-defined]
    out |= {f"forecaster_reward_fraction_{f}": o.forecaster_fraction[f] for f in range(k)}  # type: ignore[attr-defined]
    out |= {f"reputer_reward_fraction_{i}": o.reputer_fraction[i] for i in range(m)}  # type: ignore[attr-defined]
    out |= {
        f"inferer_reward_fraction_smooth_{j}": nxt.inferer_fraction_smooth[0, j] for j in range(n)
    }
    out |= {
        f"forecaster_reward_fraction_smooth_{f}": nxt.forecaster_fraction_smooth[0, f]
        for f in range(k)
    }
    out |= {
        f"reputer_reward_fraction_smooth_{i}": nxt.reputer_fraction_smooth[0, i] for i in range(m)
    }
    e = float(o.inferers_reward + o.forecasters_reward + o.reputers_reward)  # type: ignore[attr-defined]
    out["inferers_entropy"] = o.inferers_entropy  # type: ignore[attr-defined]
    out["forecasters_entropy"] = o.forecasters_entropy  # type: ignore[attr-defined]
    out["reputers_entropy"] = o.reputers_entropy  # type: ignore[attr-defined]
    out["forecaster_task_score"] = o.forecaster_task_score  # type: ignore[attr-defined]
    out["forecaster_score_ratio"] = o.forecaster_score_ratio  # type: ignore[attr-defined]
    out["forecasters_utility"] = o.chi  # type: ignore[attr-defined]
    out["inferers_reward_fraction"] = o.inferers_reward / e  # type: ignore[attr-defined]
    out["forecasters_reward_fraction"] = o.forecasters_reward / e  # type: ignore[attr-defined]
    out["reputers_reward_fraction"] = o.reputers_reward / e  # type: ignore[attr-defined]
    out |= {f"inferer_reward_{j}": o.inferer_reward[j] / UALLO for j in range(n)}  # type: ignore[attr-defined]
    out |= {f"forecaster_reward_{f}": o.forecaster_reward[f] / UALLO for f in range(k)}  # type: ignore[attr-defined]
    out |= {f"reputer_reward_{i}": o.reputer_reward[i] / UALLO for i in range(m)}  # type: ignore[attr-defined]
    return {c: float(x) for c, x in out.items()}


def _stagewise_row(golden: pd.DataFrame, e: int, lay: _Layout) -> dict[str, float]:
    """Columns of row ``e`` computed stage by stage from the row's own intermediate columns
    (and row e−1's where a stage needs the previous value), with the core's functions."""
    mech, _ = golden_params()
    mp = mech.module
    n, k, m = lay.n, lay.k, lay.m
    row = golden.loc[e]
    prev = golden.loc[e - 1] if (e - 1) in golden.index else None
    inp = _inputs(row, lay)
    rl = inp.reputer_losses.map(lambda x: np.asarray(x)[None])
    accepted = np.ones((1, m), dtype=bool)
    rep, reported = core_losses.accepted_reports(
        rl, accepted, np.ones((1, n), dtype=bool), np.ones((1, k), dtype=bool)
    )
    nl, _, _ = core_losses.network_losses(rep, reported, np.asarray(inp.stake)[None], n, k)
    out = _loss_columns(nl.map(lambda x: x[0]), lay)
    inf_score, inf_scored, _ = scores.inferer_scores(nl)
    fc_score, _, _, _ = scores.forecaster_scores(nl)
    task = scores.forecasting_task_score(nl)
    out |= {f"inferer_score_{j}": float(inf_score[0, j]) for j in range(n)}
    out |= {f"forecaster_score_{f}": float(fc_score[0, f]) for f in range(k)}
    out["forecaster_task_score"] = float(task[0])

    def cols(prefix: str, count: int, r: pd.Series = row) -> np.ndarray:
        return np.array([[_v(r, f"{prefix}{i}") for i in range(count)]])

    stake = np.asarray(inp.stake)[None]
    rep_frac = rewards.reputer_reward_fractions(
        stake, cols("reputer_score_", m), accepted, mp.p_reward_reputer
    )
    out |= {f"reputer_reward_fraction_{i}": float(rep_frac[0, i]) for i in range(m)}
    if prev is not None:
        for cls, count in (("inferer", n), ("forecaster", k), ("reputer", m)):
            ent, smooth, _, _ = rewards.smoothed_fractions_and_entropy(
                cols(f"{cls}_reward_fraction_", count),
                np.ones((1, count), dtype=bool),
                cols(f"{cls}_reward_fraction_smooth_", count, prev),
                mp.task_reward_alpha,
                mp.beta_entropy,
            )
            out |= {f"{cls}_reward_fraction_smooth_{i}": float(smooth[0, i]) for i in range(count)}
            out[f"{cls}s_entropy"] = float(ent[0])
        _, ratio = rewards.forecasting_utility(
            task,
            inf_score,
            inf_scored,
            np.array([_v(prev, "forecaster_score_ratio")]),
            mp.task_reward_alpha,
        )
        out["forecaster_score_ratio"] = float(ratio[0])
    chi = rewards.chi_from_ratio(np.array([_v(row, "forecaster_score_ratio")]))
    out["forecasters_utility"] = float(chi[0])
    f, g, h = (np.array([_v(row, f"{c}s_entropy")]) for c in ("inferer", "forecaster", "reputer"))
    gamma = rewards.normalization_factor(f, g, chi)
    e_t = np.array([_v(row, "topic_rewards")])
    u, v, w = rewards.class_rewards(f, g, h, e_t, chi, gamma)
    total = float(u[0] + v[0] + w[0])
    out["inferers_reward_fraction"] = float(u[0]) / total
    out["forecasters_reward_fraction"] = float(v[0]) / total
    out["reputers_reward_fraction"] = float(w[0]) / total
    for cls, count, tot in (("inferer", n, u), ("forecaster", k, v), ("reputer", m, w)):
        frac = cols(f"{cls}_reward_fraction_", count)
        out |= {f"{cls}_reward_{i}": float(frac[0, i] * tot[0]) for i in range(count)}
    return out


# Families of row 300 that need epoch-299 state, and why.
_NEEDS_PREVIOUS = {
    "forecasted_regret_": "needs network_loss of epoch 299",
    "forecast_implied_inference_": "needs network_loss and regrets of epoch 299",
    "network_inference": "needs network_loss and regrets of epoch 299",
    "network_naive_inference": "needs regrets of epoch 299",
    "inference_regret_worker_": "needs regrets of epoch 299",
    "naive_inference_regret_worker_": "needs regrets of epoch 299",
    "reputer_score_": "needs listening coefficients of epoch 299",
    "reputer_listening_coefficient_": "needs listening coefficients of epoch 299",
    "reputer_adjusted_stake_": "needs listening coefficients of epoch 299",
    "inferer_reward_fraction_": "needs the scores of epoch 299 (score window, §5.4)",
    "forecaster_reward_fraction_": "needs the scores of epochs 298–299 (score window, §5.4)",
    "inferer_reward_fraction_smooth_": "needs smoothed fractions of epoch 299",
    "forecaster_reward_fraction_smooth_": "needs smoothed fractions of epoch 299",
    "reputer_reward_fraction_smooth_": "needs smoothed fractions of epoch 299",
    "inferers_entropy": "needs smoothed fractions of epoch 299",
    "forecasters_entropy": "needs smoothed fractions of epoch 299",
    "reputers_entropy": "needs smoothed fractions of epoch 299",
    "forecaster_score_ratio": "needs forecaster_score_ratio of epoch 299",
}


def _depends_on_forecaster_window(col: str) -> bool:
    """Columns downstream of the forecaster reward fractions within one epoch (§6.3–§6.6)."""
    return (
        col.startswith(("forecaster_reward_fraction_", "forecasters_entropy"))
        or col
        in ("inferers_reward_fraction", "forecasters_reward_fraction", "reputers_reward_fraction")
        or re.fullmatch(r"(inferer|forecaster|reputer)_reward_\d+", col) is not None
    )


def replay_inference_synthesis(golden: pd.DataFrame) -> Replay:
    """Replay the inference-synthesis golden file (module docstring)."""
    lay = _Layout.of(golden)
    mech, _ = golden_params()
    inputs = {
        c
        for c in golden.columns
        if c in ("target", "topic_rewards")
        or re.fullmatch(r"inference_\d+|forecasted_loss_\d+_for_\d+|reputer_stake_\d+", c)
        or re.fullmatch(r"reputer_\d+_loss_.*", c)
    }
    frame = pd.DataFrame(np.nan, index=golden.index, columns=golden.columns)
    for c in inputs:
        frame[c] = golden[c]
    computed = [c for c in golden.columns if c not in inputs]
    epochs = list(golden.index)
    first = epochs[0]
    needs_previous = {
        key: Undetermined(reason=f"row {first} {why}") for key, why in _NEEDS_PREVIOUS.items()
    }
    window_gap = Undetermined(
        reason="the forecaster score window (latest 10 scores, §5.4) reaches epochs before the "
        "first row"
    )
    need = mech.module.max_samples_to_scale_scores - lay.k
    for e in epochs:
        values = _stagewise_row(golden, e, lay)
        if e != first:
            state, known = state_from_rows(golden, e - 1)
            outcome, nxt = run_topic_epoch(_inputs(golden.loc[e], lay), state, mech)
            composed = _composed_row(outcome, nxt, lay)
            window_short = known["forecaster"] < need
            for c, val in composed.items():
                if window_short and _depends_on_forecaster_window(c):
                    continue  # the stage-by-stage value from the row's own columns stands
                values[c] = val
        for c in computed:
            frame.loc[e, c] = values.get(c, np.nan)
        for c in computed:
            if not np.isnan(frame.loc[e, c]):
                continue
            if e == first:
                key = max((p for p in _NEEDS_PREVIOUS if c.startswith(p)), key=len, default=None)
                if key is not None:
                    needs_previous[key].add(e, [c])
                    continue
            if c.startswith("forecaster_reward_fraction_"):
                window_gap.add(e, [c])
    result = [u for u in needs_previous.values() if u.cells]
    if window_gap.cells:
        result.append(window_gap)
    listed = {cell for u in result for cell in u.cells}
    leftover = [
        (e, c)
        for e in epochs
        for c in computed
        if np.isnan(frame.loc[e, c]) and (e, c) not in listed
    ]
    if leftover:
        result.append(Undetermined(reason="not determinable from the file", cells=leftover))
    return Replay(frame=frame, inputs=inputs, undetermined=result)
