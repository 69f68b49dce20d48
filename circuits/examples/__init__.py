"""Small circuits, one per feature of the AIR interface: transitions and boundaries
(fibonacci), a lookup into a fixed table (range_check), a weighted multiset sum (multiset), and
public state groups as a rollup binds them (state_update, in its own module)."""

from .fibonacci import Fibonacci
from .multiset import Transfers
from .range_check import RangeCheck

__all__ = ["Fibonacci", "RangeCheck", "Transfers"]
