"""L1 gas of verifying a batch proof, on both L1 backends; one JSON line per measurement.

    python -m bench.gas                          # every registered circuit, 2^10 rows, pyrevm and anvil
    python -m bench.gas --circuits state_update --log2-n 10 16 --l1 anvil

Each line is one transaction, sent with an explicit gas limit and measured from its receipt:

  l1              "pyrevm" (the embedded EVM) or "anvil" (a node this benchmark starts on
                  127.0.0.1 and stops by its process id)
  op              "verify": a call of the standalone verifier's verifyProof(proof, publicInputs);
                  "submit_batch": Rollup.submitBatch(index, proof, publicInputs), i.e. the
                  verification plus the rollup's checks (sender, index, old state), two storage
                  writes and the BatchVerified event. Only for circuits that declare a state
                  layout; batch 1 then batch 2 on a fresh deployment (`batch`).
  circuit, log2_n the circuit (circuits.CIRCUITS) and its trace size
  columns         committed columns opened at ζ: witness + fixed + interaction
  groups          packed commitments (docs/protocol.md): the verifier pays one ecMul per group
  public_inputs   the number of public inputs
  proof_bytes, calldata_bytes
  data_bytes      the batch's published data, carried at the proof's end (docs/protocol.md §10;
                  0 for a circuit that publishes nothing), and data_calldata_gas, what those
                  bytes cost as calldata (16 a nonzero byte, 4 a zero one)
  tx_gas          the receipt's gasUsed: what the sender pays for
  exec_gas        tx_gas − intrinsic gas, where intrinsic gas = 21000 + 4 per zero byte and 16 per
                  non-zero byte of the calldata (EIP-2028; no access list, no contract creation):
                  the gas of running the code, independent of how the proof is encoded. Every
                  line here executes far more than the EIP-7623 calldata floor (21000 + 10 per
                  calldata token), so the floor never applies and the subtraction is exact.

Gas is deterministic: the same transaction gives the same figures on every run and machine.
The embedded EVM prices "verify" exactly as anvil does; for "submit_batch" it charges less,
because pyrevm never closes its journal between transactions, so the rollup's storage slots stay
warm (node.l1.embedded says more): anvil's figure is the chain's. The SRS is the insecure
development setup, which changes no gas.
"""

from __future__ import annotations

import argparse
import json
import random
import sys


def _fibonacci(air, n, rnd, previous):
    return air.trace(n, rnd.randrange(1, 1000), rnd.randrange(1, 1000))


def _range_check(air, n, rnd, previous):
    return air.trace([rnd.randrange(1 << air.bits) for _ in range(n)], n)


def _transfers(air, n, rnd, previous):
    return air.trace([(rnd.randrange(n), rnd.randrange(n), rnd.randrange(1, 1 << 20)) for _ in range(n)], n)


def _state_update(air, n, rnd, previous):
    old = previous["new"] if previous is not None else [rnd.randrange(1 << 32) for _ in range(n)]
    return air.trace(old, [rnd.randrange(1 << 20) for _ in range(n)])


def _ledger(air, n, rnd, previous):
    from circuits.ledger import LedgerJob, build_trace

    # Half the slots hold accounts; n transfers among them, small against the balances. The
    # second batch starts from the first one's new state, as batch 2.
    held = n // 2
    if previous is None:
        index, addresses = 1, [rnd.randrange(1, 1 << 160) for _ in range(held)]
        balances = [rnd.randrange(1 << 40, 1 << 48) for _ in range(held)]
    else:
        index = 2
        addresses = [int(a) for a in previous["addr_new"][:held]]
        balances = [int(b) for b in previous["bal_new"][:held]]
    job = LedgerJob(batch_index=index, log2_rows=air.log2_rows, old_addresses=addresses, old_balances=balances,
                    transfers=[(rnd.randrange(held), rnd.randrange(held), rnd.randrange(1 << 32)) for _ in range(n)])
    return build_trace(job)


# (air, n, random, previous batch's trace or None) → (trace, public inputs) of a valid trace,
# per registered circuit; a circuit with a state layout continues from `previous`.
SAMPLES = {"fibonacci": _fibonacci, "range_check": _range_check, "transfers": _transfers,
           "state_update": _state_update, "ledger": _ledger}


def sample(name: str, air, n: int, rnd: random.Random, previous=None):
    if name not in SAMPLES:
        raise ValueError(f"bench.gas has no sample trace for circuit {name!r}: add one to SAMPLES")
    return SAMPLES[name](air, n, rnd, previous)


