"""Scenario configuration: Hydra structured configs and their validation.

The schema is a tree of dataclasses registered in Hydra's ``ConfigStore`` by
:func:`register_configs` (nothing is registered at import time). Its defaults *are* the default
scenario (one GBM topic, the fiducial 5 inferers / 3 forecasters / 5 reputers, the chain's
mechanism parameters), so it runs without any YAML. The YAML files under ``configs/`` add the
other options of each group (``world``, ``population``, ``mechanism``, ``output``) and whole
studies (``scenario``).

:func:`load_scenario` turns a composed ``DictConfig`` into a validated, frozen :class:`Scenario`.
Every problem is reported as a :class:`ConfigError` whose message is one line naming the key, the
value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from allora_sim.core.params import MechanismParams, MintParams, ModuleParams, TopicParams

__all__ = [
    "ConfigError",
    "EconomyConfig",
    "EmissionMode",
    "GroupConfig",
    "LossKind",
    "MechanismConfig",
    "MintConfig",
    "OutputConfig",
    "PopulationConfig",
    "Scenario",
    "SimConfig",
    "TargetKind",
    "WorldConfig",
    "WorldKind",
    "config_dir",
    "load_scenario",
    "register_configs",
]


class ConfigError(ValueError):
    """A configuration problem, described in one line."""


class WorldKind(Enum):
    gbm = "gbm"
    regime = "regime"
    csv = "csv"


class TargetKind(Enum):
    log_return = "log_return"
    price = "price"


class LossKind(Enum):
    squared_error = "squared_error"
    absolute_error = "absolute_error"
    zptae = "zptae"


@dataclass
class WorldConfig:
    """The ground truth a topic predicts (``allora_sim.world``) and the topic's timing.

    ``epoch_length`` and ``ground_truth_lag`` are in blocks; the lag is rounded up to whole
    epochs (the chain closes a reputer nonce once ``GroundTruthLag`` blocks have passed).
    """

    kind: WorldKind = WorldKind.gbm
    target: TargetKind = TargetKind.log_return
    loss: LossKind = LossKind.squared_error
    epoch_length: int = 12
    ground_truth_lag: int = 12
    # geometric Brownian motion (per epoch); ``n_contexts`` > 0 draws an observable context
    # uniformly each epoch (which inferer outperforms, research target T26)
    drift: float = 0.0
    volatility: float = 0.01
    start_price: float = 100.0
    n_contexts: int = 5
    # regime switching: one mean and volatility per regime, mean dwell time in epochs
    regime_means: list[float] = field(default_factory=lambda: [0.0, 0.0])
    regime_volatilities: list[float] = field(default_factory=lambda: [0.005, 0.02])
    mean_dwell: float = 20.0
    # the user's own series
    csv_path: str = ""
    time_column: str = "time"
    value_column: str = "value"


@dataclass
class GroupConfig:
    """A group of agents of one role sharing a behaviour (``allora_sim.agents.behaviours``)."""

    name: str = "group"
    behaviour: str = "noisy_oracle"
    count: int = 1
    params: dict[str, Any] = field(default_factory=dict)


def _group(name: str, behaviour: str, count: int, **params: Any) -> GroupConfig:
    return GroupConfig(name=name, behaviour=behaviour, count=count, params=dict(params))


@dataclass
class PopulationConfig:
    """Participants per role per topic, as lists of behaviour groups.

    Groups are addressed by position in overrides (``population.inferers.0.count=10``); a
    population option replaces the whole list of a role.
    """

    inferers: list[GroupConfig] = field(
        default_factory=lambda: [_group("oracle", "noisy_oracle", 5)]
    )
    forecasters: list[GroupConfig] = field(
        default_factory=lambda: [_group("context", "context_aware", 3, sensitivity=-1.0)]
    )
    reputers: list[GroupConfig] = field(default_factory=lambda: [_group("honest", "honest", 5)])
    consumers: list[GroupConfig] = field(
        default_factory=lambda: [_group("payer", "fixed_payer", 1)]
    )
    delegators: list[GroupConfig] = field(default_factory=list)


# topic parameters the world sets (its timing): not mechanism.* keys
WORLD_OWNED = ("epoch_length", "ground_truth_lag", "worker_submission_window")
_WORLD_OWNED = {*WORLD_OWNED, "chain_bounds"}


def _mechanism_fields() -> list[tuple[str, type, Any]]:
    out: list[tuple[str, type, Any]] = []
    for cls in (ModuleParams, TopicParams):
        for f in fields(cls):
            if f.name in _WORLD_OWNED:
                continue
            default = f.default
            typ = {"float": float, "int": int, "bool": bool}.get(str(f.type), type(default))
            out.append((f.name, typ, field(default=default)))
    out.append(("chain_bounds", bool, field(default=False)))
    return out


# Every module and topic parameter, at one level, with the chain's defaults (single source:
# allora_sim.core.params). ``chain_bounds`` false lets research sweeps leave the chain's ranges.
MechanismConfig = dataclasses.make_dataclass("MechanismConfig", _mechanism_fields())
MechanismConfig.__module__ = __name__
MechanismConfig.__doc__ = (
    "Mechanism parameters: every field of ModuleParams and TopicParams (chain defaults)."
)


class EmissionMode(Enum):
    fixed = "fixed"
    chain = "chain"


@dataclass
class EconomyConfig:
    """Token economy: where topic rewards come from and what participants start with (ALLO).

    ``emission=fixed`` gives every rewarded topic ``topic_reward`` ALLO per epoch (drawn from the
    ecosystem treasury, minted when it runs short, as the mint does); ``emission=chain`` runs
    x/mint's schedule and splits it by topic weight (§6.1, §9). Workers and reputers take part
    in a topic only while its recent reward (EWMA, ALLO per epoch) is at least
    ``min_topic_reward`` (0: always) — they stop paying data fees to topics not worth it.
    """

    emission: EmissionMode = EmissionMode.fixed
    worker_balance: float = 1.0
    consumer_budget: float = 100_000.0
    cosmos_validator_stake: float = 1_000_000.0
    min_topic_reward: float = 0.0


def _mint_fields() -> list[tuple[str, type, Any]]:
    out: list[tuple[str, type, Any]] = []
    for f in fields(MintParams):
        typ = {"float": float, "int": int}.get(str(f.type), type(f.default))
        out.append((f.name, typ, field(default=f.default)))
    return out


# The mint module's parameters (supply, allocation shares, emission), chain defaults.
MintConfig = dataclasses.make_dataclass("MintConfig", _mint_fields())
MintConfig.__module__ = __name__
MintConfig.__doc__ = "Mint-module parameters: every field of MintParams (chain defaults)."


@dataclass
class OutputConfig:
    """Where and what to write."""

    dir: str = ""  # empty: outputs/<name>/<timestamp>
    record_agents: bool = True
    flush_every: int = 200
    progress: bool = True


@dataclass
class SimConfig:
    """A whole scenario (the primary config)."""

    name: str = "default"
    seed: int = 0
    epochs: int = 1000
    n_topics: int = 1
    topic_reward: float = 1000.0  # ALLO per topic-epoch, until the economy sets it
    world: WorldConfig = field(default_factory=WorldConfig)
    population: PopulationConfig = field(default_factory=PopulationConfig)
    mechanism: Any = field(default_factory=lambda: MechanismConfig())
    economy: EconomyConfig = field(default_factory=EconomyConfig)
    mint: Any = field(default_factory=lambda: MintConfig())
    output: OutputConfig = field(default_factory=OutputConfig)


def config_dir() -> Path | None:
    """The ``configs/`` directory: ``$ALLORA_SIM_CONFIG_DIR``, else the checkout's, else the
    copy an installed wheel carries (``allora_sim/_configs``), else None."""
    import os

    env = os.environ.get("ALLORA_SIM_CONFIG_DIR")
    if env:
        p = Path(env)
        if not p.is_dir():
            raise ConfigError(f"ALLORA_SIM_CONFIG_DIR={env!r} is not a directory")
        return p
    here = Path(__file__).resolve().parent
    for p in (here.parent / "configs", here / "_configs"):
        if (p / "config.yaml").is_file():
            return p
    return None


def register_configs() -> None:
    """Register the schema and the embedded default in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="schema", node=SimConfig)
    cs.store(group="world", name="schema", node=WorldConfig)
    cs.store(group="population", name="schema", node=PopulationConfig)
    cs.store(group="mechanism", name="schema", node=MechanismConfig)
    cs.store(group="output", name="schema", node=OutputConfig)


