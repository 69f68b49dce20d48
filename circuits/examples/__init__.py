"""Small circuits, one per feature of the AIR interface: transitions and boundaries
(fibonacci), a lookup into a fixed table (range_check), a weighted multiset sum (multiset), and
public groups with the ledger's commitment shape (state_transition)."""

from .fibonacci import Fibonacci
from .multiset import Transfers
from .range_check import RangeCheck
from .state_transition import StateTransition

__all__ = ["Fibonacci", "RangeCheck", "StateTransition", "Transfers"]
