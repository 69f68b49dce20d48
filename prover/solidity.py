"""Solidity verifier generation: the verifier of prover.verify, for one verification key, as a
Solidity source with the key's values written in as constants.

Generated rather than parametrized at deployment because every constant read from code costs
3 gas where a storage read costs 2100: the fixed pack's commitment, [τ]₂, the domain and the
digest are all literals. The body is one inline-assembly block, written by a short sequence of
emitters that follow prover/verify.py step by step (docs/protocol.md §6):

1. public inputs and every claimed evaluation below r, W's y below p (W enters negated);
2. the Keccak transcript over the calldata, along the one schedule (prover.schedule);
3. the constraints at ζ, folded by prover.fold over Yul expressions (addmod/mulmod over the
   claimed evaluations), checked against the quotient chunks' values cross-multiplied (no
   inversion); the values Z_t(z) and their one batched inversion (the modexp precompile 0x05).
   A proof failing any of these reverts here, before the expensive part;
4. [L] = Σ_g s_g·[P_g] − e·G1 − W: one ecMul (0x07) and ecAdd (0x06) per commitment group and
   one for G1, whatever the number of columns;
5. one pairing equation of two pairings (0x08), with one more ecMul for z·W'.

Points of the proof are validated by the precompiles themselves: 0x06 and 0x07 fail on a
coordinate not below p or a point off the curve, and every point of the proof passes through
one of them. Scratch memory lives at fixed addresses from 0x80, so the verifier must run before
its caller allocates memory (it checks, and leaves the free-memory pointer past its region).

Only string templating here: the prover layer imports nothing of the EVM.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kernels.params import P_MODULUS, R_MODULUS

from . import schedule
from .air import Add, Air, Column, Mul, Neg, PublicInput, Sub, compile_air
from .errors import InvalidCircuit
from .fold import fold_constraints, horner, quotient_identity
from .groups import claims, commitment_groups, evaluation_slots
from .keccak import keccak256
from .keys import VerificationKey, check_circuit
from .polynomials import Domain
from .proof import proof_shape
from .schedule import Message
from .srs import G2_GENERATOR
from .state_layout import StateLayout
from .transcript import DOMAIN_SEPARATOR
from .types import ChallengeName, ColumnKind, GroupKind, Selector

SOLIDITY_PRAGMA = "0.8.28"
# The moduli live in the scratch words at 0x00 and 0x20 and are read with mload: solc's
# constant optimizer otherwise turns every repeated 32-byte literal into a CODECOPY sequence
# (about 35 gas per use instead of 6).
_R = "mload(0x00)"
_P = "mload(0x20)"
_INVALID_PROOF = keccak256(b"InvalidProof()")[:4].hex()
# A publishing circuit's data: the proof's bytes past its fixed part (docs/protocol.md §5, §10).
_DATA_OFFSET = "add(proof.offset, PROOF_LENGTH)"
_DATA_LENGTH = "sub(proof.length, PROOF_LENGTH)"


@dataclass
class _Memory:
    """Fixed scratch addresses, handed out in order."""

    top: int = 0x80
    named: dict = field(default_factory=dict)

    def alloc(self, size: int) -> int:
        addr = self.top
        self.top += size
        return addr

    def slot(self, name: str) -> int:
        if name not in self.named:
            self.named[name] = self.alloc(32)
        return self.named[name]


def _h(v: int) -> str:
    return hex(v)


class _YulAlgebra:
    """Field arithmetic as Yul expressions, for prover.fold. A subtree used more than once is
    computed once into a memory slot (`share`), as is every running sum (`keep`); every leaf is
    an mload from the copied proof or a literal, so no Yul variable is ever referenced inside an
    expression (no stack-too-deep, whatever the depth)."""

    def __init__(self, mem: _Memory, lines: list[str], exprs):
        self.mem, self.lines = mem, lines
        self.uses: dict[int, int] = {}
        self.keep_alive: list = []
        for e in exprs:
            self._count(e)

    def _count(self, e) -> None:
        k = id(e)
        self.uses[k] = self.uses.get(k, 0) + 1
        self.keep_alive.append(e)
        if self.uses[k] == 1:
            for child in ((e.a, e.b) if isinstance(e, (Add, Sub, Mul)) else (e.a,) if isinstance(e, Neg) else ()):
                self._count(child)

    def const(self, v: int) -> str:
        return _h(v % R_MODULUS)

    def add(self, a: str, b: str) -> str:
        return f"addmod({a}, {b}, {_R})"

    def sub(self, a: str, b: str) -> str:
        return f"addmod({a}, sub({_R}, {b}), {_R})"

    def mul(self, a: str, b: str) -> str:
        return f"mulmod({a}, {b}, {_R})"

    def neg(self, a: str) -> str:
        # Neg and Sub of a zero operand leave r itself; every consumer reduces mod r (addmod,
        # mulmod) and the sums are reduced, so r acts as 0.
        return f"sub({_R}, {a})"

    def share(self, e, v: str) -> str:
        if self.uses.get(id(e), 0) > 1 or len(v) > 2000:
            return self.keep(v, f"t{id(e)}")
        return v

    def keep(self, v: str, name: str) -> str:
        addr = _h(self.mem.slot(name))
        self.lines.append(f"mstore({addr}, {v})")
        return f"mload({addr})"


@dataclass
class _Verifier:
    """What the emitters share: the key's shape, the memory map and the code written so far."""

    air: Air
    vk: VerificationKey
    mem: _Memory = field(default_factory=_Memory)
    body: list = field(default_factory=list)

    def __post_init__(self):
        self.cs = compile_air(self.air)
        try:
            check_circuit(self.cs, self.vk)
        except InvalidCircuit:
            raise InvalidCircuit(f"the verification key is not for circuit {self.air.name!r}") from None
        self.dom = Domain(self.vk.log2_n)
        self.groups = commitment_groups(self.cs, self.dom.n)
        self.shape = proof_shape(self.vk)
        self.npub = self.vk.num_public_inputs
        self.at_zeta, self.at_next = evaluation_slots(self.groups)
        committed = [gi for gi, g in enumerate(self.groups) if g.kind != GroupKind.FIXED]
        self.com_off = {gi: 64 * i for i, gi in enumerate(committed)}  # group → its commitment's offset
        self.off_w = self.shape.off_openings
        mem = self.mem
        self.acc = mem.alloc(0x40)          # ACC: the running sum [L]
        self.mul_in = mem.alloc(0x60)       # ecMul input; its output overwrites the first 64 bytes,
        # so that ACC ‖ output is the ecAdd input.
        self.pair_in = mem.alloc(0x180)     # the pairing's input; before it, the modexp's
        for name in ChallengeName:
            mem.slot(str(name))
        for name in ("zeta_omega", "zn", "zh", "dfirst", "dlast", "apow", "e"):
            mem.slot(name)
        for sel in Selector:
            mem.slot(f"acc_{sel}")
        self.pub_mem = mem.alloc(32 * self.npub)
        self.proof_mem = mem.alloc(self.shape.length)

    def add(self, line: str) -> None:
        self.body.append(line)

    def pm(self, off: int) -> str:
        """A word of the copied proof."""
        return f"mload({_h(self.proof_mem + off)})"

    def s(self, name) -> str:
        return _h(self.mem.slot(str(name)))

    def ld(self, name) -> str:
        return f"mload({self.s(name)})"

    def evaluation(self, key, at_next: bool) -> str:
        if at_next:
            return self.pm(self.shape.off_evals_next + 32 * self.at_next[key])
        return self.pm(self.shape.off_evals + 32 * self.at_zeta[key])

    def leaf(self, e) -> str:
        if isinstance(e, Column):
            return self.evaluation((e.kind, e.index), e.next)
        if isinstance(e, PublicInput):
            return f"mload({_h(self.pub_mem + 32 * e.index)})"
        return self.ld(e.name)



