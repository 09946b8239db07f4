"""The token ledger: integer uallo balances, where every movement is a transfer.

Balances are exact integers. MaxSupply is 1e27 uallo, beyond int64, so the balances are one
:class:`~allora_sim.core.uallo.Uallo` — two int64 limbs, whole ALLO and the uallo below one ALLO
(``balance = hi·10^18 + lo``, ``0 ≤ lo < 10^18``) — and a transfer is exact integer arithmetic
on whole arrays, carries and borrows included (a transfer of a few amounts uses Python ints:
cheaper than the array calls). :attr:`Ledger.balances` shows them as Python ``int``. Tokens
exist in three states, and only :meth:`Ledger.mint` moves them from the first:

* ``unminted`` — the ecosystem treasury's allowance the mint has not created yet (§9.1);
* ``locked`` — vesting allocations not yet unlocked (investors pre-seed, investors, team);
* account balances — everything else (agents, module accounts, allocations).

``Σ balances + Σ locked + unminted = MaxSupply`` holds after every operation
(:meth:`Ledger.check`); no balance ever goes negative — an operation that would make one negative
raises and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise

import numpy as np

from allora_sim.core.uallo import BASE, Uallo

__all__ = ["Ledger", "LedgerError"]


_FEW = 8  # up to this many amounts a transfer is cheaper with Python ints than with limb arrays


class LedgerError(ValueError):
    """An operation that would break the ledger's invariants (nothing was changed)."""


_ONE_LIMB_END = 2**63 * BASE  # amounts whose whole ALLO fit one int64


def _as_int(x: object, what: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int | np.integer):
        if isinstance(x, float | np.floating) and float(x).is_integer():
            return int(x)
        raise LedgerError(f"{what} must be an integer amount of uallo, got {x!r}")
    return int(x)


def _amounts(amounts: int | Sequence[int] | np.ndarray | Uallo, what: str = "amount") -> Uallo:
    """Non-negative integer amounts as a flat :class:`Uallo`, validating each value that is not
    already an integer."""
    if type(amounts) is int and 0 <= amounts < _ONE_LIMB_END:  # one amount (a fee): no lists
        hi, lo = divmod(amounts, BASE)
        return Uallo(np.array([hi]), np.array([lo]))
    if isinstance(amounts, Uallo):
        out = Uallo(amounts.hi.ravel(), amounts.lo.ravel())
        smallest = out.hi.min() if out.hi.size else 0
    elif isinstance(amounts, np.ndarray) and amounts.dtype.kind == "i":
        a = amounts.astype(np.int64, copy=False).ravel()
        smallest = a.min() if a.size else 0
        out = Uallo.of_int64(a)
    else:
        if isinstance(amounts, np.ndarray):
            seq = amounts.ravel().tolist()
        elif isinstance(amounts, int | np.integer | float):
            seq = [amounts]
        else:
            seq = list(amounts)
        if not set(map(type, seq)) <= {int}:
            seq = [_as_int(x, what) for x in seq]
        if min(seq, default=0) < 0:
            raise _negative(what)
        return Uallo.of_ints(seq)
    if smallest < 0:
        raise _negative(what)
    return out


def _ascending(index: np.ndarray) -> bool:
    """Whether the 1-D ``index`` is strictly ascending (hence without repeats)."""
    return index.size < 2 or bool((index[1:] > index[:-1]).all())


def _negative(what: str) -> LedgerError:
    return LedgerError(f"transfer {what}s must be >= 0")


def _no_account(index: int, n: int) -> LedgerError:
    return LedgerError(f"no account {index}: accounts are 0..{n - 1}")


def _overdraw(name: str, balance: int, debits: int) -> LedgerError:
    return LedgerError(f"account {name!r} would go negative: balance {balance}, debits {debits}")


