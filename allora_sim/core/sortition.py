"""Active-set selection ("merit sortition", `mechanism.md` §8) and the score EMAs behind it (§5.3).

Participants of one class (inferers, forecasters or reputers) of one topic are the last axis of
every array, **in the chain's iteration order**: ascending bech32 address (§0). The chain breaks
several ties by that order, so callers must index participants by ascending address.

Score EMAs are float arrays in which ``NaN`` means "no EMA stored". The chain reads an absent EMA
as value 0 at block 0, and treats an EMA as absent ("first time") when its block is 0 and its
value exactly 0; :class:`ScoreEmas` carries the block heights the streaming rule needs for that
and for the once-per-nonce rule.

Two forms of selection live here:

* :func:`admit_submissions` — what the chain does: each submission of a round, in arrival order,
  is admitted, replaces the cached lowest member, or loses and has its own EMA passively updated
  (``Keeper.AppendInference`` / ``AppendForecast`` / ``AppendReputerLoss``).
* :func:`batch_sortition` — the batch top-N form the golden data (``sortition_epochs.csv``) uses.

Deviation from the chain: ``FindTopNByScoreDesc`` breaks score ties with Go's ``math/rand``
stream seeded by the block height; here ties go to the lower index (the earlier address, or the
earlier forecast element). Ties are absent from the golden data.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from enum import Enum, IntEnum

import numpy as np

from allora_sim.core.maths import Array, Mask, ema, nan_to_zero, quantile_of_decs, take_last
from allora_sim.core.params import ModuleParams, TopicParams

__all__ = [
    "NO_PARTICIPANT",
    "ActorClass",
    "Admission",
    "AdmissionRound",
    "BatchSortition",
    "LowestScoreEma",
    "PassiveQuantile",
    "ScoreEmas",
    "active_quantile",
    "active_set_cap",
    "admit_submissions",
    "batch_sortition",
    "calc_ema",
    "find_top_n_by_score_desc",
    "limit_forecast_elements",
    "limit_forecast_grid",
    "rank_desc",
    "score_emas_after_scoring",
    "top_n_by_score_desc",
    "topic_quantile_of_instant_scores",
    "update_active_score_emas",
]

NO_PARTICIPANT = -1


class ActorClass(Enum):
    """The three classes that each have their own active set, EMAs and stored quantile."""

    INFERER = "inferer"
    FORECASTER = "forecaster"
    REPUTER = "reputer"


def active_set_cap(module: ModuleParams, actor: ActorClass) -> int:
    """``MaxTopInferersToReward`` / ``MaxTopForecastersToReward`` / ``MaxTopReputersToReward``
    (§8, §10.1): the size the active set fills up to before submissions must displace someone."""
    return {
        ActorClass.INFERER: module.max_top_inferers_to_reward,
        ActorClass.FORECASTER: module.max_top_forecasters_to_reward,
        ActorClass.REPUTER: module.max_top_reputers_to_reward,
    }[actor]


def active_quantile(topic: TopicParams, actor: ActorClass) -> float:
    """``ActiveInfererQuantile`` / ``ActiveForecasterQuantile`` / ``ActiveReputerQuantile``:
    the quantile of instant scores the topic stores after scoring (§5.3)."""
    return {
        ActorClass.INFERER: topic.active_inferer_quantile,
        ActorClass.FORECASTER: topic.active_forecaster_quantile,
        ActorClass.REPUTER: topic.active_reputer_quantile,
    }[actor]


# --------------------------------------------------------------------------------------------
# Validation helpers


def _float_array(name: str, x: Array | float, allow_nan: bool) -> Array:
    a = np.asarray(x, dtype=np.float64)
    bad = np.isinf(a) if allow_nan else ~np.isfinite(a)
    if bad.any():
        what = "finite or NaN (no EMA stored)" if allow_nan else "finite"
        raise ValueError(
            f"{name} = {a[bad][:5]!r} (at {np.argwhere(bad)[:5].tolist()}) is invalid: "
            f"every value must be {what}"
        )
    return a


def _check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, int | float | np.floating) and 0.0 <= float(alpha) <= 1.0):
        raise ValueError(f"alpha = {alpha!r} is invalid: must be a number in [0, 1]")
    return float(alpha)


def _check_quantile(name: str, q: float | Array) -> Array:
    a = np.asarray(q, dtype=np.float64)
    if not (np.isfinite(a) & (a >= 0.0) & (a <= 1.0)).all():
        raise ValueError(f"{name} = {q!r} is invalid: must lie in [0, 1]")
    return a


def _check_count(name: str, n: int | Array) -> Array:
    a = np.asarray(n)
    if a.dtype.kind not in "iu" or (a < 0).any():
        raise ValueError(f"{name} = {n!r} is invalid: must be a non-negative integer")
    return a


def _check_mask(name: str, mask: Mask, shape: tuple[int, ...]) -> Mask:
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        raise ValueError(f"{name} has dtype {m.dtype}: must be a boolean mask")
    if m.shape != shape:
        raise ValueError(f"{name} has shape {m.shape}: must be {shape}")
    return m


# --------------------------------------------------------------------------------------------
# EMA primitive


def calc_ema(
    alpha: float | Array,
    current: Array | float,
    previous: Array | float,
    first_time: Mask | bool,
) -> Array:
    """``alloraMath.CalcEma`` (§0, §5.3): ``α·current + (1−α)·previous``.

    Returns ``current`` unchanged the first time and — like the chain — whenever
    ``current == previous`` (the blend is then skipped, so no rounding creeps in).
    """
    return ema(
        alpha,
        np.asarray(current, dtype=np.float64),
        np.asarray(previous, dtype=np.float64),
        np.asarray(first_time),
    )


# --------------------------------------------------------------------------------------------
# Streaming admission (the chain)


@dataclass(frozen=True)
class ScoreEmas:
    """Stored score EMAs of one class of one topic (``Keeper.Get*ScoreEma``), shape ``(n,)``.

    ``score`` is NaN where no EMA is stored; ``block`` is the block height the EMA was last
    written at (0 where none is stored).
    """

    score: Array
    block: Array

    def __post_init__(self) -> None:
        score = _float_array("ScoreEmas.score", self.score, allow_nan=True)
        block = np.asarray(self.block)
        if score.ndim != 1:
            raise ValueError(f"ScoreEmas.score has shape {score.shape}: must be 1-D (participants)")
        if block.shape != score.shape:
            raise ValueError(
                f"ScoreEmas.block has shape {block.shape}: must match score {score.shape}"
            )
        if block.dtype.kind not in "iu" or (block < 0).any():
            raise ValueError(f"ScoreEmas.block = {block!r} is invalid: must be block heights >= 0")
        if (np.isnan(score) & (block != 0)).any():
            raise ValueError("ScoreEmas.block must be 0 where no EMA is stored (score NaN)")
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "block", block.astype(np.int64))

    @staticmethod
    def absent(n: int) -> ScoreEmas:
        """No participant has an EMA yet."""
        return ScoreEmas(np.full(n, np.nan), np.zeros(n, dtype=np.int64))

    @property
    def value(self) -> Array:
        """What the chain reads: an absent EMA is 0."""
        return np.nan_to_num(self.score, nan=0.0)

    @property
    def first_time(self) -> Mask:
        """The chain's "first time" test: block 0 and value exactly 0 (§14)."""
        return (self.block == 0) & (self.value == 0.0)


