"""Solidity verifier generation: the verifier of prover.verify, for one verification key, as a
Solidity source with the key's values written in as constants.

Generated rather than parametrized at deployment because every constant read from code costs
3 gas where a storage read costs 2100: the fixed pack's commitment, [τ]₂, the domain and the
digest are all literals. The body is one inline-assembly block that follows prover/verify.py
step by step (docs/protocol.md §6):

1. public inputs and every claimed evaluation below r, W's y below p (W enters negated);
2. the Keccak transcript over the calldata, challenge by challenge;
3. the constraints at ζ, written out as addmod/mulmod over the claimed evaluations, checked
   against the quotient chunks' values cross-multiplied (no inversion); the values Z_t(z) and
   their one batched inversion (the modexp precompile 0x05). A proof failing any of these
   reverts here, before the expensive part;
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

from .air import (EVERY_ROW, FIRST_ROW, LAST_ROW, TRANSITION, Add, Air, Challenge, Column, Const, Mul, Neg,
                  PublicInput, Sub, compile_air)
from .errors import InvalidCircuit
from .groups import FIXED, INTERACTION, PUBLIC, QUOTIENT, WITNESS, claims, commitment_groups, evaluation_slots
from .keccak import keccak256
from .keys import VerificationKey, check_circuit
from .polynomials import Domain
from .proof import proof_shape
from .srs import G2_GENERATOR
from .transcript import DOMAIN_SEPARATOR

SOLIDITY_PRAGMA = "0.8.28"
# The moduli live in the scratch words at 0x00 and 0x20 and are read with mload: solc's
# constant optimizer otherwise turns every repeated 32-byte literal into a CODECOPY sequence
# (about 35 gas per use instead of 6).
_R = "mload(0x00)"
_P = "mload(0x20)"


@dataclass
class StateLayout:
    """Which public groups a rollup reads from a proof: the old state (bound to what the L1
    holds), the new state (what the L1 stores next) and the batch's data. Each is a group name
    (or a tuple of them); the L1's state commitment is keccak256 of the named groups'
    commitments, 64 bytes each, in order — for one group, of its single commitment.

    `batch_index` names the public input that carries the batch's number: the rollup then
    accepts the proof only as that batch, so that a proof can never be replayed as a later
    batch (one that leaves the state unchanged would otherwise fit again)."""

    old_state: str | tuple[str, ...]
    new_state: str | tuple[str, ...]
    data: str | tuple[str, ...] = ()
    batch_index: str | None = None

    def __post_init__(self):
        for name in ("old_state", "new_state", "data"):
            value = getattr(self, name)
            setattr(self, name, (value,) if isinstance(value, str) else tuple(value))


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


class _ExprWriter:
    """Turns constraint expressions into Yul. A subtree used more than once is computed once
    into a memory slot; every leaf is an mload from the copied proof or a literal, so no Yul
    variable is ever referenced inside an expression (no stack-too-deep, whatever the depth)."""

    def __init__(self, mem: _Memory, leaf, lines: list[str]):
        self.mem, self.leaf, self.lines = mem, leaf, lines
        self.uses: dict[int, int] = {}
        self.done: dict[int, str] = {}
        self.keep: list = []

    def count(self, e) -> None:
        k = id(e)
        self.uses[k] = self.uses.get(k, 0) + 1
        self.keep.append(e)
        if self.uses[k] > 1:
            return
        for child in _children(e):
            self.count(child)

    def code(self, e) -> str:
        k = id(e)
        if k in self.done:
            return self.done[k]
        if isinstance(e, Const):
            return _h(e.value)
        if isinstance(e, (Column, PublicInput, Challenge)):
            return self.leaf(e)
        if isinstance(e, Add):
            s = f"addmod({self.code(e.a)}, {self.code(e.b)}, {_R})"
        elif isinstance(e, Sub):
            s = f"addmod({self.code(e.a)}, sub({_R}, {self.code(e.b)}), {_R})"
        elif isinstance(e, Mul):
            s = f"mulmod({self.code(e.a)}, {self.code(e.b)}, {_R})"
        elif isinstance(e, Neg):
            s = f"sub({_R}, {self.code(e.a)})"
        else:
            raise InvalidCircuit(f"unknown expression node {type(e).__name__}")
        # Neg and Sub of a zero operand would leave r itself; every consumer reduces mod r
        # (addmod, mulmod), and the accumulators below are reduced, so r acts as 0.
        if self.uses.get(k, 0) > 1 or len(s) > 2000:
            addr = self.mem.slot(f"t{k}")
            self.lines.append(f"mstore({_h(addr)}, {s})")
            s = f"mload({_h(addr)})"
        self.done[k] = s
        return s


def _children(e):
    if isinstance(e, (Add, Sub, Mul)):
        return (e.a, e.b)
    if isinstance(e, Neg):
        return (e.a,)
    return ()


def verifier_source(air: Air, vk: VerificationKey, *, layout: StateLayout | None = None,
                    contract_name: str = "ZkpipeVerifier") -> str:
    """The Solidity source of the verifier of `air` under `vk`.

    It defines `abstract contract <contract_name>Base` with `_verifyProof(proof, publicInputs)`
    (internal; reverts InvalidProof on anything but a valid proof) and, when `layout` is given,
    `_oldStateHash`, `_newStateHash`, `_newStateCommitments` and `_dataCommitment` for the
    rollup; and `contract <contract_name>` with the external `verifyProof`."""
    cs = compile_air(air)
    try:
        check_circuit(cs, vk)
    except InvalidCircuit:
        raise InvalidCircuit(f"the verification key is not for circuit {air.name!r}") from None
    r = R_MODULUS
    dom = Domain(vk.log2_n)
    groups = commitment_groups(cs, dom.n)
    shape = proof_shape(vk)
    plen = shape.length
    npub = vk.num_public_inputs
    at_zeta, at_next = evaluation_slots(groups)
    committed = [gi for gi, g in enumerate(groups) if g.kind != FIXED]
    com_off = {gi: 64 * i for i, gi in enumerate(committed)}   # group → offset of its commitment
    round1 = [gi for gi in committed if groups[gi].kind in (PUBLIC, WITNESS)]
    inter = [gi for gi in committed if groups[gi].kind == INTERACTION]
    quot = [gi for gi in committed if groups[gi].kind == QUOTIENT]
    off_w = shape.off_openings
    off_wz = off_w + 64

    mem = _Memory()
    acc = mem.alloc(0x40)             # ACC: the running sum [L]
    mul_in = mem.alloc(0x60)          # ecMul input; its output overwrites the first 64 bytes,
    assert mul_in == acc + 0x40       # so that ACC ‖ output is the ecAdd input
    pair_in = mem.alloc(0x180)        # the pairing's input; before it, the modexp's
    for name in ("beta", "gamma", "lambda", "alpha", "zeta", "zeta_omega", "nu", "z", "zn", "zh",
                 "dfirst", "dlast", "apow", "e"):
        mem.slot(name)
    accs = {sel: mem.slot("acc_" + sel) for sel in (EVERY_ROW, TRANSITION, FIRST_ROW, LAST_ROW)}
    pub_mem = mem.alloc(32 * npub)
    proof_mem = mem.alloc(plen)
    lines: list[str] = []

    def pm(off: int) -> str:  # a word of the copied proof
        return f"mload({_h(proof_mem + off)})"

    def s(name: str) -> str:
        return _h(mem.slot(name))

    def leaf(e) -> str:
        if isinstance(e, Column):
            key = (e.kind, e.index)
            if e.next:
                return pm(shape.off_evals_next + 32 * at_next[key])
            return pm(shape.off_evals + 32 * at_zeta[key])
        if isinstance(e, PublicInput):
            return f"mload({_h(pub_mem + 32 * e.index)})"
        return f"mload({s(e.name)})"

    # --- the constraints at ζ (written into `lines` now, placed after the transcript) ---
    writer = _ExprWriter(mem, leaf, lines)
    for c in cs.constraints:
        writer.count(c.expr)
    used_sel = set()
    lines.append(f"mstore({s('apow')}, 1)")
    for sel in accs:
        lines.append(f"mstore({_h(accs[sel])}, 0)")
    for i, c in enumerate(cs.constraints):
        used_sel.add(c.selector)
        value = writer.code(c.expr)
        lines.append(f"// {c.selector}: {c.label}")
        lines.append(f"mstore({_h(accs[c.selector])}, addmod(mload({_h(accs[c.selector])}), "
                     f"mulmod(mload({s('apow')}), {value}, {_R}), {_R}))")
        if i + 1 < len(cs.constraints):
            lines.append(f"mstore({s('apow')}, mulmod(mload({s('apow')}), mload({s('alpha')}), {_R}))")
    constraint_code = lines

    # --- the opening: distinct Z_t(z) = z^k − c, their prefix products, each group's scalar ---
    order = claims(groups)
    distinct: list[tuple[int, bool]] = []
    for gi, nxt in order:
        key = (groups[gi].width, nxt)
        if key not in distinct:
            distinct.append(key)
    zk_slot = {k: mem.slot(f"zk{k}") for k in sorted({k for k, _ in distinct})}
    d_slot = [mem.slot(f"d{i}") for i in range(len(distinct))]
    pre_slot = [mem.slot(f"pre{i}") for i in range(len(distinct))]
    inv_slot = [mem.slot(f"inv{i}") for i in range(len(distinct))]
    sc_slot = {gi: mem.slot(f"s{gi}") for gi in range(len(groups))}

    # --- the transcript buffer: state word + the largest pending absorption ---
    pending_max = max(32 * npub + 64 * len(round1), 64, 32 * (shape.evals_zeta + shape.evals_zeta_omega))
    tbuf = mem.alloc(32 + pending_max)
    mem_end = mem.top

    state0 = keccak256(DOMAIN_SEPARATOR + vk.digest)
    body: list[str] = []
    add = body.append

    add("if iszero(eq(mload(0x40), 0x80)) { revert(0, 0) }  // scratch below must be unused")
    add(f"mstore(0x40, {_h(mem_end)})")
    add(f"mstore(0x00, {hex(R_MODULUS)}) mstore(0x20, {hex(P_MODULUS)})")
    add("let ok := 1")
    add(f"calldatacopy({_h(pub_mem)}, publicInputs.offset, {_h(32 * npub)})" if npub else "// no public inputs")
    add(f"calldatacopy({_h(proof_mem)}, proof.offset, {_h(plen)})")
    add("// 1. public inputs and claimed evaluations below r; W's y below p (W is negated below)")
    for i in range(npub):
        add(f"ok := and(ok, lt(mload({_h(pub_mem + 32 * i)}), {_R}))")
    for off in range(shape.off_evals, off_w, 32):
        add(f"ok := and(ok, lt({pm(off)}, {_R}))")
    add(f"ok := and(ok, lt({pm(off_w + 32)}, {_P}))")

    add("// 2. the transcript: state ← keccak256(state ‖ pending), challenge = state mod r")
    add(f"mstore({_h(tbuf)}, 0x{state0.hex()})")

    def absorb_and_challenge(name: str, copies: list[tuple[str, int]]):
        """copies: (Yul source address expression in calldata, length) appended after the state."""
        pos = tbuf + 32
        for src, length in copies:
            if length:
                add(f"calldatacopy({_h(pos)}, {src}, {_h(length)})")
                pos += length
        add(f"mstore({_h(tbuf)}, keccak256({_h(tbuf)}, {_h(pos - tbuf)}))")
        add(f"mstore({s(name)}, mod(mload({_h(tbuf)}), {_R}))")

    def section(off: int, length: int) -> tuple[str, int]:
        return (f"add(proof.offset, {_h(off)})" if off else "proof.offset", length)

    first = [("publicInputs.offset", 32 * npub), section(0, 64 * len(round1))]
    if inter:
        absorb_and_challenge("beta", first)
        absorb_and_challenge("gamma", [])
        absorb_and_challenge("lambda", [])
        absorb_and_challenge("alpha", [section(com_off[inter[0]], 64)])
    else:
        absorb_and_challenge("alpha", first)
    absorb_and_challenge("zeta", [section(com_off[quot[0]], 64)])
    absorb_and_challenge("nu", [section(shape.off_evals, off_w - shape.off_evals)])
    absorb_and_challenge("z", [section(off_w, 64)])

    add("// 3. the constraints at ζ against the chunks: Σ_j ζ^(nj)·q_j(ζ) = Q(ζ), cross-multiplied")
    body.extend(constraint_code)
    add(f"{{ let x := mload({s('zeta')})")
    for _ in range(vk.log2_n):
        add(f"  x := mulmod(x, x, {_R})")
    add(f"  mstore({s('zn')}, x)")
    add(f"  mstore({s('zh')}, addmod(x, {_h(r - 1)}, {_R})) }}")
    add(f"mstore({s('dfirst')}, addmod(mload({s('zeta')}), {_h(r - 1)}, {_R}))")
    add(f"mstore({s('dlast')}, addmod(mload({s('zeta')}), {_h((r - dom.omega_last) % r)}, {_R}))")
    add("// ζ on the trace domain makes Z_H(ζ) zero (ζ = 1 and ζ = ω^(n−1) included)")
    add(f"ok := and(ok, iszero(iszero(mload({s('zh')}))))")
    chunks = [pm(shape.off_evals + 32 * at_zeta[("quotient", j)]) for j in range(vk.num_chunks)]
    qz = chunks[-1]
    for c in reversed(chunks[:-1]):  # Horner in ζ^n
        qz = f"addmod(mulmod({qz}, mload({s('zn')}), {_R}), {c}, {_R})"
    zh, d1, dl = f"mload({s('zh')})", f"mload({s('dfirst')})", f"mload({s('dlast')})"
    lhs = f"mulmod(mulmod({qz}, {zh}, {_R}), mulmod({d1}, {dl}, {_R}), {_R})"
    terms = []
    if EVERY_ROW in used_sel or TRANSITION in used_sel:
        num = f"mload({_h(accs[EVERY_ROW])})"
        if TRANSITION in used_sel:
            num = f"addmod({num}, mulmod(mload({_h(accs[TRANSITION])}), {dl}, {_R}), {_R})"
        terms.append(f"mulmod({num}, mulmod({d1}, {dl}, {_R}), {_R})")
    if FIRST_ROW in used_sel:
        terms.append(f"mulmod(mload({_h(accs[FIRST_ROW])}), mulmod({zh}, {dl}, {_R}), {_R})")
    if LAST_ROW in used_sel:
        terms.append(f"mulmod(mload({_h(accs[LAST_ROW])}), mulmod({zh}, {d1}, {_R}), {_R})")
    rhs = "0"
    for t in terms:
        rhs = t if rhs == "0" else f"addmod({rhs}, {t}, {_R})"
    add(f"ok := and(ok, eq({lhs}, {rhs}))")

    add("// Z_t(z) = z^k − c for each distinct (k, c), c ∈ {ζ, ζω}; their product must not vanish")
    add(f"mstore({s('zeta_omega')}, mulmod(mload({s('zeta')}), {_h(dom.omega)}, {_R}))")
    k_max = max(zk_slot)
    add(f"{{ let zz := mload({s('z')}) let x := zz")
    for k in range(1, k_max + 1):
        if k > 1:
            add(f"  x := mulmod(x, zz, {_R})")
        if k in zk_slot:
            add(f"  mstore({_h(zk_slot[k])}, x)")
    add("}")
    for i, (k, nxt) in enumerate(distinct):
        c = s("zeta_omega") if nxt else s("zeta")
        add(f"mstore({_h(d_slot[i])}, addmod(mload({_h(zk_slot[k])}), sub({_R}, mload({c})), {_R}))")
        if i:
            add(f"mstore({_h(pre_slot[i])}, mulmod(mload({_h(pre_slot[i - 1])}), mload({_h(d_slot[i])}), {_R}))")
        else:
            add(f"mstore({_h(pre_slot[0])}, mload({_h(d_slot[0])}))")
    last_pre = f"mload({_h(pre_slot[-1])})"
    add(f"ok := and(ok, iszero(iszero({last_pre})))")
    add("// cheap checks done: a proof failing any of them stops here, before the precompiles")
    add("if iszero(ok) {")
    add("  mstore(0, 0x09bde33900000000000000000000000000000000000000000000000000000000)  // InvalidProof()")
    add("  revert(0, 4)")
    add("}")
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

    add("// each claim t: weight ν^t/Z_t(z) onto its group's scalar, and ν^t·r_t(z)/Z_t(z) onto e")
    add(f"{{ let zz := mload({s('z')}) let nu := mload({s('nu')}) let np := 1 let e := 0 let w := 0 let rz := 0")
    seen = set()
    for t, (gi, nxt) in enumerate(order):
        g = groups[gi]
        base = shape.off_evals_next if nxt else shape.off_evals
        slots = at_next if nxt else at_zeta
        ys = [pm(base + 32 * slots[key]) for key in g.columns]
        add(f"  // claim {t}: group {g.name} at {'ζω' if nxt else 'ζ'}")
        add(f"  rz := {ys[-1]}")
        for y in reversed(ys[:-1]):
            add(f"  rz := addmod(mulmod(rz, zz, {_R}), {y}, {_R})")
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

    add("// 4. [L] = Σ_g s_g·[P_g] − e·G1 − W, by ecMul (0x07) and ecAdd (0x06)")
    for i, gi in enumerate(range(len(groups))):
        g = groups[gi]
        if g.kind == FIXED:
            x, y = (_h(v) for v in vk.fixed_commitment)
        else:
            x, y = pm(com_off[gi]), pm(com_off[gi] + 32)
        if i == 0:
            add(f"mstore({_h(mul_in)}, {x}) mstore({_h(mul_in + 0x20)}, {y}) "
                f"mstore({_h(mul_in + 0x40)}, mload({_h(sc_slot[gi])}))")
            add(f"ok := and(ok, staticcall(6000, 0x07, {_h(mul_in)}, 0x60, {_h(acc)}, 0x40))  // group {g.name}")
        else:
            add(f"ok := and(ok, mul_acc({x}, {y}, mload({_h(sc_slot[gi])})))  // group {g.name}")
    add(f"ok := and(ok, mul_acc(1, 2, sub({_R}, mload({s('e')}))))  // −e·G1")
    add(f"mstore({_h(mul_in)}, {pm(off_w)}) mstore({_h(mul_in + 0x20)}, mod(sub({_P}, {pm(off_w + 32)}), {_P}))")
    add(f"ok := and(ok, staticcall(150, 0x06, {_h(acc)}, 0x80, {_h(acc)}, 0x40))  // −W")

    add("// 5. e([L] + z·W', [1]₂) · e(−W', [τ]₂) = 1")
    add(f"ok := and(ok, mul_acc({pm(off_wz)}, {pm(off_wz + 32)}, mload({s('z')})))")
    add(f"mstore({_h(pair_in)}, mload({_h(acc)})) mstore({_h(pair_in + 0x20)}, mload({_h(acc + 0x20)}))")
    (tx0, tx1), (ty0, ty1) = vk.g2_tau
    (gx0, gx1), (gy0, gy1) = G2_GENERATOR
    for k, v in enumerate((gx1, gx0, gy1, gy0)):
        add(f"mstore({_h(pair_in + 0x40 + 32 * k)}, {_h(v)})")
    add(f"mstore({_h(pair_in + 0xc0)}, {pm(off_wz)})")
    add(f"mstore({_h(pair_in + 0xe0)}, mod(sub({_P}, {pm(off_wz + 32)}), {_P}))")
    for k, v in enumerate((tx1, tx0, ty1, ty0)):
        add(f"mstore({_h(pair_in + 0x100 + 32 * k)}, {_h(v)})")
    add(f"ok := and(ok, staticcall(113000, 0x08, {_h(pair_in)}, 0x180, {_h(pair_in)}, 0x20))")
    add(f"ok := and(ok, mload({_h(pair_in)}))")
    add("if iszero(ok) {")
    add("  mstore(0, 0x09bde33900000000000000000000000000000000000000000000000000000000)  // InvalidProof()")
    add("  revert(0, 4)")
    add("}")

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

    selector = keccak256(b"InvalidProof()")[:4].hex()
    assert selector == "09bde339", selector
    indent = " " * 12
    asm = "\n".join(indent + line for line in body)

    layout_code = ""
    if layout is not None:
        layout_code = _layout_functions(air, groups, layout, com_off)

    return f"""// SPDX-License-Identifier: Apache-2.0
// Generated by zkpipe (prover/solidity.py) for circuit {air.name!r}, n = 2^{vk.log2_n}, protocol v2.
// Verification key digest 0x{vk.digest.hex()}. Do not edit: regenerate from the key.
pragma solidity {SOLIDITY_PRAGMA};

abstract contract {contract_name}Base {{
    /// The proof is not valid for these public inputs under this verification key.
    error InvalidProof();

    bytes32 public constant VERIFICATION_KEY_DIGEST = 0x{vk.digest.hex()};
    uint256 internal constant PROOF_LENGTH = {plen};
    uint256 internal constant NUM_PUBLIC_INPUTS = {npub};

    /// Reverts with InvalidProof unless `proof` is valid for `publicInputs`. Uses memory from
    /// 0x80 on as scratch: call it before anything is allocated.
    function _verifyProof(bytes calldata proof, uint256[] calldata publicInputs) internal view {{
        if (proof.length != PROOF_LENGTH || publicInputs.length != NUM_PUBLIC_INPUTS) revert InvalidProof();
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
    public = {g.name: gi for gi, g in enumerate(groups) if g.kind == PUBLIC}

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
    return text
