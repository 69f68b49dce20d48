"""Solidity verifier generation: the verifier of prover.verify, for one verification key, as a
Solidity source with the key's values written in as constants.

Generated rather than parametrized at deployment because every constant read from code costs
3 gas where a storage read costs 2100: the fixed commitments, [τ]₂, the domain and the digest
are all literals. The body is one inline-assembly block that follows prover/verify.py step by
step (docs/protocol.md §5):

1. lengths, public inputs and every claimed evaluation below r;
2. the Keccak transcript over the calldata, challenge by challenge;
3. the constraints at ζ, written out as addmod/mulmod over the claimed evaluations, and Q(ζ)
   with a single inversion (the modexp precompile 0x05);
4. the batched commitment F and the value E (ecMul 0x07, ecAdd 0x06), one per opened column;
5. one pairing equation of two pairings (0x08).

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
from .keys import VerificationKey
from .polynomials import Domain
from .proof import proof_length
from .srs import G2_GENERATOR
from .transcript import DOMAIN_SEPARATOR
from .keccak import keccak256

SOLIDITY_PRAGMA = "0.8.28"
_R = hex(R_MODULUS)
_P = hex(P_MODULUS)


@dataclass
class StateLayout:
    """Which public columns a rollup reads from a proof: the old state (bound to what the L1
    holds), the new state (what the L1 stores next) and the batch's data. The state commitment
    on the L1 is keccak256 of the listed columns' commitments (64 bytes each, in order)."""

    old_state: tuple[str, ...]
    new_state: tuple[str, ...]
    data: tuple[str, ...] = ()


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
    if cs.digest != vk.circuit_digest:
        raise InvalidCircuit(f"the verification key is not for circuit {air.name!r}")
    r = R_MODULUS
    dom = Domain(vk.log2_n)
    nw, nf, ni, nc = vk.num_witness, vk.num_fixed, vk.num_interaction, vk.num_chunks
    npub = vk.num_public_inputs
    opened = cs.opened_at_zeta()
    opened_next = cs.opened_at_zeta_omega()
    nez, nezw = len(opened), len(opened_next)
    plen = proof_length(vk)

    # Offsets of the proof's sections (bytes), as prover/proof.py lays them out.
    off_wc = 0
    off_ic = off_wc + 64 * nw
    off_qc = off_ic + 64 * ni
    off_ez = off_qc + 64 * nc
    off_ezw = off_ez + 32 * nez
    off_wz = off_ezw + 32 * nezw
    off_wzw = off_wz + 64
    assert off_wzw + 64 == plen

    mem = _Memory()
    scratch = mem.alloc(0x180)        # precompile inputs: ACC (64) | ecMul in (96) | …; pairing (384)
    acc = scratch                     # running sum of the batched commitment F
    mul_in = scratch + 0x40
    pair_in = mem.alloc(0x180)
    for name in ("beta", "gamma", "lambda", "alpha", "zeta", "v", "u", "zn", "zh", "dfirst", "dlast",
                 "apow", "e", "vpow", "lhsx", "lhsy", "qz"):
        mem.slot(name)
    accs = {sel: mem.slot("acc_" + sel) for sel in (EVERY_ROW, TRANSITION, FIRST_ROW, LAST_ROW)}
    pub_mem = mem.alloc(32 * npub)
    proof_mem = mem.alloc(plen)
    # Constraint temporaries and v-power slots are allocated while writing; the transcript
    # buffer goes last, sized for the largest absorption.
    lines: list[str] = []

    def pm(off: int) -> str:  # a word of the copied proof
        return f"mload({_h(proof_mem + off)})"

    def s(name: str) -> str:
        return _h(mem.slot(name))

    ez_slot = {key: i for i, key in enumerate(opened)}
    ezw_slot = {key: i for i, key in enumerate(opened_next)}

    def leaf(e) -> str:
        if isinstance(e, Column):
            key = (e.kind, e.index)
            return pm(off_ezw + 32 * ezw_slot[key]) if e.next else pm(off_ez + 32 * ez_slot[key])
        if isinstance(e, PublicInput):
            return f"mload({_h(pub_mem + 32 * e.index)})"
        return f"mload({s(e.name)})"

    # --- 3. the constraints at ζ (written into `lines` now, placed after the transcript) ---
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

    # --- the transcript buffer: state word + the largest pending absorption ---
    pending_max = max(32 * npub + 64 * nw, 64 * ni, 64 * nc, 32 * (nez + nezw), 128)
    tbuf = mem.alloc(32 + pending_max)
    mem_end = mem.top

    state0 = keccak256(DOMAIN_SEPARATOR + vk.digest)
    body: list[str] = []
    add = body.append

    add(f"if iszero(eq(mload(0x40), 0x80)) {{ revert(0, 0) }}  // scratch below must be unused")
    add(f"mstore(0x40, {_h(mem_end)})")
    add("let ok := 1")
    add(f"calldatacopy({_h(pub_mem)}, publicInputs.offset, {_h(32 * npub)})" if npub else "// no public inputs")
    add(f"calldatacopy({_h(proof_mem)}, proof.offset, {_h(plen)})")
    add("// 1. every public input and claimed evaluation is a scalar below r")
    if npub:
        add(f"for {{ let a := {_h(pub_mem)} }} lt(a, {_h(pub_mem + 32 * npub)}) {{ a := add(a, 0x20) }} "
            f"{{ ok := and(ok, lt(mload(a), {_R})) }}")
    add(f"for {{ let a := {_h(proof_mem + off_ez)} }} lt(a, {_h(proof_mem + off_wz)}) {{ a := add(a, 0x20) }} "
        f"{{ ok := and(ok, lt(mload(a), {_R})) }}")

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

    first = [("publicInputs.offset", 32 * npub), (f"add(proof.offset, {_h(off_wc)})", 64 * nw)]
    if cs.has_interaction:
        absorb_and_challenge("beta", first)
        absorb_and_challenge("gamma", [])
        absorb_and_challenge("lambda", [])
        absorb_and_challenge("alpha", [(f"add(proof.offset, {_h(off_ic)})", 64 * ni)])
    else:
        absorb_and_challenge("alpha", first)
    absorb_and_challenge("zeta", [(f"add(proof.offset, {_h(off_qc)})", 64 * nc)])
    absorb_and_challenge("v", [(f"add(proof.offset, {_h(off_ez)})", 32 * (nez + nezw))])
    absorb_and_challenge("u", [(f"add(proof.offset, {_h(off_wz)})", 128)])

    add("// 3. the constraints at ζ, then Q(ζ)")
    body.extend(constraint_code)
    add(f"{{ let x := mload({s('zeta')})")
    for _ in range(vk.log2_n):
        add(f"  x := mulmod(x, x, {_R})")
    add(f"  mstore({s('zn')}, x)")
    add(f"  mstore({s('zh')}, addmod(x, {_h(r - 1)}, {_R})) }}")
    add(f"mstore({s('dfirst')}, addmod(mload({s('zeta')}), {_h(r - 1)}, {_R}))")
    add(f"mstore({s('dlast')}, addmod(mload({s('zeta')}), {_h((r - dom.omega_last) % r)}, {_R}))")
    add(f"// ζ on the trace domain makes Z_H(ζ) zero (ζ = 1 and ζ = ω^(n−1) included)")
    add(f"ok := and(ok, iszero(iszero(mload({s('zh')}))))")
    add("// one inversion of Z_H(ζ)·(ζ−1)·(ζ−ω^(n−1)), by modexp (0x05) with exponent r−2")
    add(f"mstore({_h(scratch)}, 0x20) mstore({_h(scratch + 0x20)}, 0x20) mstore({_h(scratch + 0x40)}, 0x20)")
    add(f"mstore({_h(scratch + 0x60)}, mulmod(mulmod(mload({s('zh')}), mload({s('dfirst')}), {_R}), mload({s('dlast')}), {_R}))")
    add(f"mstore({_h(scratch + 0x80)}, {_h(r - 2)}) mstore({_h(scratch + 0xa0)}, {_R})")
    add(f"ok := and(ok, staticcall(gas(), 0x05, {_h(scratch)}, 0xc0, {_h(scratch)}, 0x20))")
    inv = f"mload({_h(scratch)})"
    terms = []
    if EVERY_ROW in used_sel or TRANSITION in used_sel:
        num = f"mload({_h(accs[EVERY_ROW])})"
        if TRANSITION in used_sel:
            num = f"addmod({num}, mulmod(mload({_h(accs[TRANSITION])}), mload({s('dlast')}), {_R}), {_R})"
        terms.append(f"mulmod({num}, mulmod({inv}, mulmod(mload({s('dfirst')}), mload({s('dlast')}), {_R}), {_R}), {_R})")
    if FIRST_ROW in used_sel:
        terms.append(f"mulmod(mload({_h(accs[FIRST_ROW])}), mulmod({inv}, mulmod(mload({s('zh')}), mload({s('dlast')}), {_R}), {_R}), {_R})")
    if LAST_ROW in used_sel:
        terms.append(f"mulmod(mload({_h(accs[LAST_ROW])}), mulmod({inv}, mulmod(mload({s('zh')}), mload({s('dfirst')}), {_R}), {_R}), {_R})")
    qz = "0"
    for t in terms:
        qz = t if qz == "0" else f"addmod({qz}, {t}, {_R})"
    add(f"mstore({s('e')}, {qz})")

    add("// 4. F = Σ ζ^(in)·[q_i] + Σ_j (v^(j+1) + u·v^(j')·[opened at ζω])·[C_j];  E alongside")
    add(f"mstore({_h(acc)}, {pm(off_qc)}) mstore({_h(acc + 0x20)}, {pm(off_qc + 32)})")
    add(f"ok := and(ok, add_acc({_h(acc)}, {_h(acc)}))  // validates [q_0] (scalar 1)")
    if nc > 1:
        add(f"mstore({s('apow')}, 1)")
        for i in range(1, nc):
            add(f"mstore({s('apow')}, mulmod(mload({s('apow')}), mload({s('zn')}), {_R}))")
            add(f"ok := and(ok, mul_acc({pm(off_qc + 64 * i)}, {pm(off_qc + 64 * i + 32)}, mload({s('apow')})))")
    needed_vpow = {jj for jj in range(nezw)}
    vpow_slot = {}
    add(f"mstore({s('vpow')}, 1)")
    for j, key in enumerate(opened):
        add(f"mstore({s('vpow')}, mulmod(mload({s('vpow')}), mload({s('v')}), {_R}))")
        if (j + 1) in needed_vpow:
            vpow_slot[j + 1] = mem.slot(f"vp{j + 1}")
            add(f"mstore({_h(vpow_slot[j + 1])}, mload({s('vpow')}))")
        scalar = f"mload({s('vpow')})"
        add(f"mstore({s('e')}, addmod(mload({s('e')}), mulmod(mload({s('vpow')}), {pm(off_ez + 32 * j)}, {_R}), {_R}))")
        if key in ezw_slot:
            jj = ezw_slot[key]
            uv = f"mload({s('u')})" if jj == 0 else f"mulmod(mload({s('u')}), mload({_h(vpow_slot[jj])}), {_R})"
            add(f"mstore({s('apow')}, {uv})")
            scalar = f"addmod(mload({s('vpow')}), mload({s('apow')}), {_R})"
            add(f"mstore({s('e')}, addmod(mload({s('e')}), mulmod(mload({s('apow')}), {pm(off_ezw + 32 * jj)}, {_R}), {_R}))")
        kind, index = key
        if kind == "witness":
            px, py = pm(off_wc + 64 * index), pm(off_wc + 64 * index + 32)
        elif kind == "interaction":
            px, py = pm(off_ic + 64 * index), pm(off_ic + 64 * index + 32)
        else:
            fx, fy = vk.fixed_commitments[index]
            px, py = _h(fx), _h(fy)
        add(f"ok := and(ok, mul_acc({px}, {py}, {scalar}))  // {kind} column {index}")

    add("// 5. e(W_ζ + u·W_ζω, [τ]₂) · e(−(F − E·G1 + ζ·W_ζ + u·ζω·W_ζω), [1]₂) = 1")
    wz = (pm(off_wz), pm(off_wz + 32))
    wzw = (pm(off_wzw), pm(off_wzw + 32))
    add(f"ok := and(ok, mul_acc(1, 2, sub({_R}, mload({s('e')}))))")
    add(f"ok := and(ok, mul_acc({wz[0]}, {wz[1]}, mload({s('zeta')})))")
    add(f"ok := and(ok, mul_acc({wzw[0]}, {wzw[1]}, mulmod(mload({s('u')}), "
        f"mulmod(mload({s('zeta')}), {_h(dom.omega)}, {_R}), {_R})))")
    # The right-hand point, negated, goes into the pairing input; then the left-hand one.
    add(f"mstore({_h(pair_in + 0xc0)}, mload({_h(acc)}))")
    add(f"mstore({_h(pair_in + 0xe0)}, mod(sub({_P}, mload({_h(acc + 0x20)})), {_P}))")
    add(f"mstore({_h(acc)}, {wz[0]}) mstore({_h(acc + 0x20)}, {wz[1]})")
    add(f"ok := and(ok, mul_acc({wzw[0]}, {wzw[1]}, mload({s('u')})))")
    add(f"mstore({_h(pair_in)}, mload({_h(acc)})) mstore({_h(pair_in + 0x20)}, mload({_h(acc + 0x20)}))")
    (tx0, tx1), (ty0, ty1) = vk.g2_tau
    (gx0, gx1), (gy0, gy1) = G2_GENERATOR
    for k, v in enumerate((tx1, tx0, ty1, ty0)):
        add(f"mstore({_h(pair_in + 0x40 + 32 * k)}, {_h(v)})")
    for k, v in enumerate((gx1, gx0, gy1, gy0)):
        add(f"mstore({_h(pair_in + 0x100 + 32 * k)}, {_h(v)})")
    add(f"ok := and(ok, staticcall(113000, 0x08, {_h(pair_in)}, 0x180, {_h(scratch)}, 0x20))")
    add(f"ok := and(ok, mload({_h(scratch)}))")
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
            }}
            // ACC ← (point at a) + (0, 0), validating it; `a` is ACC itself.
            function add_acc(a, out) -> success {{
                mstore({_h(mul_in)}, 0)
                mstore({_h(mul_in + 0x20)}, 0)
                success := staticcall(150, 0x06, a, 0x80, out, 0x40)
            }}"""

    selector = keccak256(b"InvalidProof()")[:4].hex()
    assert selector == "09bde339", selector
    indent = " " * 12
    asm = "\n".join(indent + line for line in body)

    layout_code = ""
    if layout is not None:
        layout_code = _layout_functions(air, layout, off_wc)

    return f"""// SPDX-License-Identifier: Apache-2.0