def _revert_unless_ok() -> list[str]:
    return ["if iszero(ok) {", f"  mstore(0, 0x{_INVALID_PROOF}{'0' * 56})  // InvalidProof()",
            "  revert(0, 4)", "}"]


def verifier_source(air: Air, vk: VerificationKey, *, layout: StateLayout | None = None,
                    contract_name: str = "ZkpipeVerifier") -> str:
    """The Solidity source of the verifier of `air` under `vk`.

    It defines `abstract contract <contract_name>Base` with `_verifyProof(proof, publicInputs)`
    (internal; reverts InvalidProof on anything but a valid proof) and, when `layout` is given,
    `_oldStateHash`, `_newStateHash`, `_newStateCommitments`, `_dataCommitment` and the
    bridge part's readers `_bridgePart`, `_bridgeRecord` for the rollup; and `contract <contract_name>` with the external `verifyProof`."""
    v = _Verifier(air, vk)
    # The constraint code is written first (its temporaries take memory below the transcript
    # buffer) and placed after the transcript.
    constraint_code = _constraints_at_zeta(v)
    published_code = _published_at_zeta(v)
    opening_code = _opening_scalars(v)
    transcript = _transcript_plan(v)
    tbuf = v.mem.alloc(32 + max(sum(length for _, _, length in copies) for _, copies in transcript))

    _load_and_range_check(v)
    _emit_transcript(v, transcript, tbuf)
    v.add("// 3. the constraints at ζ against the chunks: Σ_j ζ^(nj)·q_j(ζ) = Q(ζ), cross-multiplied")
    v.body.extend(constraint_code)
    v.body.extend(published_code)
    v.body.extend(opening_code)
    _commitment_sum(v)
    _pairing(v)
    layout_code = "" if layout is None else _layout_functions(air, v.groups, layout, v.com_off)
    return _contract(v, layout_code, contract_name)


