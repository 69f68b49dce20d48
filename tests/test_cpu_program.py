"""Row programs (kernels.program): the CPU's fused pass against Python ints and against the
whole-array reference, serial and parallel sizes, register reuse, and refused input."""

import numpy as np
import pytest

from kernels import get_backend
from kernels.errors import InvalidInput
from kernels.params import R_MODULUS
from kernels.program import RowProgram, run_with_arrays


@pytest.fixture(scope="module")
def be():
    return get_backend("cpu")


def sample_program():
    """w = (a·b' + 7 − (−c))·x''·a + (a·b' + 7)², with b' one row on and x'' (aux) five."""
    p = RowProgram()
    a, b, c, x = p.load(0), p.load(1, 1), p.load(2), p.load(3, 5)
    t = p.add(p.mul(a, b), p.const(7))
    u = p.sub(t, p.neg(c))
    w = p.add(p.mul(u, p.mul(x, a)), p.mul(t, t))
    p.mul(w, w)                                   # recorded but not an output: left out
    return p.compile([w, u, a])


def expected(cols, aux, length):
    ci = [cols[k] for k in range(3)]
    out = []
    for i in range(length):
        a, b, c, x = ci[0][i], ci[1][(i + 1) % length], ci[2][i], aux[(i + 5) % length]
        t = (a * b + 7) % R_MODULUS
        u = (t + c) % R_MODULUS
        out.append(((u * x * a + t * t) % R_MODULUS, u, a))
    return out


@pytest.mark.parametrize("length", [37, 1 << 13])      # one serial, one parallel (> SERIAL_MAX_WORK)
def test_program_matches_ints_and_array_reference(be, length):
    rng = np.random.default_rng(length)
    cols = be.fr.random(3 * length, rng).reshape(3, length, 4)
    aux = be.fr.random(length, rng).reshape(1, length, 4)
    prog = sample_program()
    assert prog.registers < len(prog.ops)         # registers are reused
    assert prog.columns == 4
    got = be.run_program(prog, cols, aux)
    assert got.shape == (3, length, 4)
    assert (got == run_with_arrays(be, prog, cols, aux)).all()
    rows = expected([be.fr.to_ints(cols[k]) for k in range(3)], be.fr.to_ints(aux[0]), length)
    for o in range(3):
        assert be.fr.to_ints(got[o]) == [r[o] for r in rows]


def test_constant_output_and_refused_input(be):
    p = RowProgram()
    k = p.const(R_MODULUS + 5)                    # reduced mod r
    prog = p.compile([k, p.load(0)])
    cols = be.fr.random(8, np.random.default_rng(1)).reshape(1, 8, 4)
    got = be.run_program(prog, cols)
    assert be.fr.to_ints(got[0]) == [5] * 8 and (got[1] == cols[0]).all()
    with pytest.raises(InvalidInput):
        be.run_program(p.compile([p.load(3)]), cols)          # reads a column not given
    with pytest.raises(InvalidInput):
        be.run_program(prog, cols, be.fr.zeros(4).reshape(1, 4, 4))   # aux of another length
    with pytest.raises(InvalidInput):
        p.add(k, 99)                                          # not a value of the program
    with pytest.raises(InvalidInput):
        p.compile([])
    with pytest.raises(InvalidInput):
        p.load(-1)
