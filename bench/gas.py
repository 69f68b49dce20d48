"""L1 gas of the generated verifier, on the embedded EVM (pyrevm), one JSON line per circuit.

    python -m bench.gas [--log2-n 3]

Circuits: Fibonacci of width 2 and 20 (one witness pack either way), Fibonacci of width 20 in
packs of at most 5 columns (the packing knob), the range-check and multiset examples, and the
ledger-shaped StateTransition (three public groups, eleven blinded columns, a lookup and two
logUp sums), which is also measured through the rollup contract (Rollup.sol).

Fields: circuit, columns (committed trace columns), groups (commitments, the fixed one
included), ecmuls (groups + 2), verify_exec_gas (execution gas of verifyProof, intrinsic gas
excluded), calldata_gas (EIP-2028 pricing of the call's data), proof_bytes; for the rollup line
submit_exec_gas of a steady-state batch (the second one: its storage writes are nonzero to
nonzero). Gas depends on the circuit's shape and log2 n (ζ^n takes log2 n squarings), not on
the machine.
"""

from __future__ import annotations

import argparse
import json
import random


def _circuits(log2_n: int):
    from circuits.examples import Fibonacci, RangeCheck, StateTransition, Transfers

    class Fibonacci20Packs5(Fibonacci):
        max_pack_width = 5

    n = 1 << log2_n
    rnd = random.Random(1)
    out = []
    for label, air in (("fibonacci_w2", Fibonacci(2)), ("fibonacci_w20", Fibonacci(20)),
                       ("fibonacci_w20_packs_of_5", Fibonacci20Packs5(20))):
        trace, pub = air.trace(n)
        out.append((label, air, trace, [pub[k] for k in air.public_inputs]))
    air = RangeCheck(min(3, log2_n))
    trace, pub = air.trace([rnd.randrange(8) for _ in range(n)], n)
    out.append(("range_check", air, trace, [pub["first"]]))
    air = Transfers()
    trace, _ = air.trace([(rnd.randrange(n), rnd.randrange(n), rnd.randrange(1, 1000)) for _ in range(n)], n)
    out.append(("multiset", air, trace, []))
    air = StateTransition(min(log2_n, 16))
    trace, _ = _ledger_batch(air, n, rnd)
    out.append(("ledger_shaped", air, trace, []))
    return out


def _ledger_batch(air, n: int, rnd, addrs=None, balances=None):
    addrs = addrs or [rnd.randrange(1, 1 << 160) for _ in range(n - 1)] + [0]
    balances = balances or [rnd.randrange(50 * n, 60 * n) for _ in range(n - 1)] + [0]
    transfers = [(rnd.randrange(n - 1), rnd.randrange(n), rnd.randrange(1, 50)) for _ in range(n // 2)]
    claims = {n - 1: rnd.randrange(1, 1 << 160)} if addrs[n - 1] == 0 else {}
    return air.trace(addrs, balances, transfers, n, claims=claims)


def _keys(air, log2_n: int):
    from prover.air import compile_air
    from prover.keys import setup
    from prover.srs import dev_setup
    size = compile_air(air).srs_size(1 << log2_n)
    return setup(air, log2_n, dev_setup(size, b"bench gas", insecure=True))


def _calldata_gas(data: bytes) -> int:
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


def run(log2_n: int) -> list[dict]:
    from kernels import get_backend
    from node.l1.embedded import EmbeddedL1
    from node.l1.rollup import VerifierContract
    from prover.prove import prove

    be = get_backend("cpu")
    l1 = EmbeddedL1()
    rows = []
    for label, air, trace, pub in _circuits(log2_n):
        pk, vk = _keys(air, log2_n)
        data = prove(air, pk, trace, pub, be).to_bytes()
        verifier = VerifierContract.deploy(l1, air, vk)
        receipt = verifier.verify(data, pub)
        if not receipt.status:
            raise RuntimeError(f"{label}: the verifier rejected an honest proof")
        row = {"circuit": label, "log2_n": log2_n,
               "columns": vk.num_witness + vk.num_fixed + vk.num_interaction,
               "groups": len(vk.groups), "ecmuls": len(vk.groups) + 2,
               "verify_exec_gas": receipt.exec_gas,
               "calldata_gas": _calldata_gas(verifier.calldata(data, pub)), "proof_bytes": len(data)}
        if label == "ledger_shaped":
            row["submit_exec_gas"] = _rollup_gas(l1, air, pk, vk, trace, be, log2_n)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def _rollup_gas(l1, air, pk, vk, first, be, log2_n: int) -> int:
    """Two chained batches through Rollup.sol; the second one's execution gas."""
    from node.l1.rollup import RollupContract, state_commitment
    from prover.prove import prove, public_commitment
    from prover.solidity import StateLayout

    layout = StateLayout("old_state", "new_state", "data")
    genesis = public_commitment(pk.srs_g1, [first["addr_old"], first["bal_old"]], be)
    rollup = RollupContract.deploy(l1, air, vk, layout, state_commitment([genesis]))
    n = 1 << log2_n
    second, _ = _ledger_batch(air, n, random.Random(2), addrs=list(first["addr_new"]),
                              balances=list(first["bal_new"]))
    gas = []
    for index, trace in enumerate((first, second), start=1):
        receipt = rollup.submit_batch(index, prove(air, pk, trace, [], be).to_bytes(), [])
        receipt.check()
        gas.append(receipt.exec_gas)
    return gas[1]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log2-n", type=int, default=3, help="trace size (gas grows by ~20 per doubling)")
    a = ap.parse_args(argv)
    run(a.log2_n)


if __name__ == "__main__":
    main()
