"""Monthly token-supply model of the x/mint emission (the golden tokenomics data's convention).

Token-holder groups — investors (pre-seed, seed), team, foundation, participants, and the
ecosystem treasury — evolve month by month (`mechanism.md` §9.2):

* vesting unlocks with the chain's schedule (:func:`allora_sim.core.emission.locked_vesting`);
* each group stakes a fixed fraction of its circulating tokens (investors and team 0.75,
  foundation 0.25, participants 0.4), and tokens unlocked in a month are staked before the
  month's emission is computed;
* the month's treasury emission follows x/mint (target per staked token from the ecosystem's
  locked tokens, cap, smoothing: :mod:`allora_sim.core.emission`);
* of the emission, the stakers' part ``f_v + (1 − f_v)·f_rep`` (validators and reputers) is
  shared by stake, the rest (inferers and forecasters) goes to the participants.

The relations were established on the golden data (all group columns reproduce to ~1e-13).
Amounts are in whole tokens (float), as in that data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from allora_sim.core import emission
from allora_sim.core.params import MintParams

__all__ = [
    "GROUPS",
    "STAKED_FRACTION",
    "TokenomicsState",
    "advance_month",
    "genesis",
]

GROUPS = ("investors_preseed", "investors_seed", "team", "foundation", "participants")
VESTING_GROUPS = ("investors_preseed", "investors_seed", "team")
STAKED_FRACTION = {
    "investors_preseed": 0.75,
    "investors_seed": 0.75,
    "team": 0.75,
    "foundation": 0.25,
    "participants": 0.4,
}
_MINT_SHARE = {
    "investors_preseed": "investors_preseed_percent_of_total_supply",
    "investors_seed": "investors_percent_of_total_supply",
    "team": "team_percent_of_total_supply",
    "foundation": "foundation_treasury_percent_of_total_supply",
    "participants": "participants_percent_of_total_supply",
}
ALLO = 10**18


@dataclass(frozen=True)
class TokenomicsState:
    """Token groups after a month (whole tokens) and the smoothed emission per staked token."""

    month: int
    total: dict[str, float]
    circulating: dict[str, float]
    staked: dict[str, float]
    ecosystem: float
    e: float | None  # smoothed emission per staked token (None before the first emission)
    locked: dict[str, float] = field(default_factory=dict)

    @property
    def network_circulating(self) -> float:
        return sum(self.circulating.values())

    @property
    def network_staked(self) -> float:
        return sum(self.staked.values())


@dataclass(frozen=True)
class MonthEmission:
    """What one month's emission was (whole tokens; per-staked-token rates)."""

    vest: dict[str, float]
    target: float
    maximum: float
    capped: float
    e: float
    emission: float
    validators: float
    topics: float
    gains: dict[str, float]


def genesis(mint: MintParams) -> TokenomicsState:
    """Month 0: foundation and participants released, vesting groups locked, treasury full."""
    supply = mint.max_supply / ALLO
    total = {g: getattr(mint, _MINT_SHARE[g]) * supply for g in GROUPS}
    circ = {g: (total[g] if g in ("foundation", "participants") else 0.0) for g in GROUPS}
    staked = {g: STAKED_FRACTION[g] * circ[g] for g in GROUPS}
    return TokenomicsState(
        month=0,
        total=total,
        circulating=circ,
        staked=staked,
        ecosystem=mint.ecosystem_treasury_percent_of_total_supply * supply,
        e=None,
        locked={g: total[g] for g in VESTING_GROUPS},
    )


def advance_month(
    state: TokenomicsState,
    mint: MintParams,
    blocks_per_month: int,
    validators_percent: float,
    reputers_percent: float,
    max_supply: float | None = None,
) -> tuple[TokenomicsState, MonthEmission]:
    """One month: unlock, stake, emit, distribute. ``reputers_percent`` is the stored
    ``PreviousPercentageRewardToStakedReputers`` f_rep."""
    m = state.month + 1
    supply = mint.max_supply / ALLO if max_supply is None else max_supply
    lock = emission.locked_vesting(blocks_per_month, blocks_per_month * m, mint)
    locked_now = {
        "investors_preseed": lock.investors_preseed / ALLO,
        "investors_seed": lock.investors / ALLO,
        "team": lock.team / ALLO,
    }
    vest = {g: 0.0 for g in GROUPS}
    for g in VESTING_GROUPS:
        released = state.locked.get(g, 0.0) - locked_now[g]
        vest[g] = released if released >= 1.0 else 0.0  # sub-token remainders stay locked
    staked = {g: state.staked[g] + STAKED_FRACTION[g] * vest[g] for g in GROUPS}
    circ = sum(state.circulating.values()) + sum(vest.values())
    net_staked = sum(staked.values())
    target = emission.target_emission_per_staked_token(
        mint.f_emission, _u(state.ecosystem), _u(net_staked), _u(circ), _u(supply)
    )
    maximum = emission.max_emission_per_staked_token(
        mint.maximum_monthly_percentage_yield, reputers_percent, validators_percent
    )
    capped = emission.capped_target(target, maximum)
    e = emission.smoothed_emission(capped, mint.one_month_smoothing_degree, state.e)
    total_emission = e * net_staked
    stakers = validators_percent + (1.0 - validators_percent) * reputers_percent
    gains = {g: stakers * total_emission * staked[g] / net_staked for g in GROUPS}
    gains["participants"] += (1.0 - stakers) * total_emission
    circ_g = {g: state.circulating[g] + vest[g] + gains[g] for g in GROUPS}
    new = replace(
        state,
        month=m,
        total={g: state.total[g] + gains[g] for g in GROUPS},
        circulating=circ_g,
        staked={g: STAKED_FRACTION[g] * circ_g[g] for g in GROUPS},
        ecosystem=state.ecosystem - total_emission,
        e=e,
        locked={g: state.locked.get(g, 0.0) - vest[g] for g in VESTING_GROUPS},
    )
    return new, MonthEmission(
        vest=vest,
        target=target,
        maximum=maximum,
        capped=capped,
        e=e,
        emission=total_emission,
        validators=validators_percent * total_emission,
        topics=(1.0 - validators_percent) * total_emission,
        gains=gains,
    )


def _u(tokens: float) -> int:
    return int(tokens * ALLO)