@dataclass(frozen=True)
class LowestScoreEma:
    """The topic's cached lowest score EMA of the active set (``lowest*ScoreEma`` store).

    A copy of the member's EMA record (value and block) taken when the cache was last written;
    the chain never clears it, so in a later round it can be stale or name a non-member.
    """

    participant: int
    score: float
    block: int


class Admission(IntEnum):
    """What the chain does with one submission (``Append*``)."""

    ADMITTED = 0
    """The active set had room."""
    REPLACED_LOWEST = 1
    """Beat the cached lowest EMA: the lowest got the passive update and lost its place."""
    PASSIVE = 2
    """Did not beat the cached lowest: own EMA passively updated, not admitted."""
    ALREADY_ACTIVE = 3
    """Already in the active set this round ("already submitted" error); nothing changes."""
    EMA_ALREADY_UPDATED = 4
    """EMA already written at this nonce (``ErrCantUpdateEmaMoreThanOncePerWindow``)."""
    NO_LOWEST = 5
    """Cap reached with no member and no cached lowest (cap 0): the chain fails to store an
    empty lowest record and rejects the submission; nothing changes."""


@dataclass(frozen=True)
class AdmissionRound:
    """Result of one round's submissions of one class.

    Per participant ``(n,)``: ``active`` (final active set), ``emas`` (after the passive
    updates), ``updated`` (EMA written during this round). Per submission ``(n_arrivals,)``:
    ``admission`` (an :class:`Admission` code), ``passive`` (whose EMA that submission passively
    updated, or :data:`NO_PARTICIPANT`) and ``evicted`` (who it removed from the active set, or
    :data:`NO_PARTICIPANT`; differs from ``passive`` when the cached lowest was not a member).
    ``lowest`` is the cache to carry into the next round.
    """

    active: Mask
    emas: ScoreEmas
    updated: Mask
    admission: Array
    passive: Array
    evicted: Array
    lowest: LowestScoreEma | None


