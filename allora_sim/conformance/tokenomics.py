"""Replay of ``tokenomics_months.csv`` (`mechanism.md` §9.2, §11.3).

Month 0 is the genesis allocation (from :class:`~allora_sim.core.params.MintParams`). Every later
month is computed by :func:`allora_sim.economy.tokenomics.advance_month` — x/mint's emission
functions and the token groups' staking and reward shares — from a state built from the previous
row (the same state the model carries: group totals, circulating and staked tokens, the
treasury, the smoothed emission per staked token, what is still locked), so each row's state
columns also check the month-to-month carry. Topic weights follow the chain's EMA (α 0.5) over the
month's four epochs and topic rewards their share of the topics' emission.

Inputs (exogenous to the mechanism): the date, the supply, the topic and validator populations
(ids, ages, participant counts, stakes, fee revenue, and the weight and stake sums over all of
them, most of which the file does not list).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allora_sim.conformance.golden import Replay, Undetermined
from allora_sim.core import topics as core_topics
from allora_sim.core.params import MintParams
from allora_sim.core.params import golden as golden_params
from allora_sim.economy.tokenomics import GROUPS, TokenomicsState, advance_month, genesis

__all__ = ["replay_tokenomics", "state_from_row"]

BLOCKS_PER_MONTH = 525_960  # the Go vesting test's months (mechanism.md §10.4)
VALIDATORS_PERCENT = 0.25
EPOCHS_PER_MONTH = 4  # the topic-weight EMA runs four times a month (0.9375 = 1 − 0.5⁴)
_INPUT_PREFIXES = (
    "time",
    "network_tokens_total",
    "n_active_",
    "all_",
    "topic_id_",
    "topic_months_live_",
    "topic_n_workers_",
    "topic_n_reputers_",
    "topic_total_stake_",
    "topic_total_fee_revenue_",
    "validator_id_",
    "validator_months_live_",
    "validator_stake_",
)


def _mint() -> MintParams:
    return golden_params()[1]


def state_from_row(golden: pd.DataFrame, month: int) -> TokenomicsState:
    """The model's state after ``month``, built from the file's rows up to it."""
    row = golden.loc[month]
    released = golden.loc[:month]
    first = golden.loc[golden.index[0]]
    return TokenomicsState(
        month=month,
        total={g: float(row[f"{g}_tokens_total"]) for g in GROUPS},
        circulating={g: float(row[f"{g}_tokens_circulating"]) for g in GROUPS},
        staked={g: float(row[f"{g}_tokens_staked"]) for g in GROUPS},
        ecosystem=float(row["ecosystem_tokens_total"]),
        e=float(row["e_i"]) if month > 0 else None,
        locked={
            g: float(first[f"{g}_tokens_total"] - released[f"{g}_tokens_emission"].sum())
            for g in ("investors_preseed", "investors_seed", "team")
        },
    )


def _state_columns(
    st: TokenomicsState,
    vest: dict[str, float] | None,
    eco_emission: float,
    release: dict[str, float],
) -> dict[str, float]:
    out: dict[str, float] = {}
    for g in GROUPS:
        out[f"{g}_tokens_total"] = st.total[g]
        out[f"{g}_tokens_emission"] = (vest or {}).get(g, 0.0) + release.get(g, 0.0)
        out[f"{g}_tokens_circulating"] = st.circulating[g]
        out[f"{g}_tokens_staked"] = st.staked[g]
    out["ecosystem_tokens_total"] = st.ecosystem
    out["ecosystem_tokens_emission"] = eco_emission
    out["ecosystem_tokens_circulating"] = 0.0
    out["ecosystem_tokens_staked"] = 0.0
    out["network_tokens_emission"] = sum(out[f"{g}_tokens_emission"] for g in GROUPS) + (
        eco_emission
    )
    out["network_tokens_circulating"] = st.network_circulating
    out["network_tokens_staked"] = st.network_staked
    return out


def _slots(golden: pd.DataFrame) -> int:
    return sum(c.startswith("topic_id_") for c in golden.columns)


def _topic_columns(golden: pd.DataFrame, m: int, topics_rewards: float) -> dict[str, float]:
    row = golden.loc[m]
    prev = golden.loc[m - 1] if m - 1 in golden.index else None
    out: dict[str, float] = {}
    i = 0
    while f"topic_id_{i}" in golden.columns:
        if row[f"topic_id_{i}"] == 0:
            out[f"topic_weights_{i}"] = 0.0
            out[f"topic_rewards_{i}"] = 0.0
            i += 1
            continue
        # last month's weight of this topic, in whichever slot it was listed then
        slot = next(
            (
                j
                for j in range(_slots(golden))
                if prev is not None and prev[f"topic_id_{j}"] == row[f"topic_id_{i}"]
            ),
            None,
        )
        new_topic = row[f"topic_months_live_{i}"] <= 1
        if slot is None and not new_topic:
            # the topic was live last month but not listed then: its previous weight is not
            # in the file
            out[f"topic_weights_{i}"] = np.nan
            out[f"topic_rewards_{i}"] = np.nan
            i += 1
            continue
        assert prev is not None or slot is None
        w = np.array([float(prev[f"topic_weights_{slot}"]) if slot is not None else np.nan])
        for _ in range(EPOCHS_PER_MONTH):
            w = core_topics.topic_weight(
                np.array([row[f"topic_total_stake_{i}"]]),
                np.array([row[f"topic_total_fee_revenue_{i}"]]),
                1,
                w,
                0.5,
                0.5,
                0.5,
            )
        out[f"topic_weights_{i}"] = float(w[0])
        out[f"topic_rewards_{i}"] = float(
            core_topics.topic_rewards(
                w, float(row["all_topic_weight_sum"]), topics_rewards, 1, np.inf
            )[0]
        )
        i += 1
    return out


def _validator_columns(row: pd.Series, validator_rewards: float) -> dict[str, float]:
    """Each listed validator's stake share of the validators' emission (exact at month 1; the
    golden simulator's later months differ by < 3 %, mechanism.md §15)."""
    out: dict[str, float] = {}
    i = 0
    total = float(row["all_validator_stake_sum"])
    while f"validator_id_{i}" in row.index:
        stake = float(row[f"validator_stake_{i}"])
        out[f"validator_rewards_{i}"] = validator_rewards * stake / total if total > 0 else 0.0
        i += 1
    return out


def replay_tokenomics(golden: pd.DataFrame) -> Replay:
    """Replay the tokenomics golden file (module docstring)."""
    mint = _mint()
    inputs = {c for c in golden.columns if c.startswith(_INPUT_PREFIXES)}
    frame = pd.DataFrame(np.nan, index=golden.index, columns=golden.columns)
    for c in inputs:
        frame[c] = golden[c]
    months = list(golden.index)
    unknown = Undetermined(
        reason="the topic was live the month before but not listed then, so its "
        "previous weight is not in the file"
    )
    for m in months:
        if m == months[0]:
            st = genesis(mint)
            release = {g: st.circulating[g] for g in ("foundation", "participants")}
            values = _state_columns(st, None, 0.0, release)
            values |= {
                "ehat_target_i": 0.0,
                "ehat_i": 0.0,
                "e_i": 0.0,
                "validator_rewards": 0.0,
                "topics_rewards": 0.0,
            }
            values["ehat_max_i"] = mint.maximum_monthly_percentage_yield / (
                VALIDATORS_PERCENT
                + (1 - VALIDATORS_PERCENT) * mint.previous_percentage_reward_to_staked_reputers
            )
            values |= _topic_columns(golden, m, 0.0)
            values |= _validator_columns(golden.loc[m], 0.0)
        else:
            prev = state_from_row(golden, m - 1)
            st, em = advance_month(
                prev,
                mint,
                BLOCKS_PER_MONTH,
                VALIDATORS_PERCENT,
                mint.previous_percentage_reward_to_staked_reputers,
            )
            values = _state_columns(st, em.vest, em.emission, {})
            values |= {
                "ehat_target_i": em.target,
                "ehat_max_i": em.maximum,
                "ehat_i": em.capped,
                "e_i": em.e,
                "validator_rewards": em.validators,
                "topics_rewards": em.topics,
            }
            values |= _topic_columns(golden, m, em.topics)
            values |= _validator_columns(golden.loc[m], em.validators)
        for c, v in values.items():
            if c in frame.columns and c not in inputs:
                frame.loc[m, c] = v
                if np.isnan(v):
                    unknown.add(m, [c])
    return Replay(frame=frame, inputs=inputs, undetermined=[unknown] if unknown.cells else [])