def _load_and_range_check(v: _Verifier) -> None:
    """1. The scratch region, the moduli, the inputs copied to memory and range-checked."""
    add, pm = v.add, v.pm
    add("if iszero(eq(mload(0x40), 0x80)) { revert(0, 0) }  // scratch below must be unused")
    add("MEM_END")
    add(f"mstore(0x00, {hex(R_MODULUS)}) mstore(0x20, {hex(P_MODULUS)})")
    add("let ok := 1")
    add(f"calldatacopy({_h(v.pub_mem)}, publicInputs.offset, {_h(32 * v.npub)})" if v.npub else "// no public inputs")
    add(f"calldatacopy({_h(v.proof_mem)}, proof.offset, {_h(v.shape.length)})")
    add("// 1. public inputs and claimed evaluations below r; W's y below p (W is negated below)")
    for i in range(v.npub):
        add(f"ok := and(ok, lt(mload({_h(v.pub_mem + 32 * i)}), {_R}))")
    for off in range(v.shape.off_evals, v.off_w, 32):
        add(f"ok := and(ok, lt({pm(off)}, {_R}))")
    add(f"ok := and(ok, lt({pm(v.off_w + 32)}, {_P}))")
    if v.air.publication is not None:
        add("// the published data's digest, keccak256(data) mod r, absorbed after the public inputs")
        add(f"calldatacopy(__MEM_TOP__, {_DATA_OFFSET}, {_DATA_LENGTH})")
        add(f"mstore({v.s('published')}, mod(keccak256(__MEM_TOP__, {_DATA_LENGTH}), {_R}))")


def _message_sections(v: _Verifier, step: schedule.Absorb) -> list[tuple[str, int, int]]:
    """Where a message of the schedule lies in the calldata: (area, offset, length)."""
    shape = v.shape
    if step.message == Message.PUBLIC_INPUTS:
        return [("publicInputs", 0, 32 * v.npub)]
    if step.message == Message.PUBLISHED:
        return [("memory", v.mem.slot("published"), 32)] if v.air.publication is not None else []
    if step.message == Message.COMMITMENTS:
        return [("proof", v.com_off[gi], 64) for gi, g in enumerate(v.groups) if g.kind in step.kinds]
    if step.message == Message.EVALS_ZETA:
        return [("proof", shape.off_evals, 32 * shape.evals_zeta)]
    if step.message == Message.EVALS_ZETA_OMEGA:
        return [("proof", shape.off_evals_next, 32 * shape.evals_zeta_omega)]
    return [("proof", v.off_w, 64)]


def _transcript_plan(v: _Verifier) -> list[tuple[ChallengeName, list[tuple[str, int, int]]]]:
    """Per challenge, the calldata sections absorbed before it, adjacent ones merged."""
    plan, pending = [], []
    for step in schedule.steps(v.cs.has_interaction):
        if isinstance(step, schedule.Draw):
            plan.append((step.challenge, pending))
            pending = []
            continue
        for area, off, length in _message_sections(v, step):
            if not length:
                continue
            if pending and area != "memory" and pending[-1][0] == area and pending[-1][1] + pending[-1][2] == off:
                pending[-1] = (area, pending[-1][1], pending[-1][2] + length)
            else:
                pending.append((area, off, length))
    return plan


def _emit_transcript(v: _Verifier, plan, tbuf: int) -> None:
    """2. state ← keccak256(state ‖ pending), challenge = state mod r, for each draw."""
    v.add("// 2. the transcript: state ← keccak256(state ‖ pending), challenge = state mod r")
    v.add(f"mstore({_h(tbuf)}, 0x{keccak256(DOMAIN_SEPARATOR + v.vk.digest).hex()})")
    for challenge, copies in plan:
        pos = tbuf + 32
        for area, off, length in copies:
            if area == "memory":
                v.add(f"mstore({_h(pos)}, mload({_h(off)}))")
            else:
                src = f"add({area}.offset, {_h(off)})" if off else f"{area}.offset"
                v.add(f"calldatacopy({_h(pos)}, {src}, {_h(length)})")
            pos += length
        v.add(f"mstore({_h(tbuf)}, keccak256({_h(tbuf)}, {_h(pos - tbuf)}))")
        v.add(f"mstore({v.s(challenge)}, mod(mload({_h(tbuf)}), {_R}))")


def _constraints_at_zeta(v: _Verifier) -> list[str]:
    """3. The quotient identity of prover.fold over Yul expressions."""
    r, lines = R_MODULUS, []
    alg = _YulAlgebra(v.mem, lines, [c.expr for c in v.cs.constraints])
    acc = fold_constraints(v.cs.constraints, alg, v.leaf, v.ld(ChallengeName.ALPHA))
    lines.append(f"{{ let x := {v.ld(ChallengeName.ZETA)}")
    for _ in range(v.vk.log2_n):
        lines.append(f"  x := mulmod(x, x, {_R})")
    lines.append(f"  mstore({v.s('zn')}, x)")
    lines.append(f"  mstore({v.s('zh')}, addmod(x, {_h(r - 1)}, {_R})) }}")
    lines.append(f"mstore({v.s('dfirst')}, addmod({v.ld(ChallengeName.ZETA)}, {_h(r - 1)}, {_R}))")
    lines.append(f"mstore({v.s('dlast')}, addmod({v.ld(ChallengeName.ZETA)}, {_h((r - v.dom.omega_last) % r)}, {_R}))")
    lines.append("// ζ on the trace domain makes Z_H(ζ) zero (ζ = 1 and ζ = ω^(n−1) included)")
    lines.append(f"ok := and(ok, iszero(iszero({v.ld('zh')})))")
    chunks = [v.evaluation((ColumnKind.QUOTIENT, j), False) for j in range(v.vk.num_chunks)]
    q_zeta = horner(alg, chunks, v.ld("zn"))
    lhs, rhs = quotient_identity(alg, acc, q_zeta, v.ld("zh"), v.ld("dfirst"), v.ld("dlast"))
    lines.append(f"ok := and(ok, eq({lhs}, {rhs}))")
    return lines