def _ema1(alpha: float, current: float, previous: float, first_time: bool) -> float:
    """:func:`~allora_sim.core.maths.ema` of one value, in Python floats (the same IEEE
    arithmetic, without numpy's per-call cost in the admission loop)."""
    if first_time or current == previous:
        return current
    return alpha * current + (1.0 - alpha) * previous


def _first_lowest(value: Array, member: Mask) -> int:
    """``GetLowestScoreFromAll*`` over the members in ascending address order: the first
    minimum wins (strict ``Gt`` replaces)."""
    idx = np.flatnonzero(member)
    if idx.size == 0:
        return NO_PARTICIPANT
    return int(idx[np.argmin(value[idx])])


def _passive_stretch(
    arr: np.ndarray,
    a: int,
    member: Mask,
    value: Array,
    block: np.ndarray,
    lowest: float,
    nonce: int,
) -> int:
    """End of the stretch of submissions from ``a`` on that cannot beat the cached lowest
    ``lowest``: the first one that is not a member, has no EMA at this nonce and whose EMA
    exceeds it. Looked for in growing windows, so a replacement soon after ``a`` costs little.

    A repeat submission inside the stretch whose first occurrence was passively updated cannot
    beat either (its EMA was at most ``lowest`` and it is then stamped with this nonce)."""
    width = 64
    while a < arr.size:
        w = arr[a : a + width]
        beats = ~member[w] & (block[w] < nonce) & (value[w] > lowest)
        hit = np.flatnonzero(beats)
        if hit.size:
            return a + int(hit[0])
        a += w.size
        width *= 4
    return int(arr.size)


def _next_beat(open_value: Array, a: int, lowest: float) -> int:
    """:func:`_passive_stretch` for a round without repeats, on ``open_value`` — per arrival,
    its EMA if it may still be written at this nonce, else −∞ (no arrival is a member then)."""
    width = 64
    while a < open_value.size:
        hit = np.flatnonzero(open_value[a : a + width] > lowest)
        if hit.size:
            return a + int(hit[0])
        a += width
        width *= 4
    return int(open_value.size)


def _passive_updates(
    arr: np.ndarray,
    pos: np.ndarray,
    no_repeats: bool,
    member: Mask,
    value: Array,
    block: np.ndarray,
    stored: Mask,
    updated: Mask,
    admission: np.ndarray,
    passive: np.ndarray,
    last_quantile: float,
    alpha: float,
    nonce: int,
) -> None:
    """Submissions ``arr[pos]`` (in arrival order) none of which beats the cached lowest (in
    place): members are rejected as already active, EMAs written at this nonce (including a
    repeat's, written by its first occurrence here) as already updated, and everyone else gets
    the passive update ``EMA_α(last_quantile, own EMA)`` stamped ``nonce``. ``no_repeats``:
    every participant submits once in the round (no first occurrences to find)."""
    seg = arr[pos]
    upd = ~member[seg] & (block[seg] < nonce)
    if not no_repeats:
        _, first = np.unique(seg, return_index=True)
        is_first = np.zeros(seg.size, dtype=bool)
        is_first[first] = True
        upd &= is_first
    admission[pos[~member[seg] & ~upd]] = Admission.EMA_ALREADY_UPDATED
    who = seg[upd]
    prev, prev_block = value[who], block[who]
    # EMAs and the quantile are finite: no error state to manage
    value[who] = ema(alpha, last_quantile, prev, (prev_block == 0) & (prev == 0.0), finite=True)
    block[who] = nonce
    stored[who] = True
    updated[who] = True
    admission[pos[upd]] = Admission.PASSIVE
    passive[pos[upd]] = who


