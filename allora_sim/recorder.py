"""Tidy records of a model run: one row per (topic, epoch) and per (agent, epoch).

Values are buffered as column arrays per epoch and turned into DataFrames on demand; a runner
can :meth:`Recorder.drain` the buffer into Parquet row groups so long runs do not grow in memory.
Token amounts are in ALLO.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from allora_sim.core.maths import masked_median

if TYPE_CHECKING:
    from allora_sim.model import AlloraModel

__all__ = ["AGENT_COLUMNS", "ECONOMY_COLUMNS", "EPOCH_COLUMNS", "Recorder"]

UALLO = 1e18

EPOCH_COLUMNS = (
    "run",
    "topic",
    "epoch",
    "target",
    "context",
    "network_inference",
    "naive_inference",
    "network_loss",
    "naive_loss",
    "best_inferer_loss",
    "median_inferer_loss",
    "chain_network_loss",
    "chain_naive_loss",
    "inferers_entropy",
    "forecasters_entropy",
    "reputers_entropy",
    "chi",
    "gamma",
    "inferers_reward",
    "forecasters_reward",
    "reputers_reward",
    "topic_reward",
    "fees",
    "reward_error",
)
AGENT_COLUMNS = (
    "run",
    "topic",
    "epoch",
    "agent",
    "role",
    "behaviour",
    "group",
    "active",
    "submission",
    "loss",
    "score",
    "weight",
    "reward_fraction",
    "reward",
    "stake",
    "balance",
)


ECONOMY_COLUMNS = (
    "run",
    "epoch",
    "topic",
    "active",
    "weight",
    "fee_revenue",
    "fees",
    "topic_reward",
    "stake",
    "supply",
    "circulating",
    "staked",
    "locked_vesting",
    "ecosystem",
    "unminted",
    "minted",
    "emission",
    "validators",
    "rewards_account",
    "reputer_share",
    "emission_per_token",
    "balance_inferers",
    "balance_forecasters",
    "balance_reputers",
    "balance_consumers",
    "balance_delegators",
)


class Recorder:
    """Collects the per-epoch records of an :class:`~allora_sim.model.AlloraModel`."""

    def __init__(self, model: AlloraModel, record_agents: bool = True, run: int = 0) -> None:
        self.model = model
        self.run = run
        self.record_agents = record_agents
        self._epochs: list[dict[str, np.ndarray]] = []
        self._agents: list[dict[str, np.ndarray]] = []
        self._economy: list[dict[str, np.ndarray]] = []
        t = model.n_topics
        # static identity columns per role, in (topic, slot) order
        self._static: dict[str, dict[str, np.ndarray]] = {}
        for role in ("inferers", "forecasters", "reputers", "consumers"):
            size = model.sizes[("inferers", "forecasters", "reputers", "consumers").index(role)]
            ids = np.full((t, size), -1, dtype=np.int64)
            group = np.empty((t, size), dtype=object)
            behaviour = np.empty((t, size), dtype=object)
            for a in model.agents:
                if a.role + "s" == role:
                    ids[a.topic, a.slot] = a.unique_id
                    group[a.topic, a.slot] = a.group
                    behaviour[a.topic, a.slot] = a.behaviour
            self._static[role] = {
                "topic": np.repeat(np.arange(t), size),
                "agent": ids.ravel(),
                "role": np.full(t * size, role[:-1], dtype=object),
                "group": group.ravel(),
                "behaviour": behaviour.ravel(),
            }

    def record(
        self,
        epoch: int,
        truth: np.ndarray,
        context: np.ndarray,
        pend: Any,
        outcome: Any,
        exact: Any,
        reports: Any,
        reputer_ids: np.ndarray,
        fees: np.ndarray,
    ) -> None:
        """Append the records of one settled epoch (all topics). Per-participant outcome arrays
        are over the epoch's active participants (``pend.*_ids``, ``reputer_ids``) and are
        spread onto the registered slots (NaN for those not active)."""
        t = self.model.n_topics
        net = pend.network.values
        inf_loss = exact.inferer
        finite = np.isfinite(inf_loss)
        best = np.min(np.where(finite, inf_loss, np.inf), axis=1, initial=np.inf)
        best = np.where(np.isfinite(best), best, np.nan)
        median = masked_median(inf_loss, finite)
        self._epochs.append(
            {
                "run": np.full(t, self.run),
                "topic": np.arange(t),
                "epoch": np.full(t, epoch),
                "target": truth,
                "context": context,
                "network_inference": net.combined,
                "naive_inference": net.naive,
                "network_loss": exact.combined,
                "naive_loss": exact.naive,
                "best_inferer_loss": best,
                "median_inferer_loss": median,
                "chain_network_loss": outcome.network_losses.combined,
                "chain_naive_loss": outcome.network_losses.naive,
                "inferers_entropy": outcome.inferers_entropy,
                "forecasters_entropy": outcome.forecasters_entropy,
                "reputers_entropy": outcome.reputers_entropy,
                "chi": outcome.chi,
                "gamma": outcome.gamma,
                "inferers_reward": outcome.inferers_reward / UALLO,
                "forecasters_reward": outcome.forecasters_reward / UALLO,
                "reputers_reward": outcome.reputers_reward / UALLO,
                "topic_reward": self.model.topic_reward / UALLO,
                "fees": fees,
                "reward_error": outcome.reward_error,
            }
        )
        if not self.record_agents:
            return
        m = self.model
        n, k, r = m.sizes[:3]
        inf_ids, fc_ids = pend.inferer_ids, pend.forecaster_ids

        def on(ids: np.ndarray, values: np.ndarray, width: int) -> np.ndarray:
            out = np.full((t, width), np.nan)
            tt, ii = np.nonzero(ids >= 0)
            out[tt, ids[tt, ii]] = np.asarray(values)[tt, ii]
            return out

        def active(ids: np.ndarray, width: int) -> np.ndarray:
            out = np.zeros((t, width))
            tt, ii = np.nonzero(ids >= 0)
            out[tt, ids[tt, ii]] = 1.0
            return out

        per_role = {
            "inferers": {
                "active": active(inf_ids, n),
                "submission": on(inf_ids, pend.inference, n),
                "loss": on(inf_ids, exact.inferer, n),
                "score": on(inf_ids, outcome.inferer_score, n),
                "weight": on(inf_ids, pend.network.inferer_weight, n),
                "reward_fraction": on(inf_ids, outcome.inferer_fraction, n),
                "reward": on(inf_ids, outcome.inferer_reward, n) / UALLO,
                "stake": np.full((t, n), np.nan),
                "balance": m.balances("inferers"),
            },
            "forecasters": {
                "active": active(fc_ids, k),
                "submission": on(fc_ids, net.forecaster, k),
                "loss": on(fc_ids, exact.forecaster, k),
                "score": on(fc_ids, outcome.forecaster_score, k),
                "weight": on(fc_ids, pend.network.forecaster_weight, k),
                "reward_fraction": on(fc_ids, outcome.forecaster_fraction, k),
                "reward": on(fc_ids, outcome.forecaster_reward, k) / UALLO,
                "stake": np.full((t, k), np.nan),
                "balance": m.balances("forecasters"),
            },
            "reputers": {
                "active": active(reputer_ids, r),
                "submission": on(reputer_ids, reports.combined, r),
                # its error on the network inference's loss (dex)
                "loss": on(reputer_ids, reports.combined - exact.combined[:, None], r),
                "score": on(reputer_ids, outcome.reputer_score, r),
                "weight": on(reputer_ids, outcome.listening_coefficient, r),
                "reward_fraction": on(reputer_ids, outcome.reputer_fraction, r),
                "reward": on(reputer_ids, outcome.reputer_reward, r) / UALLO,
                "stake": m.stake / UALLO,
                "balance": m.balances("reputers"),
            },
        }
        for role, cols in per_role.items():
            static = self._static[role]
            rows = len(static["agent"])
            if rows == 0:
                continue
            rec = {k: v for k, v in static.items()}
            rec["run"] = np.full(rows, self.run)
            rec["epoch"] = np.full(rows, epoch)
            for name, arr in cols.items():
                rec[name] = np.asarray(arr, dtype=np.float64).reshape(t, -1).ravel()
            self._agents.append(rec)

    def record_economy(self, epoch: int, fees: np.ndarray) -> None:
        """Append the economy's state after an epoch: supply figures (whole network) and each
        topic's activity, weight, fee revenue, fees paid, reward and stake (ALLO)."""
        m = self.model
        eco = m.economy
        t = m.n_topics
        sup = eco.supply()
        led = eco.ledger

        def allo(x: int) -> np.ndarray:
            return np.full(t, x / UALLO)

        row = {
            "run": np.full(t, self.run),
            "epoch": np.full(t, epoch),
            "topic": np.arange(t),
            "active": eco.active.astype(float),
            "weight": eco.weight.copy(),
            "fee_revenue": eco.revenue.astype(np.float64) / UALLO,
            "fees": fees,
            "topic_reward": m.topic_reward / UALLO,
            "stake": eco.stake.topic_stake() / UALLO,
            "supply": allo(sup["max_supply"]),
            "circulating": allo(sup["circulating"]),
            "staked": allo(sup["staked"]),
            "locked_vesting": allo(sup["locked_vesting"]),
            "ecosystem": allo(led.balance(eco.module["ecosystem"])),
            "unminted": allo(sup["unminted"]),
            "minted": allo(eco.minted_last),
            "emission": allo(eco.emitted_last),
            "validators": allo(eco.validators_last),
            "rewards_account": allo(led.balance(eco.module["rewards"])),
            "reputer_share": np.full(t, getattr(eco, "reputers_percent", np.nan)),
            "emission_per_token": np.full(t, getattr(eco, "emission_per_token", None) or np.nan),
        }
        for role in ("inferers", "forecasters", "reputers", "consumers", "delegators"):
            acct = eco.accounts[role]
            row[f"balance_{role}"] = allo(int(led.balances[acct].sum()) if acct.size else 0)
        self._economy.append(row)

    # -----------------------------------------------------------------------------------------

    @staticmethod
    def _frame(chunks: list[dict[str, np.ndarray]], columns: tuple[str, ...]) -> pd.DataFrame:
        if not chunks:
            return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
        data = {c: np.concatenate([ch[c] for ch in chunks]) for c in columns}
        df = pd.DataFrame(data, columns=list(columns))
        for c in ("role", "behaviour", "group"):
            if c in df:
                df[c] = df[c].astype("category")
        for c in ("run", "topic", "epoch", "agent", "reward_error", "context"):
            if c in df:
                df[c] = df[c].astype(np.int64)
        if "active" in df:
            df["active"] = df["active"].astype(bool)
        return df

    def epochs_frame(self) -> pd.DataFrame:
        """All buffered epoch rows."""
        return self._frame(self._epochs, EPOCH_COLUMNS)

    def agents_frame(self) -> pd.DataFrame:
        """All buffered agent rows."""
        return self._frame(self._agents, AGENT_COLUMNS)

    def economy_frame(self) -> pd.DataFrame:
        """All buffered economy rows (one per topic and epoch)."""
        return self._frame(self._economy, ECONOMY_COLUMNS)

    def drain(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Return and forget the buffered rows (for streaming to disk)."""
        out = self.epochs_frame(), self.agents_frame(), self.economy_frame()
        self._epochs.clear()
        self._agents.clear()
        self._economy.clear()
        return out