def _published_at_zeta(v: _Verifier) -> list[str]:
    """3. The published data's rows interpolated at ζ against the public columns opened there
    (prover.publication): each record's ω^row and ζ − ω^row, one inversion of their product
    (modexp), then per field Σ_j v_j·ω^row_j/(ζ − ω^row_j)·Z_H(ζ)/n = Σ coeff·y(ζ). Records go
    to memory past the verifier's region: 64 bytes each (ω^row, running product)."""
    pub = v.air.publication
    if pub is None:
        return []
    r, n, lines = R_MODULUS, v.dom.n, []
    add = lines.append
    w = v.air.witness_columns
    sums = {(pi, fi): v.mem.slot(f"pub{pi}_{fi}") for pi, part in enumerate(pub.parts) for fi in range(len(part.fields))}
    starts = [v.mem.slot(f"pubstart{pi}") for pi in range(len(pub.parts))]
    counts = [v.mem.slot(f"pubcount{pi}") for pi in range(len(pub.parts))]
    zeta = v.ld(ChallengeName.ZETA)
    add("// 3b. the published data at ζ: parse, ω^row and ζ − ω^row per record, their product")
    add(f"{{ let p := {_DATA_OFFSET} let end := add(proof.offset, proof.length) let m := __MEM_TOP__ let acc := 1 let k := 0")
    for pi, part in enumerate(pub.parts):
        add(f"  // part {part.name}: {part.record_bytes} bytes a record")
        add("  if gt(add(p, 4), end) { ok := 0 p := end }")
        add(f"  {{ let cnt := shr(224, calldataload(p)) p := add(p, 4)")
        add(f"    ok := and(ok, iszero(gt(cnt, {_h(n)})))")
        add(f"    if gt(mul(cnt, {_h(part.record_bytes)}), sub(end, p)) {{ ok := 0 cnt := 0 }}")
        add(f"    mstore({_h(counts[pi])}, cnt) mstore({_h(starts[pi])}, p)")
        add(f"    let x := 1 let last := 0")
        add(f"    for {{ let j := 0 }} lt(j, cnt) {{ j := add(j, 1) }} {{")
        if part.row_bytes:
            add(f"      let row := shr({256 - 8 * part.row_bytes}, calldataload(add(p, mul(j, {_h(part.record_bytes)}))))")
            add(f"      ok := and(ok, and(lt(row, {_h(n)}), or(iszero(j), gt(row, last)))) last := row")
            add(f"      x := 1 {{ let b := {_h(v.dom.omega)} for {{}} row {{ row := shr(1, row) }} {{ if and(row, 1) {{ x := mulmod(x, b, {_R}) }} b := mulmod(b, b, {_R}) }} }}")
        else:
            add(f"      if j {{ x := mulmod(x, {_h(v.dom.omega)}, {_R}) }}")
        add(f"      acc := mulmod(acc, addmod({zeta}, sub({_R}, x), {_R}), {_R})")
        add("      mstore(add(m, shl(6, k)), x) mstore(add(m, add(shl(6, k), 0x20)), acc) k := add(k, 1)")
        add("    }")
        add(f"    p := add(p, mul(cnt, {_h(part.record_bytes)})) }}")
    add("  ok := and(ok, eq(p, end))")
    add("  // one inversion of the product (ζ is off H, so no factor vanishes)")
    pin = v.pair_in
    add(f"  mstore({_h(pin)}, 0x20) mstore({_h(pin + 0x20)}, 0x20) mstore({_h(pin + 0x40)}, 0x20)")
    add(f"  mstore({_h(pin + 0x60)}, acc) mstore({_h(pin + 0x80)}, {_h(r - 2)}) mstore({_h(pin + 0xa0)}, {_R})")
    add(f"  ok := and(ok, staticcall(gas(), 0x05, {_h(pin)}, 0xc0, {_h(pin)}, 0x20))")
    add(f"  let inv := mload({_h(pin)})")
    add("  // back to front: 1/(ζ − ω^row) = inv · (product before it); its Lagrange weight ω^row/(ζ − ω^row)")
    for pi in range(len(pub.parts) - 1, -1, -1):
        part = pub.parts[pi]
        add(f"  {{ let q := mload({_h(starts[pi])}) let cnt := mload({_h(counts[pi])})")
        for fi in range(len(part.fields)):
            add(f"    mstore({_h(sums[(pi, fi)])}, 0)")
        add("    for { let j := cnt } j { j := sub(j, 1) } {")
        add("      k := sub(k, 1)")
        add("      let before := 1 if k { before := mload(add(m, sub(shl(6, k), 0x20))) }")
        add(f"      let lag := mulmod(mload(add(m, shl(6, k))), mulmod(inv, before, {_R}), {_R})")
        add(f"      inv := mulmod(inv, addmod({zeta}, sub({_R}, mload(add(m, shl(6, k)))), {_R}), {_R})")
        add(f"      let rec := add(q, mul(sub(j, 1), {_h(part.record_bytes)}))")
        off = part.row_bytes
        for fi, f in enumerate(part.fields):
            add(f"      mstore({_h(sums[(pi, fi)])}, addmod(mload({_h(sums[(pi, fi)])}), "
                f"mulmod(shr({256 - 8 * f.width}, calldataload(add(rec, {_h(off)}))), lag, {_R}), {_R}))")
            off += f.width
        add("    } }")
    add("}")
    add("// each field: (Σ v·ω^row/(ζ − ω^row))·Z_H(ζ)/n equals its columns opened at ζ")
    scale = f"mulmod({v.ld('zh')}, {_h(pow(n, -1, r))}, {_R})"
    for pi, part in enumerate(pub.parts):
        for fi, f in enumerate(part.fields):
            opened = "0"
            for col, c in f.terms:
                y = v.evaluation((ColumnKind.WITNESS, w.index(col)), False)
                term = y if c % r == 1 else f"mulmod({y}, {_h(c % r)}, {_R})"
                opened = term if opened == "0" else f"addmod({opened}, {term}, {_R})"
            add(f"ok := and(ok, eq(mulmod(mload({_h(sums[(pi, fi)])}), {scale}, {_R}), {opened}))  // {part.name}.{f.name}")
    return lines