def admit_submissions(
    arrivals: Array,
    emas: ScoreEmas,
    lowest: LowestScoreEma | None,
    last_quantile: float,
    alpha: float,
    cap: int,
    nonce: int,
) -> AdmissionRound:
    """One round of the chain's streaming admission for one class (§8).

    Mirrors ``Keeper.AppendInference`` / ``AppendForecast`` / ``AppendReputerLoss`` with
    ``GetLowestScoreFromAll*``, ``UpdateLowestScoreFrom*Addresses`` and
    ``CalcAndSave*ScoreEmaWithLastSavedTopicQuantile``. The active set starts empty (the chain
    resets it when the nonce closes). For each submission ``p`` in ``arrivals`` order:

    1. ``p`` already active → rejected (:attr:`Admission.ALREADY_ACTIVE`);
    2. fewer than ``cap`` members → admitted;
    3. ``p``'s EMA written at a block ≥ ``nonce`` → rejected
       (:attr:`Admission.EMA_ALREADY_UPDATED`);
    4. no cached lowest → computed from the members' current EMAs (first in address order wins
       ties) and cached;
    5. ``p``'s EMA > cached value → the *cached* record gets the passive update
       ``EMA_α(last_quantile, cached value)`` stamped ``nonce``, that participant leaves the set
       (if it is in it), ``p`` joins, and the cache is recomputed over the pre-submission
       members minus the evicted one, followed by ``p`` (so ``p`` is the lowest only if strictly
       below every other member); otherwise ``p``'s own EMA gets the passive update.

    Consequences of the cache never being cleared (carry ``lowest`` from round to round as the
    chain does): in a later round the first comparison uses the cached, possibly stale value and
    participant; if that participant is not a member, nobody is removed and the set grows to
    ``cap + 1``; and the passive update starts from the cached value, overwriting any newer EMA.
    Pass ``lowest=None`` for a topic whose cache was never written.

    Args:
        arrivals: ``(n_arrivals,)`` participant indices in the order the chain processes them.
        emas: stored EMAs before the round (:class:`ScoreEmas`, ``(n,)``).
        lowest: the cached lowest record, or ``None``.
        last_quantile: the topic quantile of instant scores stored by the last scoring (§5.3).
        alpha: topic ``MeritSortitionAlpha``.
        cap: ``MaxTop*ToReward`` (:func:`active_set_cap`).
        nonce: block height of the open nonce.

    Submissions are processed one by one only because the chain's outcome depends on their
    order, and only where it can change: between two replacements every submission is rejected
    or passively updated, and that stretch is found and written vectorised (in a round without
    repeats, all stretches' updates at once); a replacement costs O(log cap) (a heap of the
    members' EMAs where the chain re-reads every member). When at most ``cap`` distinct
    participants submit, a vectorised fast path applies (everyone admitted, no EMA written,
    cache untouched).
    """
    n = emas.score.shape[0]
    arr = np.asarray(arrivals)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(f"arrivals = {arrivals!r} is invalid: must be a 1-D integer array")
    arr = arr.astype(np.intp)
    if arr.size and ((arr < 0) | (arr >= n)).any():
        raise ValueError(f"arrivals = {arrivals!r} is invalid: indices must lie in [0, {n})")
    if not (isinstance(cap, int | np.integer) and cap >= 0):
        raise ValueError(f"cap = {cap!r} is invalid: must be an integer >= 0")
    if not (isinstance(nonce, int | np.integer) and nonce >= 1):
        raise ValueError(f"nonce = {nonce!r} is invalid: must be a block height >= 1")
    if not np.isfinite(last_quantile):
        raise ValueError(f"last_quantile = {last_quantile!r} is invalid: must be finite")
    alpha = _check_alpha(alpha)
    if lowest is not None:
        if not 0 <= lowest.participant < n:
            raise ValueError(
                f"lowest.participant = {lowest.participant!r} is invalid: must lie in [0, {n})"
            )
        if not np.isfinite(lowest.score):
            raise ValueError(f"lowest.score = {lowest.score!r} is invalid: must be finite")

    admission = np.full(arr.size, Admission.ALREADY_ACTIVE, dtype=np.int8)
    passive = np.full(arr.size, NO_PARTICIPANT, dtype=np.intp)
    evicted = np.full(arr.size, NO_PARTICIPANT, dtype=np.intp)
    member = np.zeros(n, dtype=bool)

    distinct, first = np.unique(arr, return_index=True)
    if distinct.size <= cap:
        # Each first arrival finds the set below the cap; repeats find themselves active.
        member[distinct] = True
        admission[first] = Admission.ADMITTED
        return AdmissionRound(
            member, emas, np.zeros(n, dtype=bool), admission, passive, evicted, lowest
        )

    value = emas.value.copy()
    stored = ~np.isnan(emas.score)
    block = emas.block.copy()
    updated = np.zeros(n, dtype=bool)
    no_repeats = distinct.size == arr.size
    if no_repeats:
        # Each arrival's own record then changes only at its arrival, or earlier if it is the
        # cached lowest evicted before arriving (stamped: it cannot beat any more). So the
        # search reads records as they were before the round, and the passive updates of the
        # stretches wait (``deferred``) and are written together — before a replacement whose
        # loser is not a member (it may be waiting there), and at the end.
        open_value = np.where(block[arr] < nonce, value[arr], -np.inf)
        arrival = np.full(n, arr.size, dtype=np.intp)
        arrival[arr] = np.arange(arr.size)
        deferred = np.zeros(arr.size, dtype=bool)

    def write_passive(pos: np.ndarray) -> None:
        _passive_updates(
            arr, pos, no_repeats, member, value, block, stored, updated, admission, passive,
            last_quantile, alpha, nonce,
        )  # fmt: skip

    heap: list[tuple[float, int]] | None = None
    size = 0
    a = 0
    while a < arr.size:
        p = int(arr[a])
        if member[p]:
            a += 1
            continue  # ALREADY_ACTIVE (the initial code)
        if size < cap:
            member[p] = True
            size += 1
            admission[a] = Admission.ADMITTED
            a += 1
            continue
        if lowest is None and block[p] < nonce:
            q = _first_lowest(value, member)
            if q == NO_PARTICIPANT:
                admission[a] = Admission.NO_LOWEST
                a += 1
                continue
            lowest = LowestScoreEma(q, float(value[q]), int(block[q]))
        if lowest is None:
            admission[a] = Admission.EMA_ALREADY_UPDATED
            a += 1
            continue
        # The set is full and stays full; until a submission beats the cached lowest, every
        # submission is rejected or passively updated, so that stretch is done at once.
        if no_repeats:
            b = _next_beat(open_value, a, lowest.score)
            deferred[a:b] = True
        else:
            b = _passive_stretch(arr, a, member, value, block, lowest.score, nonce)
            if b > a:
                write_passive(np.arange(a, b))
        if b > a:
            a = b
            continue
        # arr[a] beats the cached lowest: the cached record is passively updated and its
        # participant loses its place (if it still has one).
        loser = lowest.participant
        if no_repeats and not member[loser]:
            write_passive(np.flatnonzero(deferred))
            deferred[:] = False
            if arrival[loser] < arr.size:
                open_value[arrival[loser]] = -np.inf
        first_time = lowest.block == 0 and lowest.score == 0.0
        value[loser] = _ema1(alpha, last_quantile, lowest.score, first_time)
        block[loser], stored[loser], updated[loser] = nonce, True, True
        passive[a] = loser
        if member[loser]:
            member[loser] = False
            size -= 1
            evicted[a] = loser
        # the members' lowest EMA, first in address order (GetLowestScoreFromAll*): members'
        # EMAs do not change while they are members, so a heap of (EMA, index) serves, its
        # entries of those who left dropped when they come to the top
        if heap is None:
            heap = [(float(value[i]), int(i)) for i in np.flatnonzero(member)]
            heapq.heapify(heap)
        while heap and not (member[heap[0][1]] and value[heap[0][1]] == heap[0][0]):
            heapq.heappop(heap)
        v_p = float(value[p])
        q = p if not heap or v_p < heap[0][0] else heap[0][1]
        member[p] = True
        size += 1
        heapq.heappush(heap, (v_p, p))
        lowest = LowestScoreEma(q, float(value[q]), int(block[q]))
        admission[a] = Admission.REPLACED_LOWEST
        a += 1
    if no_repeats and deferred.any():
        write_passive(np.flatnonzero(deferred))

    new = ScoreEmas(np.where(stored, value, np.nan), block)
    return AdmissionRound(member, new, updated, admission, passive, evicted, lowest)


