"""Exact sums carried between calls: what "sum", "mean", RunningLoss and Dask add up.

The kernels return the exact total of the values they wrote as an expansion (src/fe_exact.h):
non-overlapping float64 partials whose exact sum is the total, with the infinities and NaNs
counted apart, and partial sums beyond the float64 range carried as a count of 2^1023.
`ExactSum` keeps that state, adds two of them exactly (Shewchuk's grow-expansion in Python
floats, which are IEEE doubles), and rounds once, correctly (`rounded`), when a value is
asked for.  Any split of the data, combined in any order, therefore gives the bits of the
one-shot call.
"""
import math
from fractions import Fraction

_UNIT = 2.0 ** 1023         # the carry's unit
_HALF = 2.0 ** 1022


def rounded(partials, carry=0):
    """The correctly rounded float64 of sum(partials) + carry * 2^1023 (+-inf beyond the
    range): math.fsum, or exact rationals when a carry is left (totals near the range's end,
    rare)."""
    if not carry:
        try:
            return math.fsum(partials)
        except OverflowError:     # fsum's own partial sums overflowed: the exact route
            pass
    total = sum(map(Fraction, partials), Fraction(int(carry)) * Fraction(_UNIT))
    try:
        return float(total)       # Fraction -> float is int / int: correctly rounded
    except OverflowError:
        return math.inf if total > 0 else -math.inf


class ExactSum:
    """The exact sum of float64 values.  `value()` is its correctly rounded float64; an
    infinite term gives +-inf, +inf together with -inf or any NaN gives NaN."""

    __slots__ = ("partials", "pinf", "ninf", "nan", "carry")

    def __init__(self, partials=(), pinf=0, ninf=0, nan=0, carry=0):
        self.partials = list(partials)
        self.pinf, self.ninf, self.nan, self.carry = int(pinf), int(ninf), int(nan), int(carry)

    @classmethod
    def of(cls, state):
        """From a kernel's state tuple (None: the empty sum)."""
        return cls() if state is None else cls(*state)

    @classmethod
    def of_value(cls, x):
        s = cls()
        s._add_float(float(x))
        return s

    def _add_float(self, x):
        x = float(x)
        if not math.isfinite(x):
            if math.isnan(x):
                self.nan += 1
            elif x > 0:
                self.pinf += 1
            else:
                self.ninf += 1
            return
        partials, i = self.partials, 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            if not math.isfinite(hi):     # 2^1023 off x (and y) into the carry, as in C
                unit = math.copysign(_UNIT, x)
                both = abs(y) >= _HALF
                x -= unit
                if both:
                    y -= unit
                self.carry += (1 if unit > 0 else -1) * (2 if both else 1)
                if abs(x) < abs(y):
                    x, y = y, x
                hi = x + y
            lo = y - (hi - x)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        partials[i:] = [x]

    @classmethod
    def sum(cls, sums):
        """A new exact sum of several exact sums."""
        total = cls()
        for s in sums:
            total.add(s)
        return total

    def add(self, other):
        """self += other, exactly; returns self."""
        for x in other.partials:
            self._add_float(x)
        self.pinf += other.pinf
        self.ninf += other.ninf
        self.nan += other.nan
        self.carry += other.carry
        return self

    def value(self):
        if self.nan or (self.pinf and self.ninf):
            return math.nan
        if self.pinf:
            return math.inf
        if self.ninf:
            return -math.inf
        return rounded(self.partials, self.carry)

    def state(self):
        """Plain numbers (JSON-safe: floats round-trip exactly through repr)."""
        return [list(self.partials), self.pinf, self.ninf, self.nan, self.carry]

    def copy(self):
        return ExactSum(self.partials, self.pinf, self.ninf, self.nan, self.carry)

    def __repr__(self):
        return f"ExactSum({self.value()!r})"