def _totals(index: np.ndarray, amounts: Uallo) -> tuple[np.ndarray, Uallo]:
    """Per distinct account in ``index``: the exact sum of its amounts."""
    if index.size and index.min() == index.max():  # one account (e.g. the rewards account)
        return index[:1], amounts.sum_runs(np.zeros(1, dtype=np.intp))
    # all distinct (no summing needed): seen at once when ascending (agents' accounts in
    # topic and slot order), else by sorting
    if _ascending(index):
        return index, amounts
    order = np.argsort(index, kind="stable")
    keys = index[order]
    new = np.empty(keys.size, dtype=bool)
    new[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    if new.all():
        return index, amounts
    starts = np.flatnonzero(new)
    return keys[starts], amounts[order].sum_runs(starts)


class Ledger:
    """Accounts with integer balances; see the module docstring for the invariants."""

    def __init__(self, max_supply: int) -> None:
        self.max_supply = _as_int(max_supply, "max_supply")
        if self.max_supply <= 0:
            raise LedgerError(f"max_supply must be > 0, got {max_supply!r}")
        self.unminted = 0
        self.locked: dict[str, int] = {}
        self.names: list[str] = []
        self.index: dict[str, int] = {}
        self.held = Uallo(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        self._unallocated = self.max_supply
        self.minted_total = 0

    @property
    def balances(self) -> np.ndarray:
        """Every account's balance in uallo (a fresh object array of Python ``int``)."""
        out = np.empty(self.held.hi.size, dtype=object)
        out[:] = self.held.ints()
        return out

    # accounts -------------------------------------------------------------------------------

    def open(self, name: str, balance: int = 0) -> int:
        """Open an account funded from the genesis allocation; returns its index."""
        return int(self.open_many([name], [balance])[0])

    def open_many(self, names: Sequence[str], balances: Iterable[int] | None = None) -> np.ndarray:
        """Open accounts at genesis (funded from the supply not yet allocated)."""
        amounts = (
            [0] * len(names)
            if balances is None
            else [
                _as_int(b, f"genesis balance of {n}") for n, b in zip(names, balances, strict=True)
            ]
        )
        if any(a < 0 for a in amounts):
            raise LedgerError("genesis balances must be >= 0")
        if sum(amounts) > self._unallocated:
            raise LedgerError(
                f"genesis balances ({sum(amounts)}) exceed the unallocated supply "
                f"({self._unallocated})"
            )
        for n in names:
            if n in self.index:
                raise LedgerError(f"account {n!r} already exists")
        start = len(self.names)
        for i, n in enumerate(names):
            self.index[n] = start + i
            self.names.append(n)
        new = Uallo.of_ints(amounts)
        self.held = Uallo(
            np.concatenate([self.held.hi, new.hi]), np.concatenate([self.held.lo, new.lo])
        )
        self._unallocated -= sum(amounts)
        return np.arange(start, start + len(names))

    def set_genesis_pools(self, unminted: int, locked: dict[str, int]) -> None:
        """Assign the unminted treasury allowance and the locked vesting amounts at genesis;
        whatever is still unallocated afterwards must be zero (every token is accounted for)."""
        unminted = _as_int(unminted, "unminted")
        locked = {k: _as_int(v, f"locked[{k}]") for k, v in locked.items()}
        total = unminted + sum(locked.values())
        if unminted < 0 or any(v < 0 for v in locked.values()) or total != self._unallocated:
            raise LedgerError(
                f"genesis pools ({total}) must equal the unallocated supply ({self._unallocated})"
            )
        self.unminted = unminted
        self.locked = dict(locked)
        self._unallocated = 0

    # reading --------------------------------------------------------------------------------

    def balance(self, account: int | str) -> int:
        i = self.index[account] if isinstance(account, str) else account
        return int(self.held.hi[i]) * BASE + int(self.held.lo[i])

    def range_totals(self, ranges: Sequence[tuple[int, int]]) -> list[int]:
        """The exact sum of the balances of each range ``[start, stop)`` of accounts (ranges
        that do not overlap, e.g. one role's accounts, opened together): one pass over the
        accounts they span, without gathering them."""
        n = self.held.hi.size
        for a, b in ranges:
            if not 0 <= a <= b <= n:
                raise LedgerError(f"account range {a}..{b} is not within accounts 0..{n}")
        used = [(a, b) for a, b in ranges if b > a]
        if not used:
            return [0] * len(ranges)
        ordered = sorted(used)
        for (a, b), (c, d) in pairwise(ordered):
            if c < b:
                raise LedgerError(f"account ranges {a}..{b} and {c}..{d} overlap")
        lo, hi = ordered[0][0], max(b for _, b in used)
        if hi - lo <= 128:  # a few accounts (one small topic): Python ints beat the limb sums
            h, low = self.held.hi[lo:hi].tolist(), self.held.lo[lo:hi].tolist()
            return [sum(h[a - lo : b - lo]) * BASE + sum(low[a - lo : b - lo]) for a, b in ranges]
        # runs between every boundary: each range is one of them (no boundary falls inside it)
        bounds = sorted({lo, *(a for a, _ in used), *(b for _, b in used if b < hi)})
        sums = self.held[lo:hi].sum_runs(np.array(bounds) - lo).ints()
        run_of = dict(zip(bounds, sums, strict=True))
        return [int(run_of[a]) if b > a else 0 for a, b in ranges]

    def allo(self, accounts: np.ndarray | slice) -> np.ndarray:
        """Balances of ``accounts`` (an index array of any shape, or a slice of the accounts)
        in ALLO, as float64 (``hi + lo/10^18``)."""
        return self.held.hi[accounts] + self.held.lo[accounts] / float(BASE)

    # movements ------------------------------------------------------------------------------

    def transfer(self, src: int, dst: int, amount: int) -> None:
        """Move ``amount`` uallo from ``src`` to ``dst`` (Python ints: one amount needs no
        arrays)."""
        amount = _as_int(amount, "amount")
        if amount < 0:
            raise _negative("amount")
        self._transfer_few([int(src)], [int(dst)], [amount])

    def transfer_many(
        self, src: np.ndarray, dst: np.ndarray, amounts: Sequence[int] | np.ndarray | Uallo
    ) -> None:
        """Move ``amounts[i]`` from ``src[i]`` to ``dst[i]`` for every i, all or nothing."""
        amt = _amounts(amounts)
        if not amt.hi.size:
            return
        src, dst = np.asarray(src, dtype=np.intp), np.asarray(dst, dtype=np.intp)
        if src.shape != amt.shape or dst.shape != amt.shape:
            raise LedgerError(
                f"transfer_many needs one source and one destination per amount "
                f"({amt.hi.size}), got {src.shape} and {dst.shape}"
            )
        if amt.hi.size <= _FEW:
            self._transfer_few(src.tolist(), dst.tolist(), amt.ints())
            return
        self._accounts(src)
        self._accounts(dst)
        debit, debits = _totals(src, amt)
        credit, credits = _totals(dst, amt)
        held = self.held[debit]
        short = np.flatnonzero(held.below(debits))
        if short.size:
            i = int(debit[short[0]])
            raise _overdraw(self.names[i], self.balance(i), debits[short[:1]].total())
        # debits, then credits (an account can be both: the credit sees the debited balance)
        self._set(debit, held.minus(debits))
        self._set(credit, self.held[credit].plus(credits))

    def pay_from(
        self, src: int, dst: np.ndarray, amounts: Sequence[int] | np.ndarray | Uallo
    ) -> None:
        """:meth:`transfer_many` from one account (payouts, genesis funding): its total is
        debited as one Python int, then every destination credited, all or nothing."""
        amt = _amounts(amounts)
        if not amt.hi.size:
            return
        dst = np.asarray(dst, dtype=np.intp)
        if dst.shape != amt.shape:
            raise LedgerError(
                f"pay_from needs one destination per amount ({amt.hi.size}), got {dst.shape}"
            )
        if amt.hi.size <= _FEW:
            self._transfer_few([src] * amt.hi.size, dst.tolist(), amt.ints())
            return
        self._account(src)
        ascending = dst.ndim == 1 and _ascending(dst)  # distinct: nothing to sum per account
        if ascending:  # its ends bound it
            self._account(int(dst[0]))
            self._account(int(dst[-1]))
        else:
            self._accounts(dst)
        total, balance = amt.total(), self.balance(src)
        if balance < total:
            raise _overdraw(self.names[src], balance, total)
        # the debit, then the credits (``src`` may be among them and sees the debited balance)
        self._put(src, balance - total)
        if ascending and int(dst[-1]) - int(dst[0]) == dst.size - 1:
            # a range of accounts (e.g. every worker's): credited in place, on slices
            span = slice(int(dst[0]), int(dst[-1]) + 1)
            hi, lo = self.held.hi[span], self.held.lo[span]
            lo += amt.lo
            carry = lo >= BASE
            lo -= carry * BASE
            hi += amt.hi
            hi += carry
            return
        credit, credits = (dst, amt) if ascending else _totals(dst, amt)
        self._set(credit, self.held[credit].plus(credits))

    def collect(
        self, src: np.ndarray, amounts: int | Sequence[int] | np.ndarray | Uallo, dst: int
    ) -> np.ndarray:
        """Fees from many payers to one account: each account of ``src`` that holds at least its
        amount (one amount for all, or one each) pays it to ``dst``; returns who could afford
        theirs. An account named twice goes through :meth:`transfer_many` (all or nothing over
        its debits)."""
        src = np.asarray(src, dtype=np.intp)
        self._account(dst)
        if type(amounts) is int and 0 < amounts < BASE and src.ndim == 1 and _ascending(src):
            if src.size:  # ascending: its ends bound it
                self._account(int(src[0]))
                self._account(int(src[-1]))
            return self._collect_fee(src, amounts, dst)
        self._accounts(src)  # before any payer is debited
        need = _amounts(amounts)
        one = need.hi.size == 1
        if one:
            need = need[0]
        elif need.shape != src.shape:
            raise LedgerError(f"collect needs one amount, or one per payer ({src.size})")
        held = self.held[src]
        can = ~held.below(need)
        pay = can & ((need.hi > 0) | (need.lo > 0))
        if not pay.any():
            return can
        payers = src[pay]
        debits = need if one else need[pay]
        if not _ascending(payers):
            if np.unique(payers).size < payers.size:
                if one:
                    debits = Uallo(np.full(payers.size, need.hi), np.full(payers.size, need.lo))
                self.transfer_many(payers, np.full(payers.size, dst), debits)
                return can
        # debits, then the credit (``dst`` may be one of the payers)
        self._set(payers, held[pay].minus(debits))
        total = (int(need.hi) * BASE + int(need.lo)) * payers.size if one else debits.total()
        self._credit(dst, total)
        return can

    def _collect_fee(self, src: np.ndarray, fee: int, dst: int) -> np.ndarray:
        """:meth:`collect` of one amount below one ALLO (a fee) from distinct accounts in
        ascending order: only the low limb moves, with a borrow from the whole ALLO. Payers
        that are one range of accounts (every agent of a role paying) are read and written as
        a slice of the limbs."""
        n = src.size
        if n and int(src[-1]) - int(src[0]) == n - 1:  # ascending and distinct: a range
            span = slice(int(src[0]), int(src[-1]) + 1)
            hi, lo = self.held.hi[span], self.held.lo[span]  # views
            can = (hi > 0) | (lo >= fee)
            if can.all():
                lo -= fee
                borrow = lo < 0
                lo += borrow * BASE
                hi -= borrow
                self._credit(dst, fee * n)
                return can
        hi, lo = self.held.hi[src], self.held.lo[src]
        can = (hi > 0) | (lo >= fee)
        if not can.all():
            src, hi, lo = src[can], hi[can], lo[can]
        lo -= fee
        borrow = lo < 0
        lo += borrow * BASE
        hi -= borrow
        self.held.hi[src], self.held.lo[src] = hi, lo
        self._credit(dst, fee * src.size)
        return can

    def _transfer_few(self, src: list[int], dst: list[int], amounts: list[int]) -> None:
        """:meth:`transfer_many` of a few amounts with Python ints (same checks and order)."""
        for a in (*src, *dst):
            self._account(a)
        debit: dict[int, int] = {}
        for s, a in zip(src, amounts, strict=True):
            debit[s] = debit.get(s, 0) + a
        for s, d in debit.items():
            if self.balance(s) < d:
                raise _overdraw(self.names[s], self.balance(s), d)
        for s, d in debit.items():
            self._put(s, self.balance(s) - d)
        for d, a in zip(dst, amounts, strict=True):
            self._put(d, self.balance(d) + a)

    def _put(self, account: int, value: int) -> None:
        self.held.hi[account], self.held.lo[account] = divmod(value, BASE)

    def _set(self, accounts: np.ndarray, values: Uallo) -> None:
        self.held.hi[accounts] = values.hi
        self.held.lo[accounts] = values.lo

    def _account(self, index: int) -> int:
        """``index`` if it names an account (numpy would wrap a negative one), else an error."""
        if not 0 <= index < self.held.hi.size:
            raise _no_account(index, self.held.hi.size)
        return index

    def _accounts(self, index: np.ndarray) -> None:
        """:meth:`_account` for an array of accounts."""
        n = self.held.hi.size
        if index.size and (index.min() < 0 or index.max() >= n):
            raise _no_account(int(index[(index < 0) | (index >= n)][0]), n)

    def _credit(self, dst: int, amount: int) -> None:
        self._put(self._account(dst), self.balance(dst) + amount)

    def mint(self, dst: int, amount: int) -> None:
        """Create ``amount`` new tokens from the unminted allowance into ``dst``."""
        amount = _as_int(amount, "mint amount")
        if amount < 0 or amount > self.unminted:
            raise LedgerError(
                f"mint of {amount} uallo exceeds the unminted allowance {self.unminted}"
            )
        self._credit(dst, amount)  # first: a bad account changes nothing
        self.unminted -= amount
        self.minted_total += amount

    def unlock(self, group: str, dst: int, amount: int) -> None:
        """Release ``amount`` of a vesting group's locked tokens into ``dst``."""
        amount = _as_int(amount, "unlock amount")
        if amount < 0 or amount > self.locked.get(group, 0):
            raise LedgerError(
                f"unlock of {amount} from {group!r} exceeds its locked {self.locked.get(group, 0)}"
            )
        self._credit(dst, amount)  # first: a bad account changes nothing
        self.locked[group] -= amount

    # invariants -----------------------------------------------------------------------------

    def total(self) -> int:
        """Σ balances + Σ locked + unminted + anything not yet allocated at genesis."""
        return self.held.total() + sum(self.locked.values()) + self.unminted + self._unallocated

    def check(self) -> None:
        """Raise unless every token is accounted for and no balance is negative."""
        if self.total() != self.max_supply:
            raise LedgerError(f"supply mismatch: {self.total()} != {self.max_supply}")
        lo = self.held.lo
        if (self.held.hi < 0).any() or ((lo < 0) | (lo >= BASE)).any():
            raise LedgerError("a balance is negative")
