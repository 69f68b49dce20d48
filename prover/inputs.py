"""The statement's inputs as the protocol reads them: the public inputs, checked and in
declaration order. Shared by the prover and the verifier."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from kernels.params import R_MODULUS

from .air import Air
from .errors import InvalidInput


def public_input_values(air: Air, public_inputs) -> list[int]:
    """Public inputs as a list in declaration order, each checked to lie in [0, r)."""
    if isinstance(public_inputs, Mapping):
        if set(public_inputs) != set(air.public_inputs):
            raise InvalidInput(f"{air.name} takes public inputs {list(air.public_inputs)}, "
                               f"got {sorted(public_inputs)}")
        values = [public_inputs[k] for k in air.public_inputs]
    else:
        values = list(public_inputs)
    if len(values) != len(air.public_inputs):
        raise InvalidInput(f"{air.name} takes {len(air.public_inputs)} public inputs, got {len(values)}")
    out = []
    for name, v in zip(air.public_inputs, values):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not 0 <= int(v) < R_MODULUS:
            raise InvalidInput(f"public input {name!r} must be an int in [0, r), got {v!r}")
        out.append(int(v))
    return out