// Generated by zkpipe (prover/solidity.py) for circuit {air.name!r}, n = 2^{vk.log2_n}.
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


def _layout_functions(air: Air, layout: StateLayout, off_wc: int) -> str:
    def offsets(names):
        out = []
        for name in names:
            if name not in air.public_columns:
                raise InvalidCircuit(f"{name!r} is not a public column of {air.name}; the L1 cannot bind it")
            out.append(off_wc + 64 * air.witness_columns.index(name))
        return out

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
                  f"keccak256 of the commitments to ({', '.join(layout.old_state)}): the state the proof starts from.")
    text += gather("_newStateHash", layout.new_state,
                   f"keccak256 of the commitments to ({', '.join(layout.new_state)}): the state the proof ends in.")
    if layout.data:
        text += gather("_dataCommitment", layout.data,
                       f"keccak256 of the commitments to ({', '.join(layout.data)}): the batch's data.")
    else:
        text += """
    function _dataCommitment(bytes calldata) internal pure returns (bytes32) {
        return bytes32(0);
    }
"""
    text += f"""
    /// The new state's commitments as they appear in the proof (64 bytes each, x ‖ y).
    function _newStateCommitments(bytes calldata proof) internal pure returns (bytes memory points) {{
        points = new bytes({64 * len(new_offs)});
        assembly {{
{copies}
        }}
    }}
"""
    return text