def _opening_scalars(v: _Verifier) -> list[str]:
    """3. The opening scalars of prover.opening: the distinct Z_t(z) = z^k − c, one inversion of
    their product (after the cheap checks' revert), each claim's weight onto its group's scalar
    and onto e."""
    mem, groups, lines = v.mem, v.groups, []
    add, s, r = lines.append, v.s, R_MODULUS
    order = claims(groups)
    distinct: list[tuple[int, bool]] = []
    for gi, nxt in order:
        if (groups[gi].width, nxt) not in distinct:
            distinct.append((groups[gi].width, nxt))
    zk_slot = {k: mem.slot(f"zk{k}") for k in sorted({k for k, _ in distinct})}
    d_slot = [mem.slot(f"d{i}") for i in range(len(distinct))]
    pre_slot = [mem.slot(f"pre{i}") for i in range(len(distinct))]
    inv_slot = [mem.slot(f"inv{i}") for i in range(len(distinct))]
    sc_slot = {gi: mem.slot(f"s{gi}") for gi in range(len(groups))}
    v.scalar_slot = sc_slot

    add("// Z_t(z) = z^k − c for each distinct (k, c), c ∈ {ζ, ζω}; their product must not vanish")
    add(f"mstore({s('zeta_omega')}, mulmod({v.ld(ChallengeName.ZETA)}, {_h(v.dom.omega)}, {_R}))")
    add(f"{{ let zz := {v.ld(ChallengeName.Z)} let x := zz")
    for k in range(1, max(zk_slot) + 1):
        if k > 1:
            add(f"  x := mulmod(x, zz, {_R})")
        if k in zk_slot:
            add(f"  mstore({_h(zk_slot[k])}, x)")
    add("}")
    for i, (k, nxt) in enumerate(distinct):
        c = s("zeta_omega") if nxt else s(ChallengeName.ZETA)
        add(f"mstore({_h(d_slot[i])}, addmod(mload({_h(zk_slot[k])}), sub({_R}, mload({c})), {_R}))")
        if i:
            add(f"mstore({_h(pre_slot[i])}, mulmod(mload({_h(pre_slot[i - 1])}), mload({_h(d_slot[i])}), {_R}))")
        else:
            add(f"mstore({_h(pre_slot[0])}, mload({_h(d_slot[0])}))")
    last_pre = f"mload({_h(pre_slot[-1])})"
    add(f"ok := and(ok, iszero(iszero({last_pre})))")
    add("// cheap checks done: a proof failing any of them stops here, before the precompiles")
    lines.extend(_revert_unless_ok())
    pair_in = v.pair_in
    add("// one inversion of the product by modexp (0x05) with exponent r−2, then each inverse")
    add(f"mstore({_h(pair_in)}, 0x20) mstore({_h(pair_in + 0x20)}, 0x20) mstore({_h(pair_in + 0x40)}, 0x20)")
    add(f"mstore({_h(pair_in + 0x60)}, {last_pre}) mstore({_h(pair_in + 0x80)}, {_h(r - 2)}) "
        f"mstore({_h(pair_in + 0xa0)}, {_R})")
    add(f"ok := staticcall(gas(), 0x05, {_h(pair_in)}, 0xc0, {_h(pair_in)}, 0x20)  // ok was 1")
    add(f"{{ let inv := mload({_h(pair_in)})")
    for i in range(len(distinct) - 1, 0, -1):
        add(f"  mstore({_h(inv_slot[i])}, mulmod(inv, mload({_h(pre_slot[i - 1])}), {_R}))")
        add(f"  inv := mulmod(inv, mload({_h(d_slot[i])}), {_R})")
    add(f"  mstore({_h(inv_slot[0])}, inv) }}")

    bound_slot = {}
    for gi, g in enumerate(groups):
        if g.kind == GroupKind.BOUND:
            bound_slot[gi] = mem.slot(f"bscale{gi}")
            add(f"// group {g.name} claims ζ^{g.shift // g.width} times its source's values at ζ")
            add(f"{{ let b := {v.ld(ChallengeName.ZETA)} let x := 1 let m := {_h(g.shift // g.width)}")
            add(f"  for {{}} m {{ m := shr(1, m) }} {{ if and(m, 1) {{ x := mulmod(x, b, {_R}) }} b := mulmod(b, b, {_R}) }}")
            add(f"  mstore({_h(bound_slot[gi])}, x) }}")
    add("// each claim t: weight ν^t/Z_t(z) onto its group's scalar, and ν^t·r_t(z)/Z_t(z) onto e")
    add(f"{{ let zz := {v.ld(ChallengeName.Z)} let nu := {v.ld(ChallengeName.NU)} let np := 1 let e := 0 let w := 0 let rz := 0")
    seen = set()
    for t, (gi, nxt) in enumerate(order):
        g = groups[gi]
        ys = [v.evaluation(key, nxt) for key in g.columns]
        add(f"  // claim {t}: group {g.name} at {'ζω' if nxt else 'ζ'}")
        add(f"  rz := {ys[-1]}")
        for y in reversed(ys[:-1]):
            add(f"  rz := addmod(mulmod(rz, zz, {_R}), {y}, {_R})")
        if gi in bound_slot:
            add(f"  rz := mulmod(rz, mload({_h(bound_slot[gi])}), {_R})")
        inv = f"mload({_h(inv_slot[distinct.index((g.width, nxt))])})"
        add(f"  w := {inv}" if t == 0 else f"  w := mulmod(np, {inv}, {_R})")
        if gi in seen:
            add(f"  mstore({_h(sc_slot[gi])}, addmod(mload({_h(sc_slot[gi])}), w, {_R}))")
        else:
            add(f"  mstore({_h(sc_slot[gi])}, w)")
            seen.add(gi)
        add(f"  e := addmod(e, mulmod(w, rz, {_R}), {_R})")
        if t + 1 < len(order):
            add(f"  np := {'nu' if t == 0 else f'mulmod(np, nu, {_R})'}")
    add(f"  mstore({s('e')}, e) }}")
    return lines


