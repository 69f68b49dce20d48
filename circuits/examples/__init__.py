"""Small circuits, one per feature of the AIR interface: transitions and boundaries
(fibonacci), a lookup into a fixed table (range_check), and a weighted multiset sum (multiset)."""

from .fibonacci import Fibonacci
from .multiset import Transfers
from .range_check import RangeCheck

__all__ = ["Fibonacci", "RangeCheck", "Transfers"]