# --------------------------------------------------------------------------------------------
# Top-N by score (batch)


def rank_desc(values: Array, mask: Mask) -> Array:
    """0-based descending rank of each masked value among the masked ones (−1 elsewhere).

    Ties go to the lower index (the sort is stable). Works on the last axis.
    """
    values, mask = np.broadcast_arrays(
        np.asarray(values, dtype=np.float64), np.asarray(mask, dtype=bool)
    )
    key = np.where(mask, -values, np.inf)
    # Absent entries sort after every present one whatever their value: a stable sort of the
    # key alone does that when no present key is +inf or NaN, else sort by presence first.
    if np.isfinite(key[mask]).all():
        order = np.argsort(key, axis=-1, kind="stable")
    else:
        order = np.lexsort((key, ~mask), axis=-1)
    rank = np.empty_like(order)
    pos = np.broadcast_to(np.arange(values.shape[-1]), order.shape)
    np.put_along_axis(rank, order, pos, axis=-1)
    return np.where(mask, rank, -1)


def find_top_n_by_score_desc(scores: Array, present: Mask, n: int | Array) -> tuple[Mask, Array]:
    """``actorutils.FindTopNByScoreDesc`` (§8, §14): the top ``n`` by score, descending.

    Returns ``(is_top, rank)``: a mask of the top ``min(n, #present)`` and the 0-based descending
    rank (−1 where not present). NaN scores (no EMA stored) rank as 0, as the chain reads them.
    Deviation: ties go to the lower index, not to Go's ``math/rand`` stream seeded by the block.
    """
    scores = _float_array("scores", scores, allow_nan=True)
    present = _check_mask("present", present, scores.shape)
    n_arr = _check_count("n", n)
    rank = rank_desc(np.nan_to_num(scores, nan=0.0), present)
    return present & (rank < n_arr[..., None]), rank


