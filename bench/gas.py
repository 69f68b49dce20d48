"""L1 gas of verifying a batch proof, on both L1 backends; one JSON line per measurement.

    python -m bench.gas                          # every registered circuit, 2^10 rows, pyrevm and anvil
    python -m bench.gas --circuits state_update --log2-n 10 16 --l1 anvil

Each line is one transaction, sent with an explicit gas limit and measured from its receipt:

  l1              "pyrevm" (the embedded EVM) or "anvil" (a node this benchmark starts on
                  127.0.0.1 and stops by its process id)
  op              "verify": a call of the standalone verifier's verifyProof(proof, publicInputs);
                  "submit_batch": Rollup.submitBatch(index, proof, publicInputs), i.e. the
                  verification plus the rollup's checks (sender, index, old state), two storage
                  writes, the bridge processing and the BatchVerified event. Only for circuits
                  that declare a state layout; batch 1 then batch 2 on a fresh deployment
                  (`batch`). The ledger's batch 1 mixes transfers with deposits and
                  withdrawals (one of each per 16 entries), batch 2 has plain transfers only.
                  "deposit": Rollup.deposit, the last of batch 1's deposits (`first_tx_gas`:
                  the first, which also turns the queue's counter from zero);
                  "withdraw": Rollup.withdraw of batch 1's first withdrawal (`path_length`).
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
                  verify and submit_batch line executes far more than the EIP-7623 calldata
                  floor (21000 + 10 per calldata token), so the floor never applies and the
                  subtraction is exact.

submit_batch lines split their gas, tx_gas = 21000 + calldata_gas + proof_check_gas +
da_check_gas + bridge_gas + rollup_gas:

  calldata_gas    the calldata's price (4 a zero byte, 16 a nonzero one), the data's part of it
                  being data_calldata_gas
  proof_check_gas what the standalone verifier spends on a proof of the same circuit and size
                  that publishes nothing (an empty batch): the checks every proof costs
  da_check_gas    what the verifier spends on this proof beyond that: hashing the published
                  data, parsing it, interpolating its rows at ζ (docs/protocol.md §10)
  bridge_gas      what submitBatch spends beyond the verifier and beyond what it spends on a
                  batch without bridge records (batch 2): the deposit chain, the withdrawal
                  tree, their stores and event (docs/bridge.md); 0 for batch 2
  rollup_gas      the rest: sender, index and old-state checks, the two stores, the event
  transfers, deposits, withdrawals
                  the batch's published entries and its bridge records; for a circuit that
                  publishes transfers, each figure is also given per transfer (`*_per_transfer`)

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
from typing import NamedTuple


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
    from circuits.ledger import KIND_DEPOSIT, KIND_WITHDRAWAL, LedgerJob, build_trace

    # Half the slots hold accounts; n entries among them, small against the balances. Batch 1
    # credits a deposit at entry 1 and pays a withdrawal at entry stride/2 + 1 of every
    # `stride` (16, or n when smaller); batch 2 starts from batch 1's new state and moves only
    # transfers.
    held = n // 2
    if previous is None:
        index, addresses = 1, [rnd.randrange(1, 1 << 160) for _ in range(held)]
        balances = [rnd.randrange(1 << 40, 1 << 48) for _ in range(held)]
    else:
        index = 2
        addresses = [int(a) for a in previous["addr_new"][:held]]
        balances = [int(b) for b in previous["bal_new"][:held]]
    stride = min(16, n)
    transfers, bridge, deposits = [], [], []
    for i in range(n):
        slot, amount = rnd.randrange(held), rnd.randrange(1, 1 << 32)
        if previous is None and i % stride == 1:
            transfers.append((slot, slot, amount))
            bridge.append((i, KIND_DEPOSIT, addresses[slot]))
            deposits.append((addresses[slot], amount))
        elif previous is None and i % stride == stride // 2 + 1:
            transfers.append((slot, slot, amount))
            bridge.append((i, KIND_WITHDRAWAL, rnd.randrange(1, 1 << 160)))
        else:
            transfers.append((slot, rnd.randrange(held), amount - 1))
    job = LedgerJob(batch_index=index, log2_rows=air.log2_rows, old_addresses=addresses, old_balances=balances,
                    transfers=transfers, bridge=bridge)
    genesis = list(zip(addresses, balances)) if previous is None else []
    return (*build_trace(job), deposits, genesis)


def _ledger_empty(air, n, rnd, previous):
    from circuits.ledger import LedgerJob, build_trace

    return build_trace(LedgerJob(batch_index=1, log2_rows=air.log2_rows, old_addresses=[], old_balances=[],
                                 transfers=[]))


# (air, n, random, previous batch's trace or None) → (trace, public inputs) of a valid trace,
# per registered circuit; a circuit with a state layout continues from `previous`. A circuit
# with a bridge part adds the deposits its batch consumes and the genesis accounts (address,
# balance) that fund the escrow.
SAMPLES = {"fibonacci": _fibonacci, "range_check": _range_check, "transfers": _transfers,
           "state_update": _state_update, "ledger": _ledger}
# A publishing circuit's batch that publishes nothing: what the verifier spends on any proof.
EMPTY_SAMPLES = {"ledger": _ledger_empty}


class Sample(NamedTuple):
    trace: dict
    pub: dict
    deposits: list = []     # (L2 address, amount) to queue on the L1 before the batch
    genesis: list = []      # (address, balance) per slot, escrowed at deployment


def sample(name: str, air, n: int, rnd: random.Random, previous=None, samples=SAMPLES) -> Sample:
    if name not in samples:
        raise ValueError(f"bench.gas has no sample trace for circuit {name!r}: add one to SAMPLES")
    return Sample(*samples[name](air, n, rnd, previous))


class Prepared:
    """Keys and proofs for one circuit at one size: one proof for "verify" and, with a state
    layout, two chained batches and the genesis state commitment for "submit_batch"; for a
    publishing circuit, the proof of a batch that publishes nothing (the proof check's
    baseline)."""

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

        def proven(s: Sample):
            return prove(self.air, self.pk, s.trace, s.pub, be).to_bytes(), [int(s.pub[k]) for k in self.air.public_inputs]

        rnd = random.Random(f"{name}/{log2_n}")
        first = sample(name, self.air, n, rnd)
        self.proof, self.public_inputs = proven(first)
        self.empty = None
        if name in EMPTY_SAMPLES:
            self.empty = proven(sample(name, self.air, n, rnd, samples=EMPTY_SAMPLES))
        self.batches = []
        if self.layout is not None:
            groups = dict(public_groups_of(self.air))

            def commitment(columns):
                points = [public_commitment(self.pk.srs_g1, [list(columns[c]) for c in groups[g]], be)
                          for g in self.layout.old_state]
                return state_commitment(points)

            self.genesis = commitment(first.trace)
            self.genesis_accounts = first.genesis
            # Batch 1 is the proof above; batch 2 starts from its new state.
            self.batches.append((self.proof, self.public_inputs, first.deposits))
            second = sample(name, self.air, n, rnd, previous=first.trace)
            self.batches.append((*proven(second), second.deposits))

    def data(self, proof: bytes) -> bytes:
        """A publishing circuit's data: the proof's bytes past its fixed part (docs/protocol.md §10)."""
        from prover.proof import proof_length
        return proof[proof_length(self.vk):]

    def op_row(self, l1_name: str, op: str, receipt, **extra) -> dict:
        if not receipt.status:
            raise RuntimeError(f"{op} of {self.name} on {l1_name} reverted: {receipt.revert_reason}")
        return {"l1": l1_name, "op": op, "circuit": self.name, "log2_n": self.log2_n, **extra,
                "tx_gas": receipt.tx_gas, "exec_gas": receipt.exec_gas}

    def row(self, l1_name: str, op: str, receipt, calldata: bytes, proof: bytes | None = None, **extra) -> dict:
        """A verify or submit_batch line."""
        vk = self.vk
        data = self.data(self.proof if proof is None else proof)
        row = self.op_row(l1_name, op, receipt, columns=vk.num_witness + vk.num_fixed + vk.num_interaction,
                          groups=len(vk.groups), public_inputs=vk.num_public_inputs, **extra,
                          proof_bytes=len(self.proof), calldata_bytes=len(calldata), data_bytes=len(data),
                          data_calldata_gas=_calldata_gas(data))
        row["tx_gas"], row["exec_gas"] = row.pop("tx_gas"), row.pop("exec_gas")   # last, as before
        return row

    def _parts(self, proof: bytes) -> dict:
        pub = self.air.publication
        if pub is None:
            return {}
        return dict(zip((part.name for part in pub.parts), pub.decode(self.data(proof), 1 << self.log2_n)))

    def bridge_records(self, proof: bytes) -> list[tuple[int, int, int]]:
        """(kind, address, amount) of each bridge record the proof's batch publishes, in row order."""
        parts = self._parts(proof)
        if "bridge" not in parts:
            return []
        amounts = [values[-1] for _, values in parts["transfers"]]
        return [(kind, address, amounts[row]) for row, (kind, address) in parts["bridge"]]

    def published(self, proof: bytes) -> dict:
        """The published batch's counts: entries of its transfers part and its bridge records."""
        parts = self._parts(proof)
        out = {"transfers": len(parts["transfers"])} if "transfers" in parts else {}
        if "bridge" in parts:
            kinds = [kind for kind, _, _ in self.bridge_records(proof)]
            out["deposits"] = sum(1 for k in kinds if k & 1)
            out["withdrawals"] = sum(1 for k in kinds if k & 2)
        return out


