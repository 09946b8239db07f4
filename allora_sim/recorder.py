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
from allora_sim.core.synthesis import Mode
from allora_sim.slots import is_all_slots

if TYPE_CHECKING:
    from allora_sim.model import AlloraModel

__all__ = ["AGENT_COLUMNS", "ECONOMY_COLUMNS", "EPOCH_COLUMNS", "Recorder"]

TOTAL_COLUMNS = ("active", "reward", "loss_sum", "loss_count")

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


class _Spread:
    """Values of an epoch's active participants ``(T, active)`` onto the registered slots
    ``(T, width)`` their ids name (NaN elsewhere); the index is computed once per role."""

    def __init__(self, ids: np.ndarray, width: int) -> None:
        self.shape = (ids.shape[0], width)
        # every registered participant active, in slot order: values are already in place
        self.identity = is_all_slots(ids, width)
        if not self.identity:
            self.tt, self.ii = np.nonzero(ids >= 0)
            self.flat = self.tt * width + ids[self.tt, self.ii]

    def __call__(self, values: np.ndarray, divisor: float = 1.0) -> np.ndarray:
        """The spread values (a new array), divided by ``divisor`` if given."""
        if self.identity:
            if divisor != 1.0:
                return np.divide(values, divisor)
            return np.array(values, dtype=np.float64)
        out = np.full(self.shape[0] * self.shape[1], np.nan)
        out[self.flat] = np.asarray(values)[self.tt, self.ii]
        if divisor != 1.0:
            out /= divisor
        return out.reshape(self.shape)

    def active(self) -> np.ndarray | float:
        """1.0 where a participant was active, else 0.0 (the scalar 1.0 when all were)."""
        if self.identity:
            return 1.0
        out = np.zeros(self.shape[0] * self.shape[1])
        out[self.flat] = 1.0
        return out.reshape(self.shape)