class Prepared:
    """Keys and proofs for one circuit at one size: one proof for "verify" and, with a state
    layout, two chained batches and the genesis state commitment for "submit_batch"."""

    def __init__(self, name: str, log2_n: int, be):
        from circuits import load_circuit
        from node.l1.rollup import state_commitment
        from prover.air import public_groups_of
        from prover.keys import dev_keys
        from prover.prove import prove, public_commitment

        self.name, self.log2_n = name, log2_n
        self.air = load_circuit(name, log2_n)
        n = 1 << log2_n
        self.pk, self.vk = dev_keys(self.air, log2_n, b"zkpipe bench.gas", be)
        self.layout = self.air.state_layout
        rnd = random.Random(f"{name}/{log2_n}")
        trace, pub = sample(name, self.air, n, rnd)
        self.public_inputs = [int(pub[k]) for k in self.air.public_inputs]
        self.proof = prove(self.air, self.pk, trace, pub, be).to_bytes()
        self.batches = []
        if self.layout is not None:
            groups = dict(public_groups_of(self.air))

            def commitment(columns):
                points = [public_commitment(self.pk.srs_g1, [list(columns[c]) for c in groups[g]], be)
                          for g in self.layout.old_state]
                return state_commitment(points)

            self.genesis = commitment(trace)
            # Batch 1 is the proof above; batch 2 starts from its new state.
            self.batches.append((self.proof, self.public_inputs))
            trace2, pub2 = sample(name, self.air, n, rnd, previous=trace)
            self.batches.append((prove(self.air, self.pk, trace2, pub2, be).to_bytes(),
                                 [int(pub2[k]) for k in self.air.public_inputs]))

    def row(self, l1_name: str, op: str, receipt, calldata: bytes, proof: bytes | None = None, **extra) -> dict:
        from prover.proof import proof_length
        vk = self.vk
        # A publishing circuit's proof ends with the batch's data (docs/protocol.md §10).
        data = (self.proof if proof is None else proof)[proof_length(vk):]
        if not receipt.status:
            raise RuntimeError(f"{op} of {self.name} on {l1_name} reverted: {receipt.revert_reason}")
        return {"l1": l1_name, "op": op, "circuit": self.name, "log2_n": self.log2_n,
                "columns": vk.num_witness + vk.num_fixed + vk.num_interaction, "groups": len(vk.groups),
                "public_inputs": vk.num_public_inputs, **extra, "proof_bytes": len(self.proof),
                "calldata_bytes": len(calldata), "data_bytes": len(data),
                "data_calldata_gas": sum(16 if b else 4 for b in data),
                "tx_gas": receipt.tx_gas, "exec_gas": receipt.exec_gas}


def check_above_floor(receipt, calldata: bytes) -> None:
    """exec_gas is exact only above the EIP-7623 calldata floor (see the module's docstring)."""
    from node.l1.client import calldata_floor_gas

    if receipt.tx_gas <= calldata_floor_gas(calldata):
        raise RuntimeError(f"gas {receipt.tx_gas} at the calldata floor: exec_gas would not be execution alone")


def measure(l1, l1_name: str, prepared: list[Prepared]):
    """Yield the lines of every prepared circuit on one L1."""
    from node.l1.abi import encode_call
    from node.l1.rollup import RollupContract, VerifierContract

    for p in prepared:
        verifier = VerifierContract.deploy(l1, p.air, p.vk)
        calldata = verifier.calldata(p.proof, p.public_inputs)
        receipt = verifier.verify(p.proof, p.public_inputs)
        row = p.row(l1_name, "verify", receipt, calldata)
        check_above_floor(receipt, calldata)
        yield row
        if p.layout is None:
            continue
        rollup = RollupContract.deploy(l1, p.air, p.vk, p.layout, p.genesis)
        for index, (proof, pub) in enumerate(p.batches, 1):
            calldata = encode_call(rollup.artifact.abi, "submitBatch", index, proof, pub)
            receipt = rollup.submit_batch(index, proof, pub)
            row = p.row(l1_name, "submit_batch", receipt, calldata, proof, batch=index)
            check_above_floor(receipt, calldata)
            yield row


def main(argv=None) -> int:
    from circuits import CIRCUITS

    parser = argparse.ArgumentParser(prog="python -m bench.gas", description=__doc__.split("\n")[0])
    known = sorted(set(CIRCUITS) & set(SAMPLES))
    parser.add_argument("--circuits", nargs="+", default=known, choices=known, metavar="NAME",
                        help=f"registered circuits (default: all: {', '.join(known)})")
    parser.add_argument("--log2-n", nargs="+", type=int, default=[10], help="trace sizes, as log2 n (default 10)")
    parser.add_argument("--l1", choices=("pyrevm", "anvil", "both"), default="both", help="backends (default both)")
    args = parser.parse_args(argv)

    from kernels import get_backend
    from node.l1.anvil import start_anvil
    from node.l1.embedded import EmbeddedL1
    from node.l1.errors import L1Error
    from node.l1.rpc import RpcL1

    be = get_backend("cpu")
    print(f"bench.gas: proving {len(args.circuits) * len(args.log2_n)} circuit sizes on the CPU", file=sys.stderr)
    prepared = [Prepared(name, k, be) for k in args.log2_n for name in args.circuits]
    try:
        if args.l1 in ("pyrevm", "both"):
            for line in measure(EmbeddedL1(), "pyrevm", prepared):
                print(json.dumps(line), flush=True)
        if args.l1 in ("anvil", "both"):
            with start_anvil() as node:
                for line in measure(RpcL1(node.url, name="anvil"), "anvil", prepared):
                    print(json.dumps(line), flush=True)
    except L1Error as e:
        print(f"bench.gas: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