# ----------------------------------------------------------------------------------------------
# Validation: DictConfig → frozen runtime objects


@dataclass(frozen=True)
class Group:
    name: str
    behaviour: str
    count: int
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Scenario:
    """A validated scenario, ready to build a model from."""

    name: str
    seed: int
    epochs: int
    n_topics: int
    topic_reward: float
    world: WorldConfig
    inferers: tuple[Group, ...]
    forecasters: tuple[Group, ...]
    reputers: tuple[Group, ...]
    consumers: tuple[Group, ...]
    delegators: tuple[Group, ...]
    mechanism: MechanismParams
    economy: EconomyConfig
    mint: MintParams
    output: OutputConfig
    raw: Mapping[str, Any]

    @property
    def lag_epochs(self) -> int:
        """Ground-truth lag in whole epochs (≥ 1)."""
        return max(1, math.ceil(self.world.ground_truth_lag / self.world.epoch_length))


def _fail(key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"{key}={value!r} is invalid: {allowed}")


def _positive_int(key: str, value: Any, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _fail(key, value, f"must be an integer >= {minimum}")
    return value


def _finite(
    key: str, value: Any, lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(key, value, "must be a finite number")
    ok = (value > lo if lo_open else value >= lo) and value <= hi
    if not ok:
        lo_s = f"> {lo}" if lo_open else f">= {lo}"
        raise _fail(key, value, f"must be {lo_s}" + (f" and <= {hi}" if hi < math.inf else ""))
    return float(value)


def _world(w: WorldConfig, epochs: int) -> WorldConfig:
    _positive_int("world.epoch_length", w.epoch_length)
    if not isinstance(w.ground_truth_lag, int) or w.ground_truth_lag < w.epoch_length:
        raise _fail(
            "world.ground_truth_lag",
            w.ground_truth_lag,
            f"must be an integer >= world.epoch_length ({w.epoch_length})",
        )
    # an epoch's reputer nonce closes one epoch after its ground truth is revealed
    if math.ceil(w.ground_truth_lag / w.epoch_length) >= epochs:
        raise _fail(
            "world.ground_truth_lag",
            w.ground_truth_lag,
            f"must let an epoch close within the run: at most (epochs − 1) × "
            f"world.epoch_length ({(epochs - 1) * w.epoch_length} blocks)",
        )
    _finite("world.drift", w.drift)
    _finite("world.volatility", w.volatility, lo=0.0, lo_open=True)
    _finite("world.start_price", w.start_price, lo=0.0, lo_open=True)
    _positive_int("world.n_contexts", w.n_contexts, minimum=0)
    if w.kind == WorldKind.regime:
        means, vols = list(w.regime_means), list(w.regime_volatilities)
        if len(means) < 2 or len(means) != len(vols):
            raise _fail(
                "world.regime_means",
                means,
                "needs at least two regimes and one volatility per regime",
            )
        for i, v in enumerate(vols):
            _finite(f"world.regime_volatilities[{i}]", v, lo=0.0, lo_open=True)
        for i, v in enumerate(means):
            _finite(f"world.regime_means[{i}]", v)
        _finite("world.mean_dwell", w.mean_dwell, lo=1.0)
    if w.kind == WorldKind.csv:
        if not w.csv_path:
            raise _fail("world.csv_path", w.csv_path, "must name a CSV file when world.kind=csv")
        from allora_sim.world import SeriesError, csv_target, load_series

        try:
            values = load_series(w.csv_path, w.time_column, w.value_column)
            n = csv_target(values, w.target.value, w.csv_path, w.value_column).size
        except SeriesError as exc:
            raise ConfigError(f"world.csv_path: {exc}") from None
        if n < epochs:
            raise ConfigError(
                f"world.csv_path: {w.csv_path} gives {n} epochs of {w.target.value}; "
                f"epochs={epochs} needs {epochs} (shorten the run or extend the series)"
            )
    elif w.csv_path:
        raise _fail(
            "world.csv_path",
            w.csv_path,
            f"is read only by the csv world (world.kind is {w.kind.value}): add world=csv",
        )
    return w


def _groups_of(role: str, groups: list[GroupConfig]) -> tuple[Group, ...]:
    from allora_sim.agents.behaviours import validate_behaviour

    out = []
    names = set()
    for i, g in enumerate(groups):
        key = f"population.{role}.{i}"
        if g.name in names:
            raise _fail(f"{key}.name", g.name, f"group names within {role} must be unique")
        names.add(g.name)
        count = _positive_int(f"{key}.count", g.count, minimum=0)
        params = validate_behaviour(role, g.behaviour, dict(g.params), key)
        out.append(Group(name=g.name, behaviour=g.behaviour, count=count, params=params))
    return tuple(out)


def _mechanism(m: Any, world: WorldConfig) -> MechanismParams:
    """The chain's parameters; the topic's timing comes from the world (``_WORLD_OWNED``)."""
    values = {f.name: getattr(m, f.name) for f in fields(m)}
    chain_bounds = bool(values.pop("chain_bounds"))
    module_names = {f.name for f in fields(ModuleParams)}
    module = {k: v for k, v in values.items() if k in module_names}
    topic = {k: v for k, v in values.items() if k not in module_names}
    topic.update(
        epoch_length=world.epoch_length,
        ground_truth_lag=world.ground_truth_lag,
        # payloads arrive within the epoch and the window closes before its end, as the model's
        # schedule assumes (with a window of a whole epoch the chain's CloseWorkerNonce runs
        # in the block that ends the epoch, finds it ended and closes nothing); no number
        # depends on the window otherwise
        worker_submission_window=max(1, world.epoch_length - 1),
    )
    try:
        return MechanismParams(
            module=ModuleParams(**module), topic=TopicParams(**topic, chain_bounds=chain_bounds)
        )
    except ValueError as exc:
        msg = str(exc)
        for prefix in ("ModuleParams.", "TopicParams."):
            msg = msg.replace(prefix, "mechanism.")
        for name in ("epoch_length", "ground_truth_lag"):
            msg = msg.replace(f"mechanism.{name}", f"world.{name}")
        msg = msg.replace(" = ", "=", 1)
        raise ConfigError(msg) from None


def _economy(e: EconomyConfig) -> EconomyConfig:
    _finite("economy.worker_balance", e.worker_balance, lo=0.0)
    _finite("economy.consumer_budget", e.consumer_budget, lo=0.0)
    _finite("economy.cosmos_validator_stake", e.cosmos_validator_stake, lo=0.0)
    _finite("economy.min_topic_reward", e.min_topic_reward, lo=0.0)
    return e


def _mint(m: Any) -> MintParams:
    try:
        return MintParams(**{f.name: getattr(m, f.name) for f in fields(m)})
    except ValueError as exc:
        raise ConfigError(str(exc).replace("MintParams.", "mint.").replace(" = ", "=", 1)) from None


def _reputer_stakes(reputers: tuple[Group, ...], mechanism: MechanismParams) -> None:
    """A reputer staking less than ``RequiredMinimumStake`` could never report (§3.1)."""
    minimum = mechanism.module.required_minimum_stake
    for i, g in enumerate(reputers):
        stake = getattr(g.params, "stake", None)
        if stake is not None and g.count > 0 and stake * 1e18 < minimum:
            raise _fail(
                f"population.reputers.{i}.params.stake",
                stake,
                f"must be at least mechanism.required_minimum_stake ({minimum} uallo = "
                f"{minimum / 1e18:g} ALLO)",
            )


def _months_end_with_epochs(mechanism: MechanismParams, length: int, e: EconomyConfig) -> None:
    """With the chain's emission, a month must end with an epoch: the model pays an epoch's
    rewards once, after its blocks' emission, and the mint's recalculation at the first block of
    a month reads the reputers' share f_rep set at the month's last block (§9.1)."""
    bpm = mechanism.module.blocks_per_month
    if e.emission.value == "chain" and bpm % length:
        lower = bpm - bpm % length
        raise _fail(
            "mechanism.blocks_per_month",
            bpm,
            f"must be a multiple of world.epoch_length ({length}) with economy.emission=chain, "
            f"so that months end with epochs (e.g. {lower or length} or {lower + length})",
        )


def _groups_fit_the_world(groups: dict[str, tuple[Group, ...]], n_topics: int, world: Any) -> None:
    """A group bound to a topic or a regime must name one that exists."""
    n_contexts = len(world.regime_means) if world.kind == WorldKind.regime else world.n_contexts
    for role, gs in groups.items():
        for i, g in enumerate(gs):
            key = f"population.{role}.{i}.params"
            topic = getattr(g.params, "topic", -1)
            if topic >= n_topics:
                raise _fail(f"{key}.topic", topic, f"must be < n_topics ({n_topics}) or -1")
            regime = getattr(g.params, "regime", -1)
            if regime >= max(n_contexts, 1):
                raise _fail(
                    f"{key}.regime",
                    regime,
                    f"must be < the world's number of contexts ({n_contexts}) or -1",
                )


def _no_unknown_keys(node: Any, path: str = "") -> None:
    """Every key of a structured node must be a field of its schema: a key added with ``+``
    that the schema does not know would otherwise be dropped without a word."""
    import difflib

    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(node, ListConfig):
        for i, item in enumerate(node):
            _no_unknown_keys(item, f"{path}{i}.")
        return
    if not isinstance(node, DictConfig):
        return
    schema = OmegaConf.get_type(node)
    if is_dataclass(schema):
        allowed = [f.name for f in fields(schema)]
        for name in map(str, node.keys()):
            if name not in allowed:
                near = difflib.get_close_matches(name, allowed, n=1)
                where = path.rstrip(".") or "the scenario"
                raise ConfigError(
                    f"{path}{name} is not a configuration key: "
                    + (f"did you mean {path}{near[0]}?" if near else f"{where} has {allowed}")
                )
    for key, value in node.items_ex(resolve=False):
        _no_unknown_keys(value, path + str(key) + ".")


def load_scenario(cfg: Any) -> Scenario:
    """Validate a composed config (``DictConfig`` or :class:`SimConfig`) into a :class:`Scenario`.

    Raises :class:`ConfigError` with a one-line message on the first problem found.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if not isinstance(cfg, SimConfig):
        _no_unknown_keys(cfg)
    try:
        obj = cfg if isinstance(cfg, SimConfig) else OmegaConf.to_object(cfg)
    except OmegaConfBaseException as exc:
        raise ConfigError(one_line(exc)) from None
    if not isinstance(obj, SimConfig):
        raise ConfigError(f"the configuration is a {type(obj).__name__}, not a scenario")
    if obj.name in ("", ".", "..") or "/" in obj.name or obj.name.strip() != obj.name:
        raise _fail("name", obj.name, "must be a non-empty name (it names the output directory)")
    _positive_int("seed", obj.seed, minimum=0)
    _positive_int("epochs", obj.epochs)
    _positive_int("n_topics", obj.n_topics)
    _finite("topic_reward", obj.topic_reward, lo=0.0)
    world = _world(obj.world, obj.epochs)
    pop = obj.population
    groups = {
        role: _groups_of(role, getattr(pop, role))
        for role in ("inferers", "forecasters", "reputers", "consumers", "delegators")
    }
    inferers, reputers = groups["inferers"], groups["reputers"]
    if sum(g.count for g in inferers) < 1:
        raise _fail(
            "population.inferers", [g.count for g in inferers], "at least one inferer is needed"
        )
    if sum(g.count for g in reputers) < 1:
        raise _fail(
            "population.reputers", [g.count for g in reputers], "at least one reputer is needed"
        )
    _groups_fit_the_world(groups, obj.n_topics, world)
    mechanism = _mechanism(obj.mechanism, world)
    _reputer_stakes(reputers, mechanism)
    _months_end_with_epochs(mechanism, world.epoch_length, obj.economy)
    out = obj.output
    _positive_int("output.flush_every", out.flush_every)
    raw = OmegaConf.to_container(OmegaConf.structured(obj), resolve=True, enum_to_str=True)
    return Scenario(
        name=obj.name,
        seed=obj.seed,
        epochs=obj.epochs,
        n_topics=obj.n_topics,
        topic_reward=obj.topic_reward,
        world=world,
        inferers=inferers,
        forecasters=groups["forecasters"],
        reputers=reputers,
        consumers=groups["consumers"],
        delegators=groups["delegators"],
        mechanism=mechanism,
        economy=_economy(obj.economy),
        mint=_mint(obj.mint),
        output=out,
        raw=raw,  # type: ignore[arg-type]
    )


def one_line(exc: BaseException) -> str:
    """An OmegaConf/Hydra error as one line: its message with the key, value and type info."""
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    head = lines[0] if lines else type(exc).__name__
    detail = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            detail[k.strip()] = v.strip()
    key = detail.get("full_key") or detail.get("key")
    extra = f" (key: {key})" if key and key not in head else ""
    return head + extra
