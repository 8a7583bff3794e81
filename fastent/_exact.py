"""Exact sums carried between calls: what "sum", "mean", RunningLoss and Dask add up.

The kernels return the exact total of the values they wrote as an expansion (src/fe_exact.h):
non-overlapping float64 partials whose exact sum is the total, with the infinities and NaNs
counted apart.  `ExactSum` keeps that state, adds two of them exactly (Shewchuk's
grow-expansion in Python floats, which are IEEE doubles), and rounds once, correctly
(math.fsum of the partials), when a value is asked for.  Any split of the data, combined in
any order, therefore gives the bits of the one-shot call.
"""
import math


class ExactSum:
    """The exact sum of float64 values.  `value()` is its correctly rounded float64; an
    infinite term gives +-inf, +inf together with -inf or any NaN gives NaN."""

    __slots__ = ("partials", "pinf", "ninf", "nan", "ovf")

    def __init__(self, partials=(), pinf=0, ninf=0, nan=0, ovf=0):
        self.partials = list(partials)
        self.pinf, self.ninf, self.nan, self.ovf = int(pinf), int(ninf), int(nan), int(ovf)

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
            lo = y - (hi - x)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        if not math.isfinite(x):          # the exact total left the float64 range
            self.ovf = self.ovf or (1 if x > 0 else -1)
            del partials[:]
            return
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
        self.ovf = self.ovf or other.ovf
        return self

    def value(self):
        if self.nan or (self.pinf and self.ninf):
            return math.nan
        if self.pinf:
            return math.inf
        if self.ninf:
            return -math.inf
        if self.ovf:
            return math.copysign(math.inf, self.ovf)
        return math.fsum(self.partials)

    def state(self):
        """Plain numbers (JSON-safe: floats round-trip exactly through repr)."""
        return [list(self.partials), self.pinf, self.ninf, self.nan, self.ovf]

    def copy(self):
        return ExactSum(self.partials, self.pinf, self.ninf, self.nan, self.ovf)

    def __repr__(self):
        return f"ExactSum({self.value()!r})"