def _calldata_gas(data: bytes) -> int:
    return sum(16 if b else 4 for b in data)


def check_above_floor(receipt, calldata: bytes) -> None:
    """exec_gas is exact only above the EIP-7623 calldata floor (see the module's docstring)."""
    from node.l1.client import calldata_floor_gas

    if receipt.tx_gas <= calldata_floor_gas(calldata):
        raise RuntimeError(f"gas {receipt.tx_gas} at the calldata floor: exec_gas would not be execution alone")


SPLIT = ("calldata_gas", "proof_check_gas", "da_check_gas", "bridge_gas", "rollup_gas", "tx_gas")


def split(row: dict, calldata: bytes, verify_gas: int, proof_check_gas: int, rollup_gas: int) -> dict:
    """Add the submit_batch gas split (the module's docstring) to `row`, and per transfer."""
    out = dict(row, calldata_gas=_calldata_gas(calldata), proof_check_gas=proof_check_gas,
               da_check_gas=verify_gas - proof_check_gas, rollup_gas=rollup_gas,
               bridge_gas=row["exec_gas"] - verify_gas - rollup_gas)
    if out.get("transfers"):
        for key in SPLIT:
            out[key.replace("_gas", "_gas_per_transfer")] = round(out[key] / out["transfers"], 1)
    return out


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
        proof_check = receipt.exec_gas
        if p.empty is not None:
            proof_check = verifier.verify(*p.empty).check().exec_gas
        rollup = RollupContract.deploy(l1, p.air, p.vk, p.layout, p.genesis, genesis_accounts=p.genesis_accounts)
        rows = []
        for index, (proof, pub, deposits) in enumerate(p.batches, 1):
            receipts = [rollup.deposit(address, amount).check() for address, amount in deposits]
            if receipts:
                yield p.op_row(l1_name, "deposit", receipts[-1], batch=index, count=len(receipts),
                               first_tx_gas=receipts[0].tx_gas)
            calldata = encode_call(rollup.artifact.abi, "submitBatch", index, proof, pub)
            receipt = rollup.submit_batch(index, proof, pub)
            verify_gas = verifier.verify(proof, pub).check().exec_gas
            rows.append((p.row(l1_name, "submit_batch", receipt, calldata, proof, batch=index, **p.published(proof)),
                         calldata, verify_gas))
            check_above_floor(receipt, calldata)
        # The rollup's own work: what it spends beyond the verifier on a batch without bridge
        # records (for a batch with some, the least of those).
        plain = [r["exec_gas"] - v for r, _, v in rows if not (r.get("deposits") or r.get("withdrawals"))]
        for r, calldata, verify_gas in rows:
            own = r["exec_gas"] - verify_gas
            bridged = r.get("deposits") or r.get("withdrawals")
            yield split(r, calldata, verify_gas, proof_check, min(plain) if bridged and plain else own)
        yield from _withdraw(p, rollup, l1_name)


def _withdraw(p: Prepared, rollup, l1_name: str):
    """Claim batch 1's first withdrawal, if it has one."""
    from node.l1.withdrawals import withdrawal_leaf, withdrawal_tree

    paid = [(address, amount) for kind, address, amount in p.bridge_records(p.batches[0][0]) if kind & 2]
    if not paid:
        return
    _, paths = withdrawal_tree([withdrawal_leaf(a, v) for a, v in paid])
    receipt = rollup.withdraw(1, 0, paid[0][0], paid[0][1], paths[0])
    yield p.op_row(l1_name, "withdraw", receipt, batch=1, path_length=len(paths[0]))


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