def top_n_by_score_desc(scores: Array, present: Mask, n: int) -> Mask:
    """The ``is_top`` mask of :func:`find_top_n_by_score_desc` for one ``n``, without ranking
    everyone: a partition finds the n-th largest score per row, the scores above it are in and
    the ties at it are taken in index order (ties to the lower index, as there). O(length) per
    row instead of a sort — what selecting 12 of thousands of elements needs.
    """
    s = _float_array("scores", scores, allow_nan=True)
    present = _check_mask("present", present, s.shape)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n = {n!r} is invalid: must be one non-negative integer")
    length = s.shape[-1]
    if n >= length:
        return present.copy()
    if n == 0:
        return np.zeros(s.shape, dtype=bool)
    if 16 * np.count_nonzero(present) <= present.size:
        return _top_n_sparse(s, present, n)
    s = nan_to_zero(s)  # no ±inf: refused above
    # on negated scores the n-th largest is the n-th smallest: numpy selects a small k much
    # faster when most scores tie (inferers without an EMA all read 0); absent entries at +inf
    neg = np.where(present, -s, np.inf)
    kth = np.partition(neg, n - 1, axis=-1)[..., n - 1, None]
    above = neg < kth
    tie = present & (neg == kth)
    room = n - above.sum(axis=-1, keepdims=True)
    return above | (tie & (np.cumsum(tie, axis=-1) <= room))


def _top_n_sparse(s: Array, present: Mask, n: int) -> Mask:
    """:func:`top_n_by_score_desc` when few entries are present (forecasts naming a hundred of
    thousands of registered inferers): the present entries sorted by row, score descending (NaN
    read as 0) and index ascending, the first ``n`` of each row kept. ``s`` has ``present``'s
    shape."""
    length = present.shape[-1]
    row, col = np.divmod(np.flatnonzero(present), length)
    score = nan_to_zero(s.reshape(-1, length)[row, col])  # no ±inf (the caller refused them)
    order = np.lexsort((col, -score, row))
    row, col = row[order], col[order]
    first = np.searchsorted(row, row)  # where each entry's row starts in the sorted list
    keep = np.arange(row.size) - first < n
    out = np.zeros(present.shape, dtype=bool)
    out.reshape(-1, length)[row[keep], col[keep]] = True
    return out


def limit_forecast_grid(forecast: Array, inferer_score_ema: Array, max_elements: int) -> Array:
    """:func:`limit_forecast_elements` for forecasts on the grid of a topic's inferer slots
    (``msgServer.InsertWorkerPayload``, §8): ``forecast (T, K, N)`` holds forecaster k's
    forecasted loss of inferer j at ``[t, k, j]`` (NaN = no element), ``inferer_score_ema
    (T, N)`` (NaN = none stored, read as 0). Returns the forecasts with the elements beyond
    each forecast's top ``max_elements`` inferers by EMA set to NaN (the input itself when no
    forecast can exceed the limit).

    Element j names inferer j, so there are no duplicates: one selection per topic serves every
    forecast naming all inferers, and only forecasts naming some of them select among those.
    """
    n = forecast.shape[-1]
    if n <= max_elements:
        return forecast
    present = np.isfinite(forecast)
    complete = present.all(axis=-1)
    if complete.any():
        top = top_n_by_score_desc(
            inferer_score_ema, np.ones(inferer_score_ema.shape, bool), max_elements
        )
        keep = complete[:, :, None] & top[:, None, :]
    else:
        keep = np.zeros(present.shape, dtype=bool)
    partial = present.any(axis=-1) & ~complete
    if partial.any():
        t, k = np.nonzero(partial)
        keep[t, k] = top_n_by_score_desc(inferer_score_ema[t], present[t, k], max_elements)
    return np.where(keep, forecast, np.nan)