def _commitment_sum(v: _Verifier) -> None:
    """4. [L] = Σ_g s_g·[P_g] − e·G1 − W."""
    add, pm, mul_in, acc = v.add, v.pm, v.mul_in, v.acc
    add("// 4. [L] = Σ_g s_g·[P_g] − e·G1 − W, by ecMul (0x07) and ecAdd (0x06)")
    for gi, g in enumerate(v.groups):
        if g.kind == GroupKind.FIXED:
            x, y = (_h(c) for c in v.vk.fixed_commitment)
        else:
            x, y = pm(v.com_off[gi]), pm(v.com_off[gi] + 32)
        scalar = f"mload({_h(v.scalar_slot[gi])})"
        if gi == 0:
            add(f"mstore({_h(mul_in)}, {x}) mstore({_h(mul_in + 0x20)}, {y}) mstore({_h(mul_in + 0x40)}, {scalar})")
            add(f"ok := and(ok, staticcall(6000, 0x07, {_h(mul_in)}, 0x60, {_h(acc)}, 0x40))  // group {g.name}")
        else:
            add(f"ok := and(ok, mul_acc({x}, {y}, {scalar}))  // group {g.name}")
    add(f"ok := and(ok, mul_acc(1, 2, sub({_R}, {v.ld('e')})))  // −e·G1")
    add(f"mstore({_h(mul_in)}, {pm(v.off_w)}) mstore({_h(mul_in + 0x20)}, mod(sub({_P}, {pm(v.off_w + 32)}), {_P}))")
    add(f"ok := and(ok, staticcall(150, 0x06, {_h(acc)}, 0x80, {_h(acc)}, 0x40))  // −W")


def _pairing(v: _Verifier) -> None:
    """5. e([L] + z·W', [1]₂) · e(−W', [τ]₂) = 1."""
    add, pm, pair_in, acc, off_wz = v.add, v.pm, v.pair_in, v.acc, v.off_w + 64
    add("// 5. e([L] + z·W', [1]₂) · e(−W', [τ]₂) = 1")
    add(f"ok := and(ok, mul_acc({pm(off_wz)}, {pm(off_wz + 32)}, {v.ld(ChallengeName.Z)}))")
    add(f"mstore({_h(pair_in)}, mload({_h(acc)})) mstore({_h(pair_in + 0x20)}, mload({_h(acc + 0x20)}))")
    (tx0, tx1), (ty0, ty1) = v.vk.g2_tau
    (gx0, gx1), (gy0, gy1) = G2_GENERATOR
    for k, c in enumerate((gx1, gx0, gy1, gy0)):
        add(f"mstore({_h(pair_in + 0x40 + 32 * k)}, {_h(c)})")
    add(f"mstore({_h(pair_in + 0xc0)}, {pm(off_wz)})")
    add(f"mstore({_h(pair_in + 0xe0)}, mod(sub({_P}, {pm(off_wz + 32)}), {_P}))")
    for k, c in enumerate((tx1, tx0, ty1, ty0)):
        add(f"mstore({_h(pair_in + 0x100 + 32 * k)}, {_h(c)})")
    add(f"ok := and(ok, staticcall(113000, 0x08, {_h(pair_in)}, 0x180, {_h(pair_in)}, 0x20))")
    add(f"ok := and(ok, mload({_h(pair_in)}))")
    v.body.extend(_revert_unless_ok())


