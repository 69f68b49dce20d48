"""Straight-line Fr programs evaluated row by row: many element-wise operations as one pass.

A prover phase such as the quotient evaluates hundreds of additions and products per row of
its columns. Issued one array operation at a time, each costs a launch, a pass over memory and,
on a CPU, a parallel region (or one thread, when the arrays are small); the whole phase is then
bound by those fixed costs, and on a machine shared with other processes by the wait for a
descheduled thread at the end of every region. A `RowProgram` records the operations instead;
`Backend.run_program` evaluates all of them for every row in one pass, with one parallel
region on the CPU.

Operations (each defines one value): `load(column, offset)` reads column `column` at row
(i + offset) mod L, `const(c)`, `add`, `sub`, `mul`, `neg`. `compile(outputs)` assigns the values
to a few reusable registers (a value's register is freed after its last use) and returns the
encoded program.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InvalidInput
from .params import R_MODULUS

OP_LOAD, OP_CONST, OP_ADD, OP_SUB, OP_MUL, OP_NEG = range(6)
_BINARY = (OP_ADD, OP_SUB, OP_MUL)


@dataclass(frozen=True)
class CompiledProgram:
    """`ops` (m, 4) int64 rows (opcode, destination register, a, b): for a load a = column and
    b = row offset, for a constant a = index into `constants`, otherwise a and b are registers.
    `outputs` holds the register of each output, `registers` how many there are, `columns` how
    many input columns the loads read (their largest index + 1)."""

    ops: np.ndarray
    outputs: np.ndarray
    registers: int
    constants: tuple
    columns: int


class RowProgram:
    """A recorder of Fr operations on rows; values are small ints (handles)."""

    def __init__(self):
        self._ops: list[tuple[int, int, int]] = []
        self._loads: dict = {}
        self._consts: dict = {}
        self.constants: list[int] = []

    def _emit(self, op: int, a: int, b: int = 0) -> int:
        self._ops.append((op, a, b))
        return len(self._ops) - 1

    def _value(self, v: int) -> int:
        if not isinstance(v, int) or not 0 <= v < len(self._ops):
            raise InvalidInput(f"row program: {v!r} is not a value of this program")
        return v

    def load(self, column: int, offset: int = 0) -> int:
        if not isinstance(column, int) or column < 0 or not isinstance(offset, int) or offset < 0:
            raise InvalidInput(f"row program: load of column {column!r} at offset {offset!r}")
        key = (column, offset)
        if key not in self._loads:
            self._loads[key] = self._emit(OP_LOAD, column, offset)
        return self._loads[key]

    def const(self, value: int) -> int:
        value = int(value) % R_MODULUS
        if value not in self._consts:
            self.constants.append(value)
            self._consts[value] = self._emit(OP_CONST, len(self.constants) - 1)
        return self._consts[value]

    def add(self, a: int, b: int) -> int:
        return self._emit(OP_ADD, self._value(a), self._value(b))

    def sub(self, a: int, b: int) -> int:
        return self._emit(OP_SUB, self._value(a), self._value(b))

    def mul(self, a: int, b: int) -> int:
        return self._emit(OP_MUL, self._value(a), self._value(b))

    def neg(self, a: int) -> int:
        return self._emit(OP_NEG, self._value(a))

    def compile(self, outputs) -> CompiledProgram:
        """The program that computes `outputs` (values of this recorder), in registers."""
        outputs = [self._value(v) for v in outputs]
        if not outputs:
            raise InvalidInput("row program: no outputs")
        # Only what the outputs need, in recording order.
        needed = set(outputs)
        for k in range(len(self._ops) - 1, -1, -1):
            if k in needed:
                op, a, b = self._ops[k]
                if op in _BINARY:
                    needed.update((a, b))
                elif op == OP_NEG:
                    needed.add(a)
        order = sorted(needed)
        last_use = {k: k for k in order}
        for k in order:
            op, a, b = self._ops[k]
            for src in ((a, b) if op in _BINARY else (a,) if op == OP_NEG else ()):
                last_use[src] = k
        for v in outputs:
            last_use[v] = len(self._ops)      # outputs live to the end
        free: list[int] = []
        reg: dict = {}
        count = 0
        rows = []
        for k in order:
            op, a, b = self._ops[k]
            srcs = (a, b) if op in _BINARY else (a,) if op == OP_NEG else ()
            enc_a = reg[a] if srcs else a
            enc_b = reg[b] if op in _BINARY else b if op == OP_LOAD else 0
            for s in set(srcs):             # a source read for the last time frees its register
                if last_use[s] == k:
                    free.append(reg[s])
            if free:
                reg[k] = free.pop()
            else:
                reg[k] = count
                count += 1
            rows.append((op, reg[k], enc_a, enc_b))
            if last_use[k] == k:            # never read: its register is free at once
                free.append(reg[k])
        loads = [a for op, _, a, _ in rows if op == OP_LOAD]
        return CompiledProgram(ops=np.array(rows, dtype=np.int64).reshape(-1, 4),
                               outputs=np.array([reg[v] for v in outputs], dtype=np.int64),
                               registers=count, constants=tuple(self.constants),
                               columns=max(loads) + 1 if loads else 0)


def check_inputs(program: CompiledProgram, columns, aux, xp):
    """The input columns `(C, L, 4)` and `(A, L, 4)` (aux may be None) checked against the
    program; returns (columns, aux, L) with an empty aux when none was given."""
    if columns.ndim != 3 or columns.shape[-1] != 4:
        raise InvalidInput(f"run_program: columns must be (C, L, 4), got {columns.shape}")
    length = columns.shape[1]
    if aux is None:
        aux = xp.zeros((0, length, 4), dtype=xp.uint64)
    if aux.ndim != 3 or aux.shape[1:] != (length, 4):
        raise InvalidInput(f"run_program: aux must be (A, {length}, 4), got {aux.shape}")
    if program.columns > columns.shape[0] + aux.shape[0]:
        raise InvalidInput(f"run_program: the program reads {program.columns} columns, "
                           f"{columns.shape[0] + aux.shape[0]} given")
    if length == 0:
        raise InvalidInput("run_program: no rows")
    return columns, aux, length


def run_with_arrays(be, program: CompiledProgram, columns, aux=None):
    """The program run as whole-array operations of `be` (any backend): the reference that a
    backend's own `run_program` must agree with."""
    fr, xp = be.fr, be.xp
    columns, aux, length = check_inputs(program, columns, aux, xp)
    n_cols = columns.shape[0]
    consts = fr.from_ints(list(program.constants)) if program.constants else None
    regs: list = [None] * program.registers
    for op, dst, a, b in program.ops.tolist():
        if op == OP_LOAD:
            col = columns[a] if a < n_cols else aux[a - n_cols]
            v = xp.ascontiguousarray(xp.roll(col, -(b % length), axis=0)) if b % length else col
        elif op == OP_CONST:
            v = xp.ascontiguousarray(xp.broadcast_to(consts[a:a + 1], (length, 4)))
        elif op == OP_ADD:
            v = fr.add(regs[a], regs[b])
        elif op == OP_SUB:
            v = fr.sub(regs[a], regs[b])
        elif op == OP_MUL:
            v = fr.mul(regs[a], regs[b])
        elif op == OP_NEG:
            v = fr.neg(regs[a])
        else:
            raise InvalidInput(f"run_program: unknown opcode {op}")
        regs[dst] = v
    return xp.stack([regs[r] for r in program.outputs.tolist()])
