"""Row programs (kernels.program) on the CPU: one numba pass over the rows.

Rows are taken in batches of BATCH: each operation of the program runs over the whole batch
before the next one, so its dispatch is paid once per batch and the products of different rows
(independent of each other) overlap in the core instead of waiting on one another. The
registers of a batch (registers × BATCH elements) stay in the L1/L2 cache. Batches are the
parallel loop's tasks, handed out one at a time (threads.one_task_at_a_time): the whole program
is one parallel region.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..errors import InvalidInput
from ..params import R_MODULUS
from ..program import OP_ADD, OP_CONST, OP_LOAD, OP_MUL, OP_NEG, OP_SUB, CompiledProgram, check_inputs
from . import mont
from .field import serial_twin
from .threads import one_task_at_a_time

FR = mont.modulus_tuple(R_MODULUS)
BATCH = 64
# Work (rows × operations) up to which the program runs on the calling thread alone.
SERIAL_MAX_WORK = 1 << 16


def _run(ops, outputs, registers, columns, aux, consts, out, batch):
    length = columns.shape[1]
    n_cols = columns.shape[0]
    tasks = (length + batch - 1) // batch
    for t in prange(tasks):
        lo = t * batch
        rows = min(length, lo + batch) - lo
        regs = np.empty((registers * batch, 4), dtype=np.uint64)
        for k in range(ops.shape[0]):
            op = ops[k, 0]
            d = ops[k, 1] * batch
            a = ops[k, 2]
            b = ops[k, 3]
            if op == OP_LOAD:
                for r in range(rows):
                    j = (lo + r + b) % length
                    if a < n_cols:
                        for limb in range(4):
                            regs[d + r, limb] = columns[a, j, limb]
                    else:
                        for limb in range(4):
                            regs[d + r, limb] = aux[a - n_cols, j, limb]
            elif op == OP_CONST:
                for r in range(rows):
                    for limb in range(4):
                        regs[d + r, limb] = consts[a, limb]
            elif op == OP_MUL:
                a *= batch
                b *= batch
                for r in range(rows):
                    mont.store(regs, d + r, mont.mul(mont.load(regs, a + r), mont.load(regs, b + r), FR))
            elif op == OP_ADD:
                a *= batch
                b *= batch
                for r in range(rows):
                    mont.store(regs, d + r, mont.add(mont.load(regs, a + r), mont.load(regs, b + r), FR))
            elif op == OP_SUB:
                a *= batch
                b *= batch
                for r in range(rows):
                    mont.store(regs, d + r, mont.sub(mont.load(regs, a + r), mont.load(regs, b + r), FR))
            else:  # OP_NEG (opcodes were checked before the call)
                a *= batch
                for r in range(rows):
                    mont.store(regs, d + r, mont.neg(mont.load(regs, a + r), FR))
        for o in range(outputs.shape[0]):
            src = outputs[o] * batch
            for r in range(rows):
                for limb in range(4):
                    out[o, lo + r, limb] = regs[src + r, limb]


_run_parallel = njit(parallel=True, cache=True)(_run)
_run_serial = serial_twin(_run)


def run_program(fr, program: CompiledProgram, columns, aux=None):
    """`(outputs, L, 4)`: the program's outputs for every row of the `(C, L, 4)` columns and the
    `(A, L, 4)` aux columns (loads index them as one list, columns first)."""
    columns = np.ascontiguousarray(columns, dtype=np.uint64)
    aux = None if aux is None else np.ascontiguousarray(aux, dtype=np.uint64)
    columns, aux, length = check_inputs(program, columns, aux, np)
    ops = np.ascontiguousarray(program.ops, dtype=np.int64)
    if ops.ndim != 2 or ops.shape[1] != 4 or ops.shape[0] == 0 or ops[:, 0].min() < OP_LOAD or ops[:, 0].max() > OP_NEG:
        raise InvalidInput("run_program: a malformed program")
    consts = fr.from_ints(list(program.constants)) if program.constants else np.zeros((1, 4), dtype=np.uint64)
    outputs = np.ascontiguousarray(program.outputs, dtype=np.int64)
    out = np.empty((outputs.shape[0], length, 4), dtype=np.uint64)
    if length * ops.shape[0] <= SERIAL_MAX_WORK:
        _run_serial(ops, outputs, program.registers, columns, aux, consts, out, BATCH)
    else:
        with one_task_at_a_time():
            _run_parallel(ops, outputs, program.registers, columns, aux, consts, out, BATCH)
    return out