def _contract(v: _Verifier, layout_code: str, contract_name: str) -> str:
    """The Solidity around the assembly: the base contract, its constants, the external call."""
    mul_in, acc = v.mul_in, v.acc
    helpers = f"""
            // ACC ← ACC + s·(x, y), through ecMul (0x07) and ecAdd (0x06); false if either fails.
            // Each precompile gets exactly its price (EIP-1108): a failing precompile burns all
            // the gas it was given, and a rejected proof should revert, not run out of gas.
            function mul_acc(x, y, sc) -> success {{
                mstore({_h(mul_in)}, x)
                mstore({_h(mul_in + 0x20)}, y)
                mstore({_h(mul_in + 0x40)}, sc)
                success := staticcall(6000, 0x07, {_h(mul_in)}, 0x60, {_h(mul_in)}, 0x40)
                success := and(success, staticcall(150, 0x06, {_h(acc)}, 0x80, {_h(acc)}, 0x40))
            }}"""
    indent = " " * 12
    body = [f"mstore(0x40, {_h(v.mem.top)})" if line == "MEM_END" else line.replace("__MEM_TOP__", _h(v.mem.top))
            for line in v.body]
    asm = "\n".join(indent + line for line in body)
    air, vk = v.air, v.vk
    # A publishing circuit's proof carries its published data past the fixed part (§10).
    length_check = "proof.length < PROOF_LENGTH" if air.publication is not None else "proof.length != PROOF_LENGTH"
    return f"""// SPDX-License-Identifier: Apache-2.0
// Generated by zkpipe (prover/solidity.py) for circuit {air.name!r}, n = 2^{vk.log2_n}, protocol v3.
// Verification key digest 0x{vk.digest.hex()}. Do not edit: regenerate from the key.
pragma solidity {SOLIDITY_PRAGMA};

abstract contract {contract_name}Base {{
    /// The proof is not valid for these public inputs under this verification key.
    error InvalidProof();

    bytes32 public constant VERIFICATION_KEY_DIGEST = 0x{vk.digest.hex()};
    uint256 internal constant PROOF_LENGTH = {v.shape.length};
    uint256 internal constant NUM_PUBLIC_INPUTS = {v.npub};

    /// Reverts with InvalidProof unless `proof` is valid for `publicInputs` (and, for a circuit
    /// that publishes data, its bytes past PROOF_LENGTH are exactly the proven rows). Uses memory from
    /// 0x80 on as scratch: call it before anything is allocated.
    function _verifyProof(bytes calldata proof, uint256[] calldata publicInputs) internal view {{
        if ({length_check} || publicInputs.length != NUM_PUBLIC_INPUTS) revert InvalidProof();
        assembly {{{helpers}
{asm}
        }}
    }}
{layout_code}}}

contract {contract_name} is {contract_name}Base {{
    /// True for a valid proof; reverts with InvalidProof otherwise (never returns false).
    function verifyProof(bytes calldata proof, uint256[] calldata publicInputs) external view returns (bool) {{
        _verifyProof(proof, publicInputs);
        return true;
    }}
}}
"""


def _layout_functions(air: Air, groups, layout: StateLayout, com_off: dict) -> str:
    public = {g.name: gi for gi, g in enumerate(groups) if g.kind == GroupKind.PUBLIC}

    def offsets(names):
        out = []
        for name in names:
            if name not in public:
                raise InvalidCircuit(f"{name!r} is not a public group of {air.name}; the L1 cannot bind it")
            out.append(com_off[public[name]])
        return out

    if [groups[public[n]].width for n in layout.old_state if n in public] != \
            [groups[public[n]].width for n in layout.new_state if n in public]:
        raise InvalidCircuit(f"{air.name}: the old and new state groups must have the same widths, "
                             "so that one batch's new state is the next one's old state")

    def gather(fn: str, names, doc: str) -> str:
        offs = offsets(names)
        copies = "\n".join(f"            calldatacopy(add(f, {_h(64 * k)}), add(proof.offset, {_h(o)}), 0x40)"
                           for k, o in enumerate(offs))
        return f"""
    /// {doc}
    function {fn}(bytes calldata proof) internal pure returns (bytes32 h) {{
        assembly {{
            let f := mload(0x40)
{copies}
            h := keccak256(f, {_h(64 * len(offs))})
        }}
    }}
"""

    new_offs = offsets(layout.new_state)
    copies = "\n".join(f"            calldatacopy(add(add(points, 0x20), {_h(64 * k)}), add(proof.offset, {_h(o)}), 0x40)"
                       for k, o in enumerate(new_offs))
    text = gather("_oldStateHash", layout.old_state,
                  f"keccak256 of the commitment of group ({', '.join(layout.old_state)}): the state the proof starts from.")
    text += gather("_newStateHash", layout.new_state,
                   f"keccak256 of the commitment of group ({', '.join(layout.new_state)}): the state the proof ends in.")
    if layout.data:
        text += gather("_dataCommitment", layout.data,
                       f"keccak256 of the commitment of group ({', '.join(layout.data)}): the batch's data.")
    else:
        text += """
    function _dataCommitment(bytes calldata) internal pure returns (bytes32) {
        return bytes32(0);
    }
"""
    text += f"""
    /// The new state's group commitments as they appear in the proof (64 bytes each, x ‖ y).
    function _newStateCommitments(bytes calldata proof) internal pure returns (bytes memory points) {{
        points = new bytes({64 * len(new_offs)});
        assembly {{
{copies}
        }}
    }}
"""
    if layout.batch_index is None:
        text += """
    function _provesBatchIndex(uint256, uint256[] calldata) internal pure returns (bool) {
        return true;
    }
"""
    else:
        if layout.batch_index not in air.public_inputs:
            raise InvalidCircuit(f"{layout.batch_index!r} is not a public input of {air.name}")
        i = list(air.public_inputs).index(layout.batch_index)
        text += f"""
    /// Whether the proof's public input {layout.batch_index!r} is this batch's index.
    function _provesBatchIndex(uint256 batchIndex, uint256[] calldata publicInputs) internal pure returns (bool) {{
        return publicInputs.length > {i} && publicInputs[{i}] == batchIndex;
    }}
"""
    return text + _bridge_functions(air)