class Recorder:
    """Collects the per-epoch records of an :class:`~allora_sim.model.AlloraModel`."""

    def __init__(self, model: AlloraModel, record_agents: bool = True, run: int = 0) -> None:
        self.model = model
        self.run = run
        self.record_agents = record_agents
        self._epochs: list[dict[str, Any]] = []
        self._agents: list[dict[str, Any]] = []
        self._economy: list[dict[str, Any]] = []
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
        # running per-participant totals for the run summary, kept whether or not the agent
        # rows are recorded: epochs active and reward (ALLO); for inferers Σ and count of their
        # finite losses
        self._totals = {
            role: {c: np.zeros((t, size)) for c in TOTAL_COLUMNS[: 4 if role == "inferers" else 2]}
            for role, size in zip(
                ("inferers", "forecasters", "reputers"), model.sizes[:3], strict=True
            )
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
        # the median mode (no network loss yet) has no naive inference: the chain's NaiveValue
        # there is a placeholder 0 (calcNetworkInferencesMultipleByMedian)
        naive = pend.network.mode != Mode.MEDIAN
        row = {
            "run": self.run,
            "topic": np.arange(t),
            "epoch": epoch,
            "target": truth,
            "context": context,
            "network_inference": net.combined,
            "naive_inference": np.where(naive, net.naive, np.nan),
            "network_loss": exact.combined,
            "naive_loss": np.where(naive, exact.naive, np.nan),
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
        # own copies: many columns are views into an epoch's whole value or loss bundle,
        # which a buffered row must not keep alive (scalars stay scalars: see _frame)
        self._epochs.append({k: v.copy() if type(v) is np.ndarray else v for k, v in row.items()})
        m = self.model
        n, k, r = m.sizes[:3]
        inf_ids, fc_ids = pend.inferer_ids, pend.forecaster_ids

        on_inf, on_fc, on_rep = _Spread(inf_ids, n), _Spread(fc_ids, k), _Spread(reputer_ids, r)
        inf_loss = on_inf(exact.inferer)
        active, reward = {}, {}
        for role, on, paid in (
            ("inferers", on_inf, outcome.inferer_reward),
            ("forecasters", on_fc, outcome.forecaster_reward),
            ("reputers", on_rep, outcome.reputer_reward),
        ):
            active[role], reward[role] = on.active(), on(paid, UALLO)
            tot = self._totals[role]
            tot["active"] += active[role]
            np.add(tot["reward"], reward[role], out=tot["reward"], where=~np.isnan(reward[role]))
        seen = np.isfinite(inf_loss)
        self._totals["inferers"]["loss_sum"] += np.where(seen, inf_loss, 0.0)
        self._totals["inferers"]["loss_count"] += seen
        if not self.record_agents:
            return
        per_role: dict[str, dict[str, Any]] = {
            "inferers": {
                "active": active["inferers"],
                "submission": on_inf(pend.inference),
                "loss": inf_loss,
                "score": on_inf(outcome.inferer_score),
                "weight": on_inf(pend.network.inferer_weight),
                "reward_fraction": on_inf(outcome.inferer_fraction),
                "reward": reward["inferers"],
                "stake": np.nan,  # workers hold no stake (a scalar, repeated by _frame)
                "balance": m.balances("inferers"),
            },
            "forecasters": {
                "active": active["forecasters"],
                "submission": on_fc(net.forecaster),
                "loss": on_fc(exact.forecaster),
                "score": on_fc(outcome.forecaster_score),
                "weight": on_fc(pend.network.forecaster_weight),
                "reward_fraction": on_fc(outcome.forecaster_fraction),
                "reward": reward["forecasters"],
                "stake": np.nan,
                "balance": m.balances("forecasters"),
            },
            "reputers": {
                "active": active["reputers"],
                "submission": on_rep(reports.combined),
                # its error on the network inference's loss (dex)
                "loss": on_rep(reports.combined - exact.combined[:, None]),
                "score": on_rep(outcome.reputer_score),
                "weight": on_rep(outcome.listening_coefficient),
                "reward_fraction": on_rep(outcome.reputer_fraction),
                "reward": reward["reputers"],
                "stake": m.stake / UALLO,
                "balance": m.balances("reputers"),
            },
        }
        for role, cols in per_role.items():
            static = self._static[role]
            rows = len(static["agent"])
            if rows == 0:
                continue
            rec: dict[str, Any] = dict(static)
            rec["run"] = self.run
            rec["epoch"] = epoch
            for name, arr in cols.items():
                # a float64 (T, width) array, or a scalar (float) for every row (workers'
                # stake; "active" when every participant of the role was)
                rec[name] = arr if type(arr) is float else arr.ravel()
            self._agents.append(rec)

    def record_economy(self, epoch: int, fees: np.ndarray) -> None:
        """Append the economy's state at the end of epoch ``epoch``: supply figures (whole
        network) and each topic's activity, weight, fee revenue, the fees paid in the epoch,
        the reward distributed in it (to the epoch closed then, ``ground_truth_lag`` earlier;
        0 when none closed) and stake (ALLO)."""
        m = self.model
        eco = m.economy
        t = m.n_topics
        sup = eco.supply()
        led = eco.ledger

        def allo(x: int) -> float:
            return x / UALLO

        row = {
            "run": self.run,
            "epoch": epoch,
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
            "reputer_share": float(getattr(eco, "reputers_percent", np.nan)),
            "emission_per_token": float(getattr(eco, "emission_per_token", None) or np.nan),
        }
        roles = ("inferers", "forecasters", "reputers", "consumers", "delegators")
        for role, total in zip(roles, eco.role_balances(roles), strict=True):
            row[f"balance_{role}"] = allo(total)
        self._economy.append(row)

    # -----------------------------------------------------------------------------------------

    @staticmethod
    def _frame(chunks: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
        """One table of buffered chunks. A chunk's column is an array of its rows, or a scalar
        shared by all its rows (run, epoch, network-wide figures): repeated here, once."""
        if chunks:
            rows = [len(ch["topic"]) for ch in chunks]
            data = {}
            for c in columns:
                parts = [ch[c] for ch in chunks]
                if all(np.isscalar(p) for p in parts):
                    data[c] = np.repeat(np.array(parts), rows)
                else:
                    data[c] = np.concatenate(
                        [
                            np.full(n, p) if np.isscalar(p) else p
                            for p, n in zip(parts, rows, strict=True)
                        ]
                    )
        else:  # typed like the rows would be
            data = {c: np.empty(0) for c in columns}
        df = pd.DataFrame(data, columns=list(columns))
        text = pd.CategoricalDtype(pd.Index([], dtype=str)) if df.empty else "category"
        for c in ("role", "behaviour", "group"):
            if c in df:
                df[c] = df[c].astype(text)
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

    def agent_totals(self) -> pd.DataFrame:
        """One row per inferer, forecaster and reputer over the epochs recorded so far: topic,
        agent, role, ``active`` (epochs active), ``reward`` (ALLO) and ``loss`` (mean of its
        finite log10 losses; inferers only, NaN otherwise)."""
        parts = []
        for role, tot in self._totals.items():
            st = self._static[role]
            with np.errstate(invalid="ignore", divide="ignore"):
                loss = (tot["loss_sum"] / tot["loss_count"]).ravel() if "loss_sum" in tot else None
            parts.append(
                pd.DataFrame(
                    {
                        "topic": st["topic"],
                        "agent": st["agent"],
                        "role": st["role"],
                        "active": tot["active"].ravel().astype(np.int64),
                        "reward": tot["reward"].ravel(),
                        "loss": np.nan if loss is None else loss,
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)

    def drain(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Return and forget the buffered rows (for streaming to disk)."""
        out = self.epochs_frame(), self.agents_frame(), self.economy_frame()
        self._epochs.clear()
        self._agents.clear()
        self._economy.clear()
        return out
