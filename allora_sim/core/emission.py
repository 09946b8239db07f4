"""The emission schedule of x/mint as pure functions (`mechanism.md` §9.1).

Mirrors ``x/mint/keeper/emissions.go`` and the mint ``BeginBlocker``: locked vesting tokens, the
circulating supply, the target and capped emission per staked token, its monthly smoothing, the
monthly and per-block emission, and each block's split between validators and the Allora rewards
account (minting the shortfall of the ecosystem account within its allowance).

Token amounts the chain holds as ``math.Int`` are exact Python ``int`` (uallo; MaxSupply exceeds
int64). Ratios the chain holds as ``LegacyDec`` (18 decimals) are float64 here: the golden
tokenomics data is itself float64 (§9.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from allora_sim.core.params import MintParams

__all__ = [
    "BlockSplit",
    "LockedVesting",
    "block_split",
    "capped_target",
    "circulating_supply",
    "locked_vesting",
    "max_emission_per_staked_token",
    "monthly_emission",
    "smoothed_emission",
    "target_emission_per_staked_token",
]


def _share(fraction: float, amount: int) -> int:
    """``LegacyDec(fraction) × amount`` truncated, in exact decimal arithmetic."""
    return int(Decimal(repr(float(fraction))) * amount)


@dataclass(frozen=True)
class LockedVesting:
    """Vesting tokens still locked at a height (uallo)."""

    investors_preseed: int
    investors: int
    team: int

    @property
    def total(self) -> int:
        return self.investors_preseed + self.investors + self.team


def locked_vesting(blocks_per_month: int, height: int, mint: MintParams) -> LockedVesting:
    """``GetLockedVestingTokens``: fully locked for the first 12 months; from month 12 to 36 the
    locked fraction is ``(36 − months)/36`` (a third unlocks at the cliff, then 1/36 a month);
    nothing from month 36 on."""
    if blocks_per_month <= 0:
        raise ValueError(f"blocks_per_month={blocks_per_month!r} is invalid: must be > 0")
    if height < 0:
        raise ValueError(f"height={height!r} is invalid: must be >= 0")
    full = (
        _share(mint.investors_preseed_percent_of_total_supply, mint.max_supply),
        _share(mint.investors_percent_of_total_supply, mint.max_supply),
        _share(mint.team_percent_of_total_supply, mint.max_supply),
    )
    year = blocks_per_month * 12
    if height < year:
        return LockedVesting(*full)
    if height < 3 * year:
        months_locked = 36 - height // blocks_per_month
        # LegacyDec: (months_locked / 36) has 18 decimals, then × amount, truncated
        frac = Decimal(months_locked) / Decimal(36)
        frac = frac.quantize(Decimal("1e-18"), rounding="ROUND_HALF_UP")
        return LockedVesting(*(int(frac * f) for f in full))
    return LockedVesting(0, 0, 0)


def circulating_supply(
    max_supply: int, locked: int, ecosystem_balance: int, ecosystem_unminted: int
) -> int:
    """``GetCirculatingSupply``: ``MaxSupply − locked vesting − ecosystem locked`` with
    ``ecosystem locked = ecosystem balance + allowance not yet minted``. Negative is an error."""
    out = max_supply - locked - (ecosystem_balance + ecosystem_unminted)
    if out < 0:
        raise ValueError(f"negative circulating supply ({out} uallo)")
    return out


def target_emission_per_staked_token(
    f_emission: float, ecosystem_locked: int, network_staked: int, circulating: int, max_supply: int
) -> float:
    """``GetTargetRewardEmissionPerUnitStakedToken``:
    ``ê_target = f_e · (ecosystem locked / staked) · (circulating / MaxSupply)``."""
    if network_staked <= 0 or max_supply <= 0:
        raise ValueError(
            f"network_staked={network_staked!r}, max_supply={max_supply!r}: must be > 0"
        )
    out = f_emission * (ecosystem_locked / network_staked) * (circulating / max_supply)
    if out < 0:
        raise ValueError(f"negative target emission per staked token ({out})")
    return out


def max_emission_per_staked_token(
    max_monthly_yield: float, reputers_percent: float, validators_percent: float
) -> float:
    """``GetMaximumMonthlyEmissionPerUnitStakedToken``: ``MPY / (f_v + (1 − f_v)·f_rep)``."""
    stakers = (1.0 - validators_percent) * reputers_percent + validators_percent
    return max_monthly_yield / stakers


def capped_target(target: float, maximum: float) -> float:
    """``GetCappedTargetEmissionPerUnitStakedToken``: ``min(ê_target, ê_max)``."""
    return maximum if target > maximum else target


def smoothed_emission(target: float, alpha: float, previous: float | None) -> float:
    """``GetExponentialMovingAverage``: ``α·ê + (1 − α)·e_prev``; in the first month the chain
    uses ``e_prev = ê`` (``previous=None``)."""
    prev = target if previous is None else previous
    return alpha * target + (1.0 - alpha) * prev


def monthly_emission(emission_per_staked_token: float, network_staked: int) -> int:
    """``GetTotalEmissionPerMonth``: ``trunc(e · staked)`` (uallo)."""
    return int(Decimal(repr(float(emission_per_staked_token))) * network_staked)


@dataclass(frozen=True)
class BlockSplit:
    """One block's emission: minted into the ecosystem account, then paid out."""

    minted: int
    validators: int
    rewards: int


def block_split(
    block_emission: int, ecosystem_balance: int, unminted: int, validators_percent: float
) -> BlockSplit:
    """The mint ``BeginBlocker``: mint the shortfall of the ecosystem account (capped by the
    allowance), pay ``trunc(f_v · emission)`` to validators and the rest to the Allora rewards
    account (that amount is the block's ``RewardCurrentBlockEmission``, §6.1)."""
    minted = 0
    if block_emission > ecosystem_balance:
        minted = min(block_emission - ecosystem_balance, unminted)
    validators = _share(validators_percent, block_emission)
    return BlockSplit(minted=minted, validators=validators, rewards=block_emission - validators)