# The bridge part's record as the rollup reads it (docs/bridge.md): row, kind, L1/L2 address.
_BRIDGE_FIELDS = {"kind": 1, "address": 20}
_BRIDGE_ROW_BYTES = 4
_AMOUNT_BYTES = 8


def _bridge_functions(air: Air) -> str:
    """`_bridgePart` and `_bridgeRecord`: where the published data's bridge records and the
    transfers part they point into lie in the calldata. A circuit without a `bridge` part
    gets functions that report no records, so that Rollup.sol serves every circuit."""
    pub = air.publication
    names = [] if pub is None else [part.name for part in pub.parts]
    if "bridge" not in names:
        return """
    function _bridgePart(bytes calldata) internal pure returns (uint256, uint256, uint256, uint256) {
        return (0, 0, 0, 0);
    }

    function _bridgeRecord(uint256, uint256, uint256) internal pure returns (uint256, uint256, address, uint256) {
        return (0, 0, address(0), 0);
    }
"""
    bridge, transfers = pub.parts[names.index("bridge")], pub.parts[names.index("transfers")] if "transfers" in names else None
    widths = {f.name: f.width for f in bridge.fields}
    if bridge.row_bytes != _BRIDGE_ROW_BYTES or widths != _BRIDGE_FIELDS:
        raise InvalidCircuit(f"{air.name}: the bridge part must be rows of {_BRIDGE_ROW_BYTES} bytes with fields "
                             f"{_BRIDGE_FIELDS}, not {bridge.row_bytes} and {widths}")
    amount = None if transfers is None else next((f for f in transfers.fields if f.name == "amount"), None)
    if amount is None or amount.width != _AMOUNT_BYTES or transfers.row_bytes:
        raise InvalidCircuit(f"{air.name}: a bridge part needs a transfers part of consecutive rows with an "
                             f"{_AMOUNT_BYTES}-byte amount")
    amount_at = sum(f.width for f in transfers.fields[:transfers.fields.index(amount)])
    field_at = {f.name: bridge.row_bytes + sum(g.width for g in bridge.fields[:k]) for k, f in enumerate(bridge.fields)}
    walk = []
    for k, part in enumerate(pub.parts):
        last = k == len(pub.parts) - 1      # nothing to find past it
        if part is transfers:
            walk.append(f"transferCount := shr(224, calldataload(p)) transfers := add(p, 4)  // {part.name}")
            walk += [] if last else [f"p := add(transfers, mul(transferCount, {_h(part.record_bytes)}))"]
        elif part is bridge:
            walk.append(f"count := shr(224, calldataload(p)) records := add(p, 4)  // {part.name}")
            walk += [] if last else [f"p := add(records, mul(count, {_h(part.record_bytes)}))"]
        elif not last:
            walk.append(f"p := add(add(p, 4), mul(shr(224, calldataload(p)), {_h(part.record_bytes)}))  // {part.name}")
    body = "\n".join(" " * 12 + line for line in walk)
    return f"""
    /// The published bridge records: where the first lies in the calldata and how many there
    /// are, and the same for the transfers part whose rows they name. The walk trusts the
    /// encoding: call it after _verifyProof, which refuses any other.
    function _bridgePart(bytes calldata proof) internal pure
        returns (uint256 records, uint256 count, uint256 transfers, uint256 transferCount)
    {{
        assembly {{
            let p := add(proof.offset, PROOF_LENGTH)
{body}
        }}
    }}

    /// Bridge record `j`: its row, its kind (1 deposit, 2 withdrawal, 3 refund), its address,
    /// and the amount the transfers part publishes on that row (the caller checks the row is
    /// within that part).
    function _bridgeRecord(uint256 records, uint256 j, uint256 transfers) internal pure
        returns (uint256 row, uint256 kind, address account, uint256 amount)
    {{
        assembly {{
            let rec := add(records, mul(j, {_h(bridge.record_bytes)}))
            row := shr({256 - 8 * _BRIDGE_ROW_BYTES}, calldataload(rec))
            kind := shr(248, calldataload(add(rec, {_h(field_at["kind"])})))
            account := shr(96, calldataload(add(rec, {_h(field_at["address"])})))
            amount := shr({256 - 8 * _AMOUNT_BYTES}, calldataload(add(transfers, add(mul(row, {_h(transfers.record_bytes)}), {_h(amount_at)}))))
        }}
    }}
"""