def limit_forecast_elements(
    element_inferer: Array,
    element_present: Mask,
    inferer_score_ema: Array,
    max_elements: int,
    registered: Mask | None = None,
) -> Mask:
    """Forecast elements the chain keeps (``msgServer.InsertWorkerPayload``, §8).

    Each present element's inferer EMA is looked up (absent → 0), duplicates included; the top
    ``max_elements`` *entries* of that list by EMA name the top inferers
    (``FindTopNByScoreDesc``; ties to the earlier element — the deviation of this module);
    elements are then kept in order, the first element per inferer only, if its inferer is a top
    one. A duplicated inferer therefore uses up several of the ``max_elements`` places.
    If any present element names an unregistered inferer the chain abandons the whole forecast
    (all False; the chain returns without error, the inference of the payload stays).

    Args:
        element_inferer: ``(..., m)`` inferer index of each element.
        element_present: ``(..., m)`` which element slots hold an element.
        inferer_score_ema: ``(..., n)`` inferer score EMAs (NaN = none stored).
        max_elements: ``MaxElementsPerForecast``.
        registered: ``(..., n)`` inferers registered in the topic (default: all).

    Returns the ``(..., m)`` mask of kept elements.
    """
    inferer = np.asarray(element_inferer)
    present = np.asarray(element_present)
    ema = _float_array("inferer_score_ema", inferer_score_ema, allow_nan=True)
    if inferer.dtype.kind not in "iu":
        raise ValueError(f"element_inferer has dtype {inferer.dtype}: must be integer indices")
    _check_mask("element_present", present, inferer.shape)
    n = ema.shape[-1]
    if (present & ((inferer < 0) | (inferer >= n))).any():
        raise ValueError(f"element_inferer = {inferer!r} is invalid: indices must lie in [0, {n})")
    _check_count("max_elements", max_elements)
    safe = np.where(present, inferer, 0).astype(np.intp)
    lead = np.broadcast_shapes(inferer.shape[:-1], ema.shape[:-1])
    safe = np.broadcast_to(safe, (*lead, inferer.shape[-1]))
    present = np.broadcast_to(present, safe.shape)
    ema_b = np.broadcast_to(np.nan_to_num(ema, nan=0.0), (*lead, n))
    element_ema = take_last(ema_b, safe)
    top = rank_desc(element_ema, present) < max_elements

    # First element per inferer among the present ones (stable sort keeps element order).
    key = np.where(present, safe, n)
    order = np.argsort(key, axis=-1, kind="stable")
    sorted_key = take_last(key, order)
    head = np.ones(sorted_key.shape, dtype=bool)
    head[..., 1:] = sorted_key[..., 1:] != sorted_key[..., :-1]
    first = np.empty_like(head)
    np.put_along_axis(first, order, head, axis=-1)
    # Duplicates share the EMA and the earlier one ranks first, so the inferer is a top one
    # exactly when its first element is.
    keep = present & first & top
    if registered is not None:
        reg = np.broadcast_to(np.asarray(registered, dtype=bool), (*lead, n))
        unregistered = present & ~take_last(reg, safe)
        keep = keep & ~unregistered.any(axis=-1, keepdims=True)
    return keep


# --------------------------------------------------------------------------------------------
# Batch top-N form (golden sortition data)


class PassiveQuantile(Enum):
    """Which quantile the inactive participants' EMA moves towards."""

    SAME_ROUND = "same_round"
    """This round's quantile of the active participants' metrics (the golden simulator)."""
    LAST_STORED = "last_stored"
    """The quantile stored by the previous scoring (the chain, §8)."""


@dataclass(frozen=True)
class BatchSortition:
    """One round of the batch form, arrays ``(..., n)`` / ``(...,)``.

    ``active``: drawn participants; ``ema_rank``: descending rank of the previous EMA among the
    candidates (−1 elsewhere); ``quality_cutoff``: lowest previous EMA inside the drawn set (NaN
    if none is drawn); ``metric_rank``: descending rank of the metric among the drawn (−1
    elsewhere); ``quality_quantile``: ``Q_q`` of the drawn metrics (0 if none, §0);
    ``score_ema``: the updated EMAs.
    """

    active: Mask
    ema_rank: Array
    quality_cutoff: Array
    metric_rank: Array
    quality_quantile: Array
    score_ema: Array


def batch_sortition(
    prev_ema: Array,
    candidates: Mask,
    metric: Array,
    n_drawn: int | Array,
    quantile: float | Array,
    alpha: float,
    passive: PassiveQuantile,
    last_quantile: float | Array | None = None,
) -> BatchSortition:
    """Batch merit sortition (§8, golden ``sortition_epochs.csv``).

    The top ``n_drawn`` candidates by previous EMA are drawn (``FindTopNByScoreDesc``; ties to
    the lower index). Drawn participants' EMA moves towards their metric, other candidates'
    towards a quantile — this round's ``Q_quantile`` of the drawn metrics
    (:attr:`PassiveQuantile.SAME_ROUND`, the golden simulator) or ``last_quantile``
    (:attr:`PassiveQuantile.LAST_STORED`, the chain's ``...WithLastSavedTopicQuantile``).
    Non-candidates keep their EMA. A candidate without a stored EMA (NaN) ranks as 0 and takes
    the new value outright (``CalcEma`` first time). ``quantile`` is ``percentile / 100``.

    Args:
        prev_ema: ``(..., n)`` EMAs before the round (NaN = none stored).
        candidates: ``(..., n)`` participants who submitted.
        metric: ``(..., n)`` quality metric (instant score); read only where drawn.
        n_drawn: size of the drawn set (the active-set cap).
    """
    prev = _float_array("prev_ema", prev_ema, allow_nan=True)
    candidates = _check_mask("candidates", candidates, prev.shape)
    metric = np.asarray(metric, dtype=np.float64)
    if metric.shape != prev.shape:
        raise ValueError(f"metric has shape {metric.shape}: must be {prev.shape}")
    q = _check_quantile("quantile", quantile)
    alpha = _check_alpha(alpha)
    if not isinstance(passive, PassiveQuantile):
        raise ValueError(f"passive = {passive!r} is invalid: must be a PassiveQuantile")

    active, ema_rank = find_top_n_by_score_desc(prev, candidates, n_drawn)
    bad = active & ~np.isfinite(metric)
    if bad.any():
        raise ValueError(
            f"metric is not finite for drawn participants at {np.argwhere(bad).tolist()}: "
            "every drawn participant needs a finite metric"
        )
    value = np.nan_to_num(prev, nan=0.0)
    with np.errstate(invalid="ignore"):
        cutoff = np.where(active, value, np.inf).min(axis=-1)
    cutoff = np.where(active.any(axis=-1), cutoff, np.nan)
    metric_rank = rank_desc(np.where(active, metric, 0.0), active)
    quality_q = quantile_of_decs(np.where(active, metric, 0.0), active, q)

    if passive is PassiveQuantile.SAME_ROUND:
        towards = quality_q
    else:
        if last_quantile is None:
            raise ValueError("last_quantile is required with PassiveQuantile.LAST_STORED")
        towards = _float_array("last_quantile", last_quantile, allow_nan=False)
    target = np.where(active, metric, np.asarray(towards)[..., None])
    first_time = np.isnan(prev)
    new = calc_ema(alpha, target, value, first_time)
    new = np.where(candidates, new, prev)
    return BatchSortition(active, ema_rank, cutoff, metric_rank, quality_q, new)


