"""The token ledger: integer uallo balances, where every movement is a transfer.

Balances are exact integers (Python ``int`` in object arrays: MaxSupply is 1e27 uallo, beyond
int64). Tokens exist in three states, and only :meth:`Ledger.mint` moves them from the first:

* ``unminted`` — the ecosystem treasury's allowance the mint has not created yet (§9.1);
* ``locked`` — vesting allocations not yet unlocked (investors pre-seed, investors, team);
* account balances — everything else (agents, module accounts, allocations).

``Σ balances + Σ locked + unminted = MaxSupply`` holds after every operation
(:meth:`Ledger.check`); no balance ever goes negative — an operation that would make one negative
raises and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["Ledger", "LedgerError"]


class LedgerError(ValueError):
    """An operation that would break the ledger's invariants (nothing was changed)."""


def _as_int(x: object, what: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int | np.integer):
        if isinstance(x, float | np.floating) and float(x).is_integer():
            return int(x)
        raise LedgerError(f"{what} must be an integer amount of uallo, got {x!r}")
    return int(x)


def _int_amounts(amounts: Sequence[int] | np.ndarray) -> list[int]:
    """Amounts as a list of Python ints (exact), validating only what is not already one."""
    if isinstance(amounts, np.ndarray) and amounts.dtype.kind in "iu":
        return list(amounts.tolist())
    seq = amounts.tolist() if isinstance(amounts, np.ndarray) else list(amounts)
    if set(map(type, seq)) <= {int}:
        return seq
    return [_as_int(a, "amount") for a in seq]


def _totals(index: np.ndarray, amounts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct account in ``index``: the sum of its ``amounts`` (exact Python ints)."""
    if index.size and index.min() == index.max():  # one account (e.g. the rewards account)
        return index[:1], np.array([sum(amounts)], dtype=object)
    # all distinct (no summing needed): seen at once when ascending (agents' accounts in
    # topic and slot order), else by sorting
    distinct = index.size < 2 or bool((index[1:] > index[:-1]).all())
    if not distinct:
        keys = np.sort(index, kind="stable")
        distinct = bool((keys[1:] != keys[:-1]).all())
    if distinct:
        out = np.empty(len(amounts), dtype=object)
        out[:] = amounts
        return index, out
    acc: dict[int, int] = {}
    for i, a in zip(index.tolist(), amounts, strict=True):
        acc[i] = acc.get(i, 0) + a
    uniq = np.fromiter(acc.keys(), dtype=np.intp, count=len(acc))
    tot = np.empty(len(acc), dtype=object)
    tot[:] = list(acc.values())
    return uniq, tot


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
        self.balances = np.zeros(0, dtype=object)
        self._unallocated = self.max_supply
        self.minted_total = 0

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
        self.balances = np.concatenate([self.balances, np.array(amounts, dtype=object)])
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

    def balance(self, account: int | str) -> int:
        i = self.index[account] if isinstance(account, str) else account
        return int(self.balances[i])

    # movements ------------------------------------------------------------------------------

    def transfer(self, src: int, dst: int, amount: int) -> None:
        """Move ``amount`` uallo from ``src`` to ``dst``."""
        self.transfer_many(np.array([src]), np.array([dst]), [amount])

    def transfer_many(
        self, src: np.ndarray, dst: np.ndarray, amounts: Sequence[int] | np.ndarray
    ) -> None:
        """Move ``amounts[i]`` from ``src[i]`` to ``dst[i]`` for every i, all or nothing."""
        amt = _int_amounts(amounts)
        if not amt:
            return
        if min(amt) < 0:
            raise LedgerError("transfer amounts must be >= 0")
        src, dst = np.asarray(src, dtype=np.intp), np.asarray(dst, dtype=np.intp)
        if src.shape != (len(amt),) or dst.shape != (len(amt),):
            raise LedgerError(
                f"transfer_many needs one source and one destination per amount "
                f"({len(amt)}), got {src.shape} and {dst.shape}"
            )
        debit, credit = _totals(src, amt), _totals(dst, amt)
        bal = self.balances
        short = np.flatnonzero(bal[debit[0]] < debit[1])
        if short.size:
            i, d = int(debit[0][short[0]]), debit[1][short[0]]
            raise LedgerError(
                f"account {self.names[i]!r} would go negative: balance {bal[i]}, debits {d}"
            )
        bal[debit[0]] -= debit[1]
        bal[credit[0]] += credit[1]

    def mint(self, dst: int, amount: int) -> None:
        """Create ``amount`` new tokens from the unminted allowance into ``dst``."""
        amount = _as_int(amount, "mint amount")
        if amount < 0 or amount > self.unminted:
            raise LedgerError(
                f"mint of {amount} uallo exceeds the unminted allowance {self.unminted}"
            )
        self.unminted -= amount
        self.minted_total += amount
        self.balances[dst] += amount

    def unlock(self, group: str, dst: int, amount: int) -> None:
        """Release ``amount`` of a vesting group's locked tokens into ``dst``."""
        amount = _as_int(amount, "unlock amount")
        if amount < 0 or amount > self.locked.get(group, 0):
            raise LedgerError(
                f"unlock of {amount} from {group!r} exceeds its locked {self.locked.get(group, 0)}"
            )
        self.locked[group] -= amount
        self.balances[dst] += amount

    # invariants -----------------------------------------------------------------------------

    def total(self) -> int:
        """Σ balances + Σ locked + unminted + anything not yet allocated at genesis."""
        return (
            int(sum(self.balances))
            + sum(self.locked.values())
            + self.unminted
            + (self._unallocated)
        )

    def check(self) -> None:
        """Raise unless every token is accounted for and no balance is negative."""
        if self.total() != self.max_supply:
            raise LedgerError(f"supply mismatch: {self.total()} != {self.max_supply}")
        if (self.balances < 0).any():
            raise LedgerError("a balance is negative")
