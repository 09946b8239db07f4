"""Behaviours: strategy objects acting for a whole group of agents at once (arrays in and out).

A behaviour is chosen per group in the population config (``population.<role>.<i>.behaviour``
with ``params``). It is built once per scenario with the group's members — ``(topic, slot)`` index
arrays into the model's per-topic arrays — and its own random generator, so an attack or a new
model of a participant is a new behaviour class, not a new model.

Roles and their calls, once per epoch:

* inferers: ``infer(ctx) -> (members,)`` inferences of the epoch's target;
* forecasters: ``forecast(ctx) -> (members, N)`` forecasted log10 losses of each inferer
  (NaN = no forecast element);
* reputers: ``report(ctx, exact) -> ValueBundle`` of the members' reported losses, given the
  exact log10 losses of every network-inference entry; ``stake`` is each member's initial stake;
* consumers: ``pay(ctx) -> (members,)`` amounts (ALLO) paid to the topic this epoch.

Stateful behaviours (online models, forecasters) update themselves from ``ctx.revealed``: the
ground truth of an earlier epoch once its lag has passed, with the inferences and their losses.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar

import numpy as np

from allora_sim.core import ValueBundle
from allora_sim.core.maths import same

__all__ = [
    "BEHAVIOURS",
    "Behaviour",
    "EpochContext",
    "Revealed",
    "build_behaviour",
    "validate_behaviour",
]


@dataclass(frozen=True)
class Revealed:
    """An earlier epoch whose ground truth has just been revealed (all arrays per topic)."""

    epoch: int
    truth: np.ndarray  # (T,)
    context: np.ndarray  # (T,)
    inference: np.ndarray  # (T, N) inferers' inferences of that epoch
    inferer_loss: np.ndarray  # (T, N) their log10 losses
    network_loss: np.ndarray  # (T,) log10 loss of the network inference


@dataclass(frozen=True)
class EpochContext:
    """What behaviours see when they act in an epoch.

    ``truth`` is the epoch's target (only oracle-like behaviours, which model skill as noise
    around the truth, may read it); ``context`` the observable regime; ``scale`` the target's
    typical size (the world's volatility), so skills are stated in units of it.
    """

    epoch: int
    truth: np.ndarray  # (T,)
    context: np.ndarray  # (T,) int in [0, n_contexts)
    n_contexts: int  # 0 when the world has no context
    scale: np.ndarray  # (T,)
    n_inferers: int
    revealed: Revealed | None
    loss: Any  # callable (prediction, truth) -> log10 loss


class Behaviour:
    """Base class: holds the group's members and generator; subclasses define ``Params``."""

    role: ClassVar[str]
    name: ClassVar[str]
    Params: ClassVar[type]

    def __init__(
        self, params: Any, topics: np.ndarray, slots: np.ndarray, rng: np.random.Generator
    ) -> None:
        self.params = params
        self.topics = topics
        self.slots = slots
        self.rng = rng
        self.size = len(slots)
        # position of each member within its topic's part of the group
        self.rank = slots - np.min(slots) if self.size else slots
        self.per_topic = int(self.rank.max()) + 1 if self.size else 0
        self.setup()

    def setup(self) -> None:
        """Draw per-member parameters (called once)."""


# ---------------------------------------------------------------------------------------------
# Inferers


class InfererBehaviour(Behaviour):
    role = "inferers"

    def infer(self, ctx: EpochContext) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class NoisyOracleParams:
    """Research target T26: error scale 10^N(log10(error·σ), log10(spread)), bias N(0, bias·σ);
    each epoch one member outperforms with its error times ``outperformer``. From epoch
    ``change_epoch`` on (−1: never) the errors are multiplied by ``change_factor`` (a worker that
    improves or degrades)."""

    error: float = 2.0
    spread: float = 1.5
    bias: float = 0.3
    outperformer: float = 0.5
    change_epoch: int = -1
    change_factor: float = 1.0

    def check(self, key: str) -> None:
        _positive(key, "error", self.error)
        _at_least(key, "spread", self.spread, 1.0)
        _non_negative(key, "bias", self.bias)
        _probability(key, "outperformer", self.outperformer)
        _int_at_least(key, "change_epoch", self.change_epoch, -1)
        _positive(key, "change_factor", self.change_factor)


class NoisyOracle(InfererBehaviour):
    """An inferer with fixed skill and bias: the truth plus its bias plus noise of its own scale.

    Each member's error scale is drawn once (lognormal around ``error``·σ). Each epoch one member
    per topic is the outperformer, its error scaled by ``outperformer`` (T26): the member whose
    position in the group equals the epoch's context (modulo the group size) when the world has
    a context — what context-aware forecasters can learn — else a random member.
    """

    name = "noisy_oracle"
    Params = NoisyOracleParams

    def setup(self) -> None:
        p = self.params
        self.skill = 10 ** self.rng.normal(math.log10(p.error), math.log10(p.spread), self.size)
        self.bias = self.rng.normal(0.0, p.bias, self.size)

    def infer(self, ctx: EpochContext) -> np.ndarray:
        scale = ctx.scale[self.topics]
        if ctx.n_contexts > 0:
            star = ctx.context[self.topics] % max(self.per_topic, 1)
        else:
            star = self.rng.integers(max(self.per_topic, 1), size=len(ctx.context))[self.topics]
        skill = self.skill
        if 0 <= self.params.change_epoch <= ctx.epoch:
            skill = skill * self.params.change_factor
        err = np.where(self.rank == star, skill * self.params.outperformer, skill)
        noise = self.rng.normal(0.0, 1.0, self.size) * err
        return ctx.truth[self.topics] + (self.bias + noise) * scale


@dataclass(frozen=True)
class SpecialistParams:
    """Good (error ``good``·σ) in regime ``regime`` and poor (``poor``·σ) elsewhere.
    ``regime = -1`` spreads the group's members over the world's regimes in turn."""

    regime: int = -1
    good: float = 0.2
    poor: float = 3.0

    def check(self, key: str) -> None:
        _positive(key, "good", self.good)
        _positive(key, "poor", self.poor)
        _int_at_least(key, "regime", self.regime, -1)


class RegimeSpecialist(InfererBehaviour):
    """An inferer whose skill depends on the regime: the context Allora is built to exploit."""

    name = "regime_specialist"
    Params = SpecialistParams

    def infer(self, ctx: EpochContext) -> np.ndarray:
        p = self.params
        home = self.rank % max(ctx.n_contexts, 1) if p.regime < 0 else p.regime
        at_home = ctx.context[self.topics] == home
        err = np.where(at_home, p.good, p.poor)
        noise = self.rng.normal(0.0, 1.0, self.size) * err
        return ctx.truth[self.topics] + noise * ctx.scale[self.topics]


@dataclass(frozen=True)
class OnlineParams:
    """Exponentially weighted mean (``kind=ewma``) or AR(1) (``kind=ar1``) of the revealed
    series, with weight ``alpha`` on the newest value."""

    kind: str = "ewma"
    alpha: float = 0.1

    def check(self, key: str) -> None:
        if self.kind not in ("ewma", "ar1"):
            raise _bad(key, "kind", self.kind, "one of 'ewma', 'ar1'")
        _probability(key, "alpha", self.alpha, open_low=True)
        if self.kind == "ar1" and self.alpha >= 0.5:
            # the fit needs an effective window 1/alpha of more than two observations
            raise _bad(key, "alpha", self.alpha, "below 0.5 with kind 'ar1'")


class OnlineModel(InfererBehaviour):
    """An inferer learning only from the series' own revealed history (no oracle access).

    ``ewma`` predicts the exponentially weighted mean of revealed targets; ``ar1`` fits
    ``y_t = a + b·y_{t−1}`` by exponentially weighted least squares and predicts one step ahead
    of the latest revealed value (as many steps as the lag requires).
    """

    name = "online_model"
    Params = OnlineParams

    def setup(self) -> None:
        n = self.size
        self.mean = np.zeros(n)
        self.seen = np.zeros(n, dtype=bool)
        # exponentially weighted sums for AR(1): x = y_{t-1}, y = y_t
        self.sx = np.zeros(n)
        self.sy = np.zeros(n)
        self.sxx = np.zeros(n)
        self.sxy = np.zeros(n)
        self.sw = np.zeros(n)
        self.last = np.full(n, np.nan)
        self.lag_steps = np.ones(n)

    def observe(self, rev: Revealed) -> None:
        y = rev.truth[self.topics]
        a = self.params.alpha
        self.mean = np.where(self.seen, a * y + (1 - a) * self.mean, y)
        has_prev = np.isfinite(self.last)
        x = np.where(has_prev, self.last, 0.0)
        w = has_prev.astype(float)
        decay = 1 - a
        self.sw = decay * self.sw + w
        self.sx = decay * self.sx + w * x
        self.sy = decay * self.sy + w * y
        self.sxx = decay * self.sxx + w * x * x
        self.sxy = decay * self.sxy + w * x * y
        self.last = y
        self.seen[:] = True

    def infer(self, ctx: EpochContext) -> np.ndarray:
        if ctx.revealed is not None:
            self.lag_steps[:] = max(1, ctx.epoch - ctx.revealed.epoch)
            self.observe(ctx.revealed)
        if self.params.kind == "ewma":
            return np.where(self.seen, self.mean, 0.0)
        sw = np.maximum(self.sw, 1e-12)
        mx, my = self.sx / sw, self.sy / sw
        var = self.sxx / sw - mx * mx
        cov = self.sxy / sw - mx * my
        b = np.where(var > 1e-18, cov / np.maximum(var, 1e-18), 0.0)
        b = np.clip(b, -0.99, 0.99)
        a = my - b * mx
        pred = np.where(np.isfinite(self.last), self.last, 0.0)
        for _ in range(int(self.lag_steps.max())):
            pred = a + b * pred
        return np.where(self.sw > 2.0, pred, np.where(self.seen, self.mean, 0.0))


# ---------------------------------------------------------------------------------------------
# Forecasters


class ForecasterBehaviour(Behaviour):
    role = "forecasters"

    def forecast(self, ctx: EpochContext) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class HistoryParams:
    """EWMA (weight ``alpha``) of each inferer's revealed log10 losses, plus Gaussian ``noise``
    (dex) on the forecast."""

    alpha: float = 0.1
    noise: float = 0.0

    def check(self, key: str) -> None:
        _probability(key, "alpha", self.alpha, open_low=True)
        _non_negative(key, "noise", self.noise)


def ewma_of_seen(alpha: float, new: np.ndarray, record: np.ndarray) -> np.ndarray:
    """``alpha·new + (1 − alpha)·record``; the first value seen starts the record, and a missing
    (NaN) value leaves it as it is."""
    blended = np.where(np.isfinite(record), alpha * new + (1 - alpha) * record, new)
    return np.where(np.isfinite(new), blended, record)


class _LossTracker(ForecasterBehaviour):
    """Shared state: an EWMA of each inferer's revealed losses, overall and per context (one
    record per context of the world). Members of the group in one topic see the same losses
    with the same ``alpha``, so the track record is kept once per topic (``self.topic_row`` maps
    members)."""

    def setup(self) -> None:
        self.tracked, self.topic_row = np.unique(self.topics, return_inverse=True)
        self.overall: np.ndarray | None = None
        self.by_regime: np.ndarray | None = None

    def _ensure(self, n: int, n_contexts: int) -> None:
        if self.overall is None or self.overall.shape[1] != n:
            self.overall = np.full((self.tracked.size, n), np.nan)
            self.by_regime = np.full((self.tracked.size, max(n_contexts, 1), n), np.nan)

    def observe(self, rev: Revealed, alpha: float, n_contexts: int) -> None:
        n = rev.inferer_loss.shape[1]
        self._ensure(n, n_contexts)
        assert self.overall is not None and self.by_regime is not None
        loss = rev.inferer_loss[self.tracked]  # (topics, N)
        self.overall = ewma_of_seen(alpha, loss, self.overall)
        rows, reg = np.arange(self.tracked.size), rev.context[self.tracked]
        self.by_regime[rows, reg] = ewma_of_seen(alpha, loss, self.by_regime[rows, reg])

    def _noise(self, shape: tuple[int, ...]) -> np.ndarray | float:
        """The forecast's Gaussian noise (none drawn when ``noise`` is 0)."""
        sd = self.params.noise
        return self.rng.normal(0.0, sd, shape) if sd > 0 else 0.0


class NaiveHistory(_LossTracker):
    """Forecasts each inferer's loss as the EWMA of its revealed losses (no context)."""

    name = "naive_history"
    Params = HistoryParams

    def forecast(self, ctx: EpochContext) -> np.ndarray:
        if ctx.revealed is not None:
            self.observe(ctx.revealed, self.params.alpha, ctx.n_contexts)
        self._ensure(ctx.n_inferers, ctx.n_contexts)
        assert self.overall is not None
        mine = self.overall[self.topic_row]
        return mine + self._noise(mine.shape)


@dataclass(frozen=True)
class ContextParams:
    """Context sensitivity s: ``-1`` draws s = sigmoid(10(U − 0.5)) per member (T26); the
    forecast mixes s·(the inferer's loss in the current regime) + (1 − s)·(its overall loss)."""

    alpha: float = 0.1
    sensitivity: float = 1.0
    noise: float = 0.0

    def check(self, key: str) -> None:
        _probability(key, "alpha", self.alpha, open_low=True)
        if self.sensitivity != -1.0:
            _probability(key, "sensitivity", self.sensitivity)
        _non_negative(key, "noise", self.noise)


class ContextAware(_LossTracker):
    """Forecasts each inferer's loss from its track record in the current regime."""

    name = "context_aware"
    Params = ContextParams

    def setup(self) -> None:
        super().setup()
        s = self.params.sensitivity
        u = self.rng.random(self.size)
        self.sensitivity = 1 / (1 + np.exp(-10 * (u - 0.5))) if s == -1.0 else np.full(self.size, s)

    def forecast(self, ctx: EpochContext) -> np.ndarray:
        if ctx.revealed is not None:
            self.observe(ctx.revealed, self.params.alpha, ctx.n_contexts)
        self._ensure(ctx.n_inferers, ctx.n_contexts)
        assert self.overall is not None and self.by_regime is not None
        here = self.by_regime[np.arange(self.tracked.size), ctx.context[self.tracked]]
        here = np.where(np.isfinite(here), here, self.overall)[self.topic_row]
        s = self.sensitivity[:, None]
        # s·here + (1 − s)·overall (+ noise), in place: (members, registered inferers) arrays
        # are large when thousands of inferers are registered
        here *= s
        overall = self.overall[self.topic_row]
        overall *= 1 - s
        here += overall
        here += self._noise(here.shape)
        return here


# ---------------------------------------------------------------------------------------------
# Reputers


class ReputerBehaviour(Behaviour):
    role = "reputers"

    def setup(self) -> None:
        # a group bound to one topic (``topic`` ≥ 0) stakes only there
        topic = getattr(self.params, "topic", -1)
        mine = (self.topics == topic) if topic >= 0 else np.ones(self.size, dtype=bool)
        self.stake = np.where(mine, float(self.params.stake), 0.0)

    def report(self, ctx: EpochContext, exact: ValueBundle) -> ValueBundle:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class HonestParams:
    """Reports the exact log10 loss plus its bias and Gaussian noise (dex). ``noise = -1`` and
    ``bias = -1`` draw them per member as in T26: noise 10^N(log10 0.1, log10 1.25) and bias
    N(0, 0.05). ``stake`` is in ALLO, staked only in ``topic`` if that is ≥ 0."""

    noise: float = -1.0
    bias: float = -1.0
    stake: float = 10_000.0
    topic: int = -1

    def check(self, key: str) -> None:
        if self.noise != -1.0:
            _non_negative(key, "noise", self.noise)
        if not math.isfinite(self.bias):
            raise _bad(key, "bias", self.bias, "a finite number")
        _positive(key, "stake", self.stake)
        _int_at_least(key, "topic", self.topic, -1)


class HonestReputer(ReputerBehaviour):
    """A reputer that reports the losses it measures, with its own noise and bias."""

    name = "honest"
    Params = HonestParams

    def setup(self) -> None:
        super().setup()
        p = self.params
        self.noise = (
            10 ** self.rng.normal(math.log10(0.1), math.log10(1.25), self.size)
            if p.noise == -1.0
            else np.full(self.size, p.noise)
        )
        self.bias = (
            self.rng.normal(0.0, 0.05, self.size) if p.bias == -1.0 else np.full(self.size, p.bias)
        )
        self.noise32 = self.noise.astype(np.float32)
        # members in topic order, the same number in every topic from 0 (a whole grid): a
        # member's row of the exact losses is then its topic's, found by broadcasting
        t = self.topics
        per = int(np.count_nonzero(t == 0)) if t.size else 0
        whole = per > 0 and t.size % per == 0
        self._per_topic = per if whole and same(t, np.repeat(np.arange(t.size // per), per)) else 0
        self._bias_grid = self.bias.reshape(-1, max(per, 1), 1) if self._per_topic else None

    def report(self, ctx: EpochContext, exact: ValueBundle) -> ValueBundle:
        flat = exact.flat()
        if self._bias_grid is not None and flat.shape[0] * self._per_topic == self.size:
            # (size, entries) in ExtractValues order: each member's topic row plus its bias
            mine = (flat[:, None, :] + self._bias_grid).reshape(self.size, -1)
        else:
            mine = flat[self.topics]
            mine += self.bias[:, None]
        eps = standard_normal32(self.rng, mine.shape)
        eps *= self.noise32[:, None]
        mine += eps
        return ValueBundle.from_flat(mine, exact.inferer.shape[-1], exact.forecaster.shape[-1])


def standard_normal32(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal draws in single precision by the Box–Muller transform.

    Single precision is ample for noise of ~0.1 dex, and the transform's vectorised logarithm,
    square root, cosine and sine make it ~2× faster than ``standard_normal(dtype=float32)``,
    whose ziggurat draws one value at a time (the reputers' reports need ~10⁵ per epoch at
    testnet scale). Uniforms ``u`` on the float32 grid give radii ``√(−2 ln(1 − u))`` up to
    5.8: tails beyond 5.8σ (probability 7·10⁻⁹) are never drawn.
    """
    n = math.prod(shape)
    h = (n + 1) // 2
    # 2h uniforms on the float32 grid, k·2⁻²⁴ from the top 24 bits of each 32-bit half of the
    # bit generator's 64-bit outputs (low half first), without a call per value. For a 64-bit
    # generator (numpy's default PCG64) holding no buffered 32-bit half, these are the values
    # ``rng.random(2h, dtype=np.float32)`` draws; the reputers' generators make only 64-bit
    # draws, so they never hold one.
    bits = rng.bit_generator.random_raw(h).view(np.uint32)
    bits >>= 8
    u = bits.view(np.int32).astype(np.float32)
    u *= np.float32(2.0**-24)
    radius, angle = u[:h], u[h:]
    np.subtract(np.float32(1.0), radius, out=radius)
    np.log(radius, out=radius)
    radius *= np.float32(-2.0)
    np.sqrt(radius, out=radius)
    angle *= np.float32(2.0 * math.pi)
    out = np.empty(2 * h, dtype=np.float32)
    np.cos(angle, out=out[:h])
    np.sin(angle, out=out[h:])
    out[:h] *= radius
    out[h:] *= radius
    return out[:n].reshape(shape)


# ---------------------------------------------------------------------------------------------
# Consumers


class ConsumerBehaviour(Behaviour):
    role = "consumers"

    def pay(self, ctx: EpochContext) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def _check_schedule(key: str, p: Any) -> None:
    _int_at_least(key, "topic", p.topic, -1)
    _int_at_least(key, "start_epoch", p.start_epoch, 0)
    _int_at_least(key, "stop_epoch", p.stop_epoch, -1)
    _int_at_least(key, "resume_epoch", p.resume_epoch, -1)
    if p.stop_epoch >= 0 and p.stop_epoch <= p.start_epoch:
        raise _bad(key, "stop_epoch", p.stop_epoch, f"after start_epoch ({p.start_epoch})")
    if p.resume_epoch >= 0 and not 0 <= p.stop_epoch < p.resume_epoch:
        raise _bad(key, "resume_epoch", p.resume_epoch, "after stop_epoch (and stop_epoch set)")


class _Scheduled(ConsumerBehaviour):
    """Pays only for its ``topic`` (−1: whichever topic it belongs to), from ``start_epoch``,
    not from ``stop_epoch`` (−1: never stops) until ``resume_epoch`` (−1: never resumes)."""

    def paying(self, ctx: EpochContext) -> np.ndarray:
        p = self.params
        e = ctx.epoch
        on = e >= p.start_epoch
        if p.stop_epoch >= 0 and e >= p.stop_epoch:
            on = p.resume_epoch >= 0 and e >= p.resume_epoch
        mine = (self.topics == p.topic) if p.topic >= 0 else np.ones(self.size, dtype=bool)
        return mine & on


@dataclass(frozen=True)
class FixedPayerParams:
    """Pays ``amount`` ALLO to its topic every epoch (pay what you want), on a schedule."""

    amount: float = 1.0
    topic: int = -1
    start_epoch: int = 0
    stop_epoch: int = -1
    resume_epoch: int = -1

    def check(self, key: str) -> None:
        _non_negative(key, "amount", self.amount)
        _check_schedule(key, self)


class FixedPayer(_Scheduled):
    """Pays a fixed amount each epoch."""

    name = "fixed_payer"
    Params = FixedPayerParams

    def pay(self, ctx: EpochContext) -> np.ndarray:
        return np.where(self.paying(ctx), float(self.params.amount), 0.0)


@dataclass(frozen=True)
class WhaleParams(FixedPayerParams):
    """A consumer that funds one topic (``topic``) heavily."""

    amount: float = 1000.0
    topic: int = 0


class Whale(FixedPayer):
    name = "whale"
    Params = WhaleParams


@dataclass(frozen=True)
class ValuePayerParams:
    """Pays ``rate`` ALLO per decade of log10 loss by which the network beats ``baseline`` (the
    consumer's own alternative), judged on an EWMA (weight ``alpha``) of revealed losses; at
    most ``cap`` ALLO an epoch."""

    rate: float = 1.0
    baseline: float = -4.0
    alpha: float = 0.1
    cap: float = 100.0
    topic: int = -1
    start_epoch: int = 0
    stop_epoch: int = -1
    resume_epoch: int = -1

    def check(self, key: str) -> None:
        _non_negative(key, "rate", self.rate)
        _number(key, "baseline", self.baseline)
        _probability(key, "alpha", self.alpha, open_low=True)
        _non_negative(key, "cap", self.cap)
        _check_schedule(key, self)


class ValuePayer(_Scheduled):
    """Pays in proportion to the value of the network's accuracy to it."""

    name = "value_payer"
    Params = ValuePayerParams

    def setup(self) -> None:
        self.loss = np.full(self.size, np.nan)

    def pay(self, ctx: EpochContext) -> np.ndarray:
        p = self.params
        if ctx.revealed is not None:
            # an epoch without a network loss (no inferences) keeps the record
            self.loss = ewma_of_seen(p.alpha, ctx.revealed.network_loss[self.topics], self.loss)
        gain = np.where(np.isfinite(self.loss), np.maximum(p.baseline - self.loss, 0.0), 0.0)
        return np.where(self.paying(ctx), np.minimum(p.rate * gain, p.cap), 0.0)


@dataclass(frozen=True)
class FreeRiderParams:
    """Uses the inferences and pays nothing."""

    def check(self, key: str) -> None:
        return None


class FreeRider(ConsumerBehaviour):
    name = "free_rider"
    Params = FreeRiderParams

    def pay(self, ctx: EpochContext) -> np.ndarray:
        return np.zeros(self.size)


# ---------------------------------------------------------------------------------------------
# Delegators


class DelegatorBehaviour(Behaviour):
    role = "delegators"

    def setup(self) -> None:
        self.amount = np.full(self.size, float(self.params.amount))

    def choose(
        self, ctx: EpochContext, yields: np.ndarray, current: np.ndarray, eligible: np.ndarray
    ) -> np.ndarray:  # pragma: no cover - abstract
        """The reputer slot each member wants to back (−1: none yet), given each reputer's
        recent yield per delegated token ``(T, R)``, the current choice and which reputers
        can be backed ``(T, R)``."""
        raise NotImplementedError


@dataclass(frozen=True)
class YieldSeekerParams:
    """Delegates ``amount`` ALLO; each epoch, with probability ``switch_probability``, moves to
    the reputer with the highest recent yield if it beats the current one by ``threshold``
    (relative). ``switch_probability = 0`` never moves (a loyal delegator)."""

    amount: float = 1000.0
    switch_probability: float = 0.05
    threshold: float = 0.1

    def check(self, key: str) -> None:
        _positive(key, "amount", self.amount)
        _probability(key, "switch_probability", self.switch_probability)
        _non_negative(key, "threshold", self.threshold)


class YieldSeeker(DelegatorBehaviour):
    """Backs a random eligible reputer first, then drifts toward higher yield."""

    name = "yield_seeker"
    Params = YieldSeekerParams

    def choose(
        self, ctx: EpochContext, yields: np.ndarray, current: np.ndarray, eligible: np.ndarray
    ) -> np.ndarray:
        out = current.copy()
        ok = eligible[self.topics]  # (members, R)
        y = np.where(ok, np.nan_to_num(yields[self.topics], nan=0.0), -np.inf)
        best = np.argmax(y, axis=1)
        fresh = current < 0
        if fresh.any():
            noise = self.rng.random(ok.shape)
            pick = np.argmax(np.where(ok, noise, -1.0), axis=1)
            out[fresh] = np.where(ok[fresh].any(axis=1), pick[fresh], -1)
        move = (~fresh) & (self.rng.random(self.size) < self.params.switch_probability)
        here = y[np.arange(self.size), np.maximum(current, 0)]
        better = y[np.arange(self.size), best] > here * (1 + self.params.threshold) + 1e-30
        switch = move & better & ok.any(axis=1)
        out[switch] = best[switch]
        return out


# ---------------------------------------------------------------------------------------------
# Registry and validation

BEHAVIOURS: dict[str, dict[str, type[Behaviour]]] = {
    "inferers": {c.name: c for c in (NoisyOracle, RegimeSpecialist, OnlineModel)},
    "forecasters": {c.name: c for c in (NaiveHistory, ContextAware)},
    "reputers": {c.name: c for c in (HonestReputer,)},
    "consumers": {c.name: c for c in (FixedPayer, Whale, ValuePayer, FreeRider)},
    "delegators": {c.name: c for c in (YieldSeeker,)},
}


def _bad(key: str, name: str, value: Any, allowed: str) -> ValueError:
    from allora_sim.config import ConfigError

    return ConfigError(f"{key}.params.{name}={value!r} is invalid: must be {allowed}")


def _number(key: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(key, name, value, "a finite number")
    return float(value)


def _positive(key: str, name: str, value: Any) -> None:
    if _number(key, name, value) <= 0:
        raise _bad(key, name, value, "> 0")


def _non_negative(key: str, name: str, value: Any) -> None:
    if _number(key, name, value) < 0:
        raise _bad(key, name, value, ">= 0")


def _at_least(key: str, name: str, value: Any, lo: float) -> None:
    if _number(key, name, value) < lo:
        raise _bad(key, name, value, f">= {lo}")


def _int_at_least(key: str, name: str, value: Any, lo: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < lo:
        raise _bad(key, name, value, f"an integer >= {lo}")


def _probability(key: str, name: str, value: Any, open_low: bool = False) -> None:
    v = _number(key, name, value)
    if not (0 < v <= 1 if open_low else 0 <= v <= 1):
        raise _bad(key, name, value, "in (0, 1]" if open_low else "in [0, 1]")


def validate_behaviour(role: str, behaviour: str, params: dict[str, Any], key: str) -> Any:
    """Check a group's behaviour name and parameters; return the behaviour's Params object."""
    from allora_sim.config import ConfigError

    known = BEHAVIOURS.get(role, {})
    if behaviour not in known:
        raise ConfigError(
            f"{key}.behaviour={behaviour!r} is invalid: {role} behaviours are "
            f"{', '.join(sorted(known))}"
        )
    cls = known[behaviour]
    names = {f.name: f for f in fields(cls.Params)}
    for name in params:
        if name not in names:
            raise ConfigError(
                f"{key}.params.{name} is not a parameter of {behaviour!r}; allowed: "
                f"{', '.join(sorted(names)) or '(none)'}"
            )
    for name, value in params.items():
        default = names[name].default
        if (
            default is not MISSING
            and isinstance(default, int | float)
            and not isinstance(default, bool)
        ):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _bad(key, name, value, "a number")
            if isinstance(default, int) and not isinstance(value, int):
                raise _bad(key, name, value, "an integer")
        elif isinstance(default, str) and not isinstance(value, str):
            raise _bad(key, name, value, "a string")
    obj = cls.Params(**params)
    obj.check(key)
    return obj


def build_behaviour(
    role: str,
    behaviour: str,
    params: Any,
    topics: np.ndarray,
    slots: np.ndarray,
    rng: np.random.Generator,
) -> Behaviour:
    """Instantiate a validated behaviour for its members."""
    return BEHAVIOURS[role][behaviour](params, topics, slots, rng)