# --------------------------------------------------------------------------------------------
# Score EMAs after scoring (§5.3)


def update_active_score_emas(
    score_ema: Array, instant_score: Array, scored: Mask, alpha: float
) -> Array:
    """``CalcAndSave{Inferer,Forecaster,Reputer}ScoreEmaForActiveSet`` (§5.3).

    For every scored participant ``s̃ ← EMA_α(T, s̃)``, or ``T`` when no EMA is stored (NaN).
    Others keep theirs. The chain applies no once-per-nonce check here. Shapes ``(..., n)``.
    """
    prev = _float_array("score_ema", score_ema, allow_nan=True)
    scored = _check_mask("scored", scored, prev.shape)
    inst = np.asarray(instant_score, dtype=np.float64)
    if inst.shape != prev.shape:
        raise ValueError(f"instant_score has shape {inst.shape}: must be {prev.shape}")
    if (scored & ~np.isfinite(inst)).any():
        raise ValueError(
            f"instant_score is not finite for scored participants at "
            f"{np.argwhere(scored & ~np.isfinite(inst)).tolist()}"
        )
    alpha = _check_alpha(alpha)
    new = calc_ema(alpha, inst, np.nan_to_num(prev, nan=0.0), np.isnan(prev))
    return np.where(scored, new, prev)


def topic_quantile_of_instant_scores(
    instant_score: Array, scored: Mask, quantile: float | Array
) -> Array:
    """``getQuantileOfScores`` (``GetQuantileOfDecs``, §0, §5.3): the value the topic stores
    as ``PreviousTopicQuantile*ScoreEma`` — a quantile of the *instant* scores; 0 if none."""
    inst = np.asarray(instant_score, dtype=np.float64)
    scored = _check_mask("scored", scored, inst.shape)
    q = _check_quantile("quantile", quantile)
    return quantile_of_decs(np.where(scored, inst, 0.0), scored, q)


def score_emas_after_scoring(
    score_ema: Array,
    instant_score: Array,
    scored: Mask,
    alpha: float,
    quantile: float | Array,
    last_quantile: float | Array,
    actor: ActorClass,
) -> tuple[Array, Array]:
    """EMAs and stored topic quantile after one scoring (``GenerateInferenceScores`` /
    ``GenerateForecastScores`` / ``GenerateReputerScores``, §5.1–§5.3).

    Returns ``(score_ema, stored_quantile)``. Inferers and forecasters with exactly one scored
    participant get score 0 and neither EMA nor quantile is updated (the chain returns early);
    reputers are always updated.
    """
    inst = np.asarray(instant_score, dtype=np.float64)
    scored = _check_mask("scored", scored, inst.shape)
    last = _float_array("last_quantile", last_quantile, allow_nan=False)
    new_ema = update_active_score_emas(score_ema, instant_score, scored, alpha)
    new_q = topic_quantile_of_instant_scores(inst, scored, quantile)
    if actor is ActorClass.REPUTER:
        return new_ema, new_q
    single = scored.sum(axis=-1) == 1
    prev = np.asarray(score_ema, dtype=np.float64)
    return np.where(single[..., None], prev, new_ema), np.where(single, last, new_q)
