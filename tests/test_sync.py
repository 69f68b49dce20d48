"""Rebuilding the ledger from the L1 alone (node/sync.py, `zkpipe sync`).

The replay is checked against the executor on batches the executor itself made, through the
published data the L1 receives (circuits.ledger_data) and real state commitments; then the data
directory it writes is continued by a sequencer and an executor; then the whole command against a
devnet on anvil whose data directory was deleted."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import types
from pathlib import Path

import pytest

from circuits.ledger_data import batch_data, read_batch_data
from node.blocks import MiniBatch, block_hash
from node.datadir import DataDirMismatch
from node.executor import Executor, ledger_job
from node.genesis import Genesis
from node.pipeline.circuit import LedgerCircuit
from node.snapshot import load_newest
from node.state import LedgerState
from node.sync import L1Batch, SyncMismatch, continue_data_dir, genesis_of, rebuild, replay_batch
from node.transactions import address_of, decode_transfer, sign_transfer
from prover.srs import dev_setup

LOG2 = 4
CHAIN = 5151


@pytest.fixture(scope="module")
def commit():
    """The L1's commitment of a state (as the node computes it), over a small development SRS."""
    circuit = LedgerCircuit(LOG2)
    keys = types.SimpleNamespace(srs_g1=dev_setup(4 << LOG2, b"sync test", insecure=True).g1_powers)

    def of(addresses, balances) -> bytes:
        return circuit.state_commitment(keys, list(addresses), list(balances))
    of.state = lambda s: of(s.address_column(), s.balances)
    return of


class Wallets:
    """Funded keys signing real transfers, and the recipients they pay."""

    def __init__(self, rng: random.Random, funded: int = 3, fresh: int = 5):
        self.rng = rng
        self.keys = [os.urandom(32) for _ in range(funded)]
        self.fresh = [os.urandom(20) for _ in range(fresh)]
        self.genesis = Genesis(CHAIN, {address_of(k): 10**9 for k in self.keys})
        self.nonces = [0] * funded

    def transfers(self, n: int):
        out = []
        for _ in range(n):
            i = self.rng.randrange(len(self.keys))
            to = self.rng.choice(self.fresh + [address_of(k) for k in self.keys if k != self.keys[i]])
            raw = sign_transfer(self.keys[i], chain_id=CHAIN, nonce=self.nonces[i], to=to,
                                value=self.rng.randrange(1, 10**6))
            self.nonces[i] += 1
            out.append(decode_transfer(raw, CHAIN))
        return out


def run_executor(wallets: Wallets, sizes):
    """An executor fed mini-batches of these sizes; its sealed proof batches, all of them."""
    ex = Executor(wallets.genesis, log2_rows=LOG2, batch_deadline=None)
    sealed, parent = [], bytes(32)
    for number, n in enumerate(sizes, start=1):
        ts = wallets.transfers(n)
        mb = MiniBatch(number, parent, block_hash(parent, number, ts), 0.0, ts)
        parent = mb.hash
        sealed += ex.apply(mb)
        if number % 3 == 0:
            sealed.append(ex.seal())
    last = ex.seal()
    if last is not None:
        sealed.append(last)
    return ex, sealed


def l1_batches(ex: Executor, sealed, commit) -> list[L1Batch]:
    """What the L1 holds of each batch: its published data, read back, and its new state's
    commitment (the next batch's old state; the executor's state after the last)."""
    out = []
    for k, batch in enumerate(sealed):
        data = read_batch_data(batch_data(ledger_job(batch)), LOG2)
        if k + 1 < len(sealed):
            after = commit(sealed[k + 1].old_addresses, sealed[k + 1].old_balances)
        else:
            after = commit.state(ex.state)
        out.append(L1Batch(batch.index + 1, data.transfers, data.claims, data.bridge, after))
    return out


def accounts_of(genesis: Genesis) -> list[tuple[int, int]]:
    return [(int.from_bytes(a, "big"), b) for a, b in genesis.accounts()]


def test_replay_rebuilds_the_executors_state(commit):
    wallets = Wallets(random.Random(1))
    ex, sealed = run_executor(wallets, [3, 5, 9, 2, 7, 4, 6, 1])
    assert len(sealed) >= 4 and sum(len(b.transfers) for b in sealed) == 37
    batches = l1_batches(ex, sealed, commit)
    genesis_state = LedgerState.from_genesis(wallets.genesis, 1 << LOG2)
    seen = []
    out = rebuild(accounts_of(wallets.genesis), commit.state(genesis_state), batches, 1 << LOG2,
                  commit.state, on_batch=lambda b, so_far: seen.append((b.index, so_far.rows)))
    assert out.state.addresses == ex.state.addresses
    assert out.state.balances == ex.state.balances
    assert out.state.nonces == ex.state.nonces
    assert [out.state.nonce(address_of(k)) for k in wallets.keys] == wallets.nonces
    assert out.batches == len(sealed) and out.rows == 37
    assert out.state_commitment == batches[-1].state_commitment
    assert [i for i, _ in seen] == list(range(1, len(sealed) + 1))


def test_a_batch_whose_state_differs_is_named(commit):
    wallets = Wallets(random.Random(2))
    ex, sealed = run_executor(wallets, [4] * 9)
    batches = l1_batches(ex, sealed, commit)
    genesis = commit.state(LedgerState.from_genesis(wallets.genesis, 1 << LOG2))
    # Batch 2's data with one amount changed: the data no longer leads to the L1's state.
    f, d, v = batches[1].transfers[0]
    forged = batches[:1] + [L1Batch(2, [(f, d, v + 1)] + batches[1].transfers[1:], batches[1].claims,
                                    batches[1].bridge, batches[1].state_commitment)] + batches[2:]
    with pytest.raises(SyncMismatch, match="^batch 2: the rebuilt state commits to 0x[0-9a-f]{64}, the L1's"):
        rebuild(accounts_of(wallets.genesis), genesis, forged, 1 << LOG2, commit.state)
    # Genesis accounts that do not commit to the genesis commitment.
    other = [(a, b + 1) for a, b in accounts_of(wallets.genesis)]
    with pytest.raises(SyncMismatch, match="^genesis: the L1's genesis accounts commit to"):
        rebuild(other, genesis, batches, 1 << LOG2, commit.state)
    # A gap in the batches.
    with pytest.raises(SyncMismatch, match="batch 3 follows batch 1"):
        rebuild(accounts_of(wallets.genesis), genesis, [batches[0], batches[2]], 1 << LOG2, commit.state)


def state_with(*balances: int) -> LedgerState:
    s = LedgerState(8)
    for k, b in enumerate(balances):
        s.balances[s.claim(bytes([k + 1]) * 20)] = b
    return s


def test_bridge_rows_and_nonces():
    s = state_with(100, 50)
    a1, new = (int.from_bytes(bytes([k]) * 20, "big") for k in (2, 3))
    batch = L1Batch(1, [(0, 1, 30),          # transfer 0 → 1
                        (2, 2, 500),         # deposit to slot 2, claimed in this batch
                        (1, 1, 70),          # withdrawal from slot 1 (to the L1)
                        (0, 0, 9),           # refund: moves nothing on the L2
                        (0, 0, 0),           # an unused row
                        (2, 0, 5)],          # transfer 2 → 0
                    [(2, new)], [(1, 1, new), (2, 2, a1), (3, 3, 0xdead)], b"")
    deposits, withdrawals = replay_batch(s, batch)
    assert (deposits, withdrawals) == (2, 1)
    assert s.balances[:3] == [75, 10, 495]
    assert s.nonces[:3] == [1, 1, 1]
    assert s.addresses[2] == bytes([3]) * 20


@pytest.mark.parametrize("batch, why", [
    (L1Batch(1, [(0, 1, 101)], [], [], b""), "batch 1 leaves slot 0 with balance -1"),
    (L1Batch(1, [(0, 3, 1)], [], [], b""), "batch 1 row 0: slots 0 → 3 are not both claimed"),
    (L1Batch(1, [], [(3, 7)], [], b""), "batch 1 claims slot 3, but the next free slot is 2"),
    (L1Batch(1, [], [(2, int.from_bytes(bytes([1]) * 20, "big"))], [], b""), "which holds slot 0"),
    (L1Batch(1, [(1, 1, 5)], [], [(1, 1, 1)], b""), "bridge records for rows \\[1\\], past its 1 rows"),
    (L1Batch(1, [(1, 1, 5)], [], [(0, 1, 7)], b""), "a deposit to slot 1 names 0x0+7, not the slot's"),
    (L1Batch(1, [(1, 1, 5)], [], [(0, 3, 7)], b""), "a refund names slots 1 and 1"),
    (L1Batch(1, [(0, 1, 5)], [], [(0, 2, 7)], b""), "a withdrawal names slots 0 and 1"),
    (L1Batch(1, [(0, 1, 5)], [], [(0, 1, 7)], b""), "a deposit names slots 0 and 1"),
    (L1Batch(1, [(1, 1, 5)], [], [(0, 7, 7)], b""), "row 0: unknown bridge kind 7"),
])
def test_data_no_state_follows_from_is_refused_whole(batch, why):
    s = state_with(100, 50)
    before = (list(s.addresses), list(s.balances), list(s.nonces))
    with pytest.raises(SyncMismatch, match=why):
        replay_batch(s, batch)
    assert (s.addresses, s.balances, s.nonces) == before


def test_a_node_continues_the_data_dir(commit, tmp_path):
    from node.sequencer import Sequencer

    wallets = Wallets(random.Random(3))
    ex, sealed = run_executor(wallets, [5, 6, 7, 3])
    batches = l1_batches(ex, sealed, commit)
    out = rebuild(accounts_of(wallets.genesis), commit.state(LedgerState.from_genesis(wallets.genesis, 1 << LOG2)),
                  batches, 1 << LOG2, commit.state)
    genesis = genesis_of(CHAIN, accounts_of(wallets.genesis))
    assert genesis.digest == wallets.genesis.digest
    meta = {"chain_id": CHAIN, "log2_rows": LOG2, "seed": "s", "l1": "http://127.0.0.1:1", "rollup": "0x" + "11" * 20}
    (tmp_path / "d").mkdir()                 # an empty directory is taken as well as none
    continue_data_dir(tmp_path / "d", genesis, out, meta)
    with pytest.raises(DataDirMismatch, match="is not empty; rebuild into a new directory"):
        continue_data_dir(tmp_path / "d", genesis, out, meta)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]      # nothing left beside it

    snapshot, skipped = load_newest(tmp_path / "d" / "snapshots", genesis.digest, 1 << LOG2)
    assert skipped == [] and snapshot.height == len(batches) + 1
    seq = Sequencer(genesis, tmp_path / "d" / "sequencer.wal", capacity=1 << LOG2, snapshot=snapshot)
    try:
        assert seq.snapshot is snapshot and seq.height == len(batches) + 1
        node = Executor(genesis, log2_rows=LOG2, batch_deadline=None)
        node.restore(snapshot)
        node.replay(seq.take_replayed())
        assert (node.state.balances, node.state.nonces) == (ex.state.balances, ex.state.nonces)
        # The empty block after the batches closes the last one: the finalized block, served.
        assert node.batch_count == len(batches) and node.finalized_height == len(batches) + 1
        assert node.block(node.finalized_height).transfers == []
        # New transfers from the continued state, through the sequencer's checks and the log.
        raws = [sign_transfer(wallets.keys[0], chain_id=CHAIN, nonce=wallets.nonces[0] + k,
                              to=wallets.fresh[0], value=11) for k in range(2)]
        results, ticket = seq.admit(seq.recover(raws))
        assert all(r.to == wallets.fresh[0] for r in results)
        mb = seq.cut()
        node.apply(mb)
        batch = node.seal()
        assert batch.index == len(batches) and batch.first_block == len(batches) + 2
        assert batch.old_balances == ex.state.balances
        assert node.balance(wallets.fresh[0]) == ex.balance(wallets.fresh[0]) + 22
        assert node.nonce_at(address_of(wallets.keys[0]), len(batches) + 1) == wallets.nonces[0]
        assert node.snapshot(genesis.digest).height == len(batches) + 2
    finally:
        seq.wal.close()


# -- `zkpipe sync` against anvil --------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
SEED = b"zkpipe devnet"     # the development keys `zkpipe node` (and so `zkpipe sync`) use


def zkpipe_sync(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "node.cli", "sync", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def anvil():
    from node.l1.anvil import find_anvil, launch_anvil
    if find_anvil() is None:
        pytest.skip("anvil is not installed (scripts/setup.sh)")
    node = launch_anvil()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def ledger_keys():
    from prover.keys import dev_keys
    circuit = LedgerCircuit(LOG2)
    return circuit, *dev_keys(circuit.air(), LOG2, SEED)


def deploy(anvil, ledger_keys, accounts, genesis_state=None):
    from node.l1.rollup import RollupContract
    from node.l1.rpc import RpcL1
    circuit, pk, vk = ledger_keys
    if genesis_state is None:
        genesis_state = circuit.state_commitment(pk, [a for a, _ in accounts], [b for _, b in accounts])
    l1 = RpcL1(anvil.url)
    return RollupContract.deploy(l1, circuit.air(), vk, circuit.layout(), genesis_state,
                                 l2_chain_id=CHAIN, genesis_accounts=accounts)


def prove_and_submit(rollup, ledger_keys, job):
    from circuits.ledger_trace import build_trace
    from kernels import get_backend
    from prover.inputs import public_input_values
    from prover.prove import prove
    circuit, pk, _ = ledger_keys
    air = circuit.air()
    trace, pub = build_trace(job)
    proof = prove(air, pk, trace, pub, get_backend("cpu"))
    rollup.submit_batch(job.batch_index, proof.to_bytes(), public_input_values(air, pub)).check()


def test_sync_rebuilds_from_anvil_and_refuses_what_does_not_rebuild(anvil, ledger_keys, tmp_path):
    wallets = Wallets(random.Random(4))
    accounts = accounts_of(wallets.genesis)
    rollup = deploy(anvil, ledger_keys, accounts)
    ex, sealed = run_executor(wallets, [3, 4, 6, 2])
    for batch in sealed:
        job = ledger_job(batch)
        job.batch_index = batch.index + 1
        prove_and_submit(rollup, ledger_keys, job)
    assert rollup.last_batch_index() == len(sealed) >= 2

    done = zkpipe_sync("--l1", anvil.url, "--rollup", rollup.address, "--log2-rows", str(LOG2), "--json",
                       "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-2])
    assert report["batches"] == len(sealed)
    assert report["state_commitment"] == "0x" + rollup.state_commitment().hex()
    assert {a: (int(v["balance"]), v["nonce"]) for a, v in report["accounts"].items()} == \
        {"0x" + a.hex(): (ex.state.balance(a), ex.state.nonce(a)) for a in ex.state.addresses}
    assert "equals the L1's" in done.stdout and (tmp_path / "d" / "node.json").exists()
    again = zkpipe_sync("--l1", anvil.url, "--rollup", rollup.address, "--log2-rows", str(LOG2),
                        "--data-dir", str(tmp_path / "d"))
    assert again.returncode == 2 and "is not empty; rebuild into a new directory" in again.stderr

    # Genesis accounts that do not commit to the genesis state commitment: refused, exit 1.
    circuit, pk, _ = ledger_keys
    other = deploy(anvil, ledger_keys, accounts, genesis_state=circuit.state_commitment(pk, [7], [7]))
    refused = zkpipe_sync("--l1", anvil.url, "--rollup", other.address, "--log2-rows", str(LOG2))
    assert refused.returncode == 1
    assert "genesis: the L1's genesis accounts commit to 0x" in refused.stderr
    # The same L1 read with another circuit size: not the rollup of those keys.
    refused = zkpipe_sync("--l1", anvil.url, "--rollup", rollup.address, "--log2-rows", str(LOG2 + 1))
    assert refused.returncode == 1
    assert (f"the contract at {rollup.address} is not the rollup of the ledger circuit at 2^{LOG2 + 1}"
            in refused.stderr)

    # A batch the L1 verified (the circuit lets any empty slot be claimed) that this ledger, whose
    # slots fill in order, cannot hold: refused, naming the batch.
    odd = deploy(anvil, ledger_keys, accounts)
    from circuits.ledger_job import LedgerJob
    job = LedgerJob(batch_index=1, log2_rows=LOG2, old_addresses=[a for a, _ in accounts],
                    old_balances=[b for _, b in accounts], transfers=[(0, 9, 5)], claims=[(9, 0xabc)])
    prove_and_submit(odd, ledger_keys, job)
    refused = zkpipe_sync("--l1", anvil.url, "--rollup", odd.address, "--log2-rows", str(LOG2),
                          "--data-dir", str(tmp_path / "odd"))
    assert refused.returncode == 1
    assert "batch 1 claims slot 9, but the next free slot is 3" in refused.stderr
    assert not (tmp_path / "odd" / "node.json").exists()


@pytest.mark.parametrize("args, why", [
    (["--l1", "ws://127.0.0.1:1", "--rollup", "0x" + "11" * 20], "--l1 must be an http(s) JSON-RPC URL"),
    (["--l1", "http://127.0.0.1:1", "--rollup", "0x1234"], "--rollup must be a 20-byte 0x-hex address"),
    (["--l1", "http://127.0.0.1:1", "--rollup", "0x" + "11" * 20, "--log2-rows", "2"], "--log2-rows must lie in"),
    (["--rollup", "0x" + "11" * 20], "the following arguments are required: --l1"),
    (["--l1", "http://127.0.0.1:1", "--rollup", "0x" + "11" * 20, "--log2-rows", "x"], "invalid int value"),
])
def test_bad_arguments_exit_2(args, why):
    done = zkpipe_sync(*args)
    assert done.returncode == 2 and why in done.stderr


def test_an_l1_that_does_not_answer_exits_1():
    from node.l1.anvil import free_port
    done = zkpipe_sync("--l1", f"http://127.0.0.1:{free_port()}", "--rollup", "0x" + "11" * 20,
                       "--log2-rows", str(LOG2))
    assert done.returncode == 1 and "no JSON-RPC node answers" in done.stderr


# -- a devnet on anvil, its data directory deleted, rebuilt and continued --------------------

CAST = REPO / "tests" / "clients" / "node_modules" / ".bin" / "cast"


@pytest.mark.slow
@pytest.mark.skipif(not CAST.exists(), reason="cast not installed (bash scripts/setup.sh)")
def test_node_rebuilt_from_anvil_alone_continues(anvil, tmp_path):
    """`zkpipe node` on anvil: transfers, a deposit and a withdrawal, all verified; the node is
    stopped and its data directory deleted; `zkpipe sync` rebuilds the same accounts and the L1's
    state commitment from anvil alone; `zkpipe node` on the rebuilt directory serves them, takes
    a deposit queued meanwhile and proves it and a transfer sent with cast onto the same rollup."""
    pytest.importorskip("ray")
    import shutil

    from circuits.ledger import Ledger
    from node.bridge import WITHDRAWAL_ADDRESS
    from node.l1.rollup import RollupContract
    from node.l1.rpc import RpcL1
    from prover.keys import dev_keys

    from .test_node_service_support import CHAIN as NODE_CHAIN
    from .test_node_service_support import LOG2_ROWS, NodeProcess, Sender, make_genesis, wait_for

    gpath = tmp_path / "genesis.json"
    _, keys = make_genesis(gpath)
    fresh, depositor = os.urandom(20), os.urandom(20)
    sender = Sender(keys, [fresh, address_of(keys[1])])
    node = NodeProcess(tmp_path / "data", gpath, "--l1", anvil.url, log=tmp_path / "node.log")
    try:
        url = node.wait_running()
        address = json.loads((tmp_path / "data" / "node.json").read_text())["rollup"]
        _, vk = dev_keys(Ledger(LOG2_ROWS), LOG2_ROWS, SEED)
        circuit = LedgerCircuit(LOG2_ROWS)
        rollup = RollupContract.at(RpcL1(anvil.url), circuit.air(), vk, circuit.layout(), address)
        assert sender.send(url, 10) == 10
        rollup.deposit(depositor, 12345).check()
        nonce = int(sender.rpc(url, "eth_getTransactionCount", "0x" + address_of(keys[2]).hex(), "latest"), 16)
        sender.rpc(url, "eth_sendRawTransaction", "0x" + sign_transfer(
            keys[2], chain_id=NODE_CHAIN, nonce=nonce, to=WITHDRAWAL_ADDRESS, value=777).hex())
        wait_for(lambda: int(sender.rpc(url, "eth_getBalance", "0x" + depositor.hex(), "latest"), 16) == 12345,
                 60, "the deposit credited on the L2")
        wait_for(lambda: sender.all_finalized(url), 120, "every block verified on the L1")
        people = [address_of(k) for k in keys] + [fresh, depositor]
        seen = {"0x" + a.hex(): (int(sender.rpc(url, "eth_getBalance", "0x" + a.hex(), "latest"), 16),
                                 int(sender.rpc(url, "eth_getTransactionCount", "0x" + a.hex(), "latest"), 16))
                for a in people}
        assert node.stop() == 0
    finally:
        node.kill()
    batches = rollup.last_batch_index()
    assert batches >= 1 and rollup.deposits_consumed() == 1
    shutil.rmtree(tmp_path / "data")
    late = os.urandom(20)
    rollup.deposit(late, 999).check()        # queued while no node runs: the rebuilt one takes it

    done = zkpipe_sync("--l1", anvil.url, "--rollup", address, "--log2-rows", str(LOG2_ROWS), "--json",
                       "--data-dir", str(tmp_path / "rebuilt"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-2])
    assert report["state_commitment"] == "0x" + rollup.state_commitment().hex()
    assert (report["batches"], report["deposits"], report["withdrawals"]) == (batches, 1, 1)
    rebuilt = {a: (int(v["balance"]), v["nonce"]) for a, v in report["accounts"].items()}
    assert rebuilt == seen

    # Idle blocks off: what is checked here is the rebuilt chain's shape (its blocks and tags).
    node = NodeProcess(tmp_path / "rebuilt", gpath, "--l1", anvil.url, "--idle-block-interval", "off",
                       log=tmp_path / "again.log")
    try:
        url = node.wait_running()
        assert any(line.startswith("resumed: ") for line in node.printed), node.output()
        for a, (balance, nonce) in seen.items():
            assert int(sender.rpc(url, "eth_getBalance", a, "latest"), 16) == balance
            assert int(sender.rpc(url, "eth_getTransactionCount", a, "latest"), 16) == nonce
        # The rebuilt chain ends at block batches + 1, final (it is the L1's state); the deposit
        # queued meanwhile may already be in a block after it (the node reads the L1's queue
        # within half a second of starting), so at most one more block, and none before it.
        head = int(sender.rpc(url, "eth_blockNumber"), 16)
        assert head in (batches + 1, batches + 2)
        assert int(sender.rpc(url, "eth_getBlockByNumber", hex(batches + 1), False)["number"], 16) == batches + 1
        assert batches + 1 <= int(sender.rpc(url, "eth_getBlockByNumber", "finalized", False)["number"], 16) <= head + 1
        # Blocks before the rebuilt state were never on the L1: a clear error, not a guess.
        with pytest.raises(RuntimeError, match=f"'message': 'block 1 is not available: this node prunes block history "
                                                     f"and serves blocks {batches + 1}\\.\\."):
            sender.rpc(url, "eth_getBlockByNumber", "0x1", False)
        fees = sender.rpc(url, "eth_feeHistory", "0xa", "latest", [50])     # as wallets ask it
        assert int(fees["oldestBlock"], 16) == batches + 1 and len(fees["gasUsedRatio"]) in (1, 2)
        # A wallet's own flow on the rebuilt node (nonce, fees, receipt): foundry's cast.
        sent = subprocess.run([str(CAST), "send", "--rpc-url", url, "--private-key", "0x" + keys[0].hex(),
                               "0x" + fresh.hex(), "--value", "5", "--json"],
                              capture_output=True, text=True, timeout=60)
        assert sent.returncode == 0 and json.loads(sent.stdout)["status"] == "0x1", sent.stderr
        wait_for(lambda: int(sender.rpc(url, "eth_getBalance", "0x" + late.hex(), "latest"), 16) == 999,
                 60, "the deposit queued meanwhile credited")
        wait_for(lambda: sender.all_finalized(url), 120, "the new transfer verified on the L1")
        assert node.stop() == 0
    finally:
        node.kill()
    assert rollup.last_batch_index() > batches and rollup.deposits_consumed() == 2
    # The continued chain rebuilds too, from the L1 alone.
    done = zkpipe_sync("--l1", anvil.url, "--rollup", address, "--log2-rows", str(LOG2_ROWS))
    assert done.returncode == 0 and f"rebuilt {rollup.last_batch_index()} batches" in done.stdout, done.stderr
    assert "2 deposits, 1 withdrawals" in done.stdout


def test_an_l1_without_batches_is_continued_from_genesis(commit, tmp_path):
    from node.sequencer import Sequencer

    wallets = Wallets(random.Random(5))
    accounts = accounts_of(wallets.genesis)
    genesis_commitment = commit.state(LedgerState.from_genesis(wallets.genesis, 1 << LOG2))
    out = rebuild(accounts, genesis_commitment, [], 1 << LOG2, commit.state)
    assert (out.batches, out.state_commitment) == (0, genesis_commitment)
    genesis = genesis_of(CHAIN, accounts)
    continue_data_dir(tmp_path / "d", genesis, out, {"chain_id": CHAIN})
    snapshot, _ = load_newest(tmp_path / "d" / "snapshots", genesis.digest, 1 << LOG2)
    seq = Sequencer(genesis, tmp_path / "d" / "sequencer.wal", capacity=1 << LOG2, snapshot=snapshot)
    try:
        node = Executor(genesis, log2_rows=LOG2, batch_deadline=None)
        node.restore(snapshot)
        # Block 1 is empty and holds the genesis state: final (docs/node.md, "Idle blocks").
        assert (node.height, node.batch_count, node.finalized_height) == (1, 0, 1)
        results, _ = seq.admit(seq.recover([sign_transfer(wallets.keys[1], chain_id=CHAIN, nonce=0,
                                                          to=wallets.fresh[1], value=5)]))
        assert results[0].to == wallets.fresh[1]
        node.apply(seq.cut())
        assert node.seal().index == 0            # the L1's batch 1
    finally:
        seq.wal.close()


def test_a_genesis_file_needs_accounts_by_ascending_address():
    accounts = [(0x22 << 152, 5), (0x11 << 152, 7)]
    with pytest.raises(SyncMismatch, match="another order than ascending address"):
        genesis_of(CHAIN, accounts)
    with pytest.raises(SyncMismatch, match="genesis: address 0x11.* holds slots 0 and 1"):
        rebuild([(0x11 << 152, 1), (0x11 << 152, 2)], b"", [], 8, lambda s: b"")
    with pytest.raises(SyncMismatch, match="genesis slot 0: 0 is not a non-zero 20-byte address"):
        rebuild([(0, 1)], b"", [], 8, lambda s: b"")
    with pytest.raises(SyncMismatch, match="genesis: 3 accounts do not fit the ledger's 2 slots"):
        rebuild([(1, 1), (2, 1), (3, 1)], b"", [], 2, lambda s: b"")


def test_deployed_code_differs_from_compiled_only_in_immutables():
    from node.sync_command import runs_compiled_code
    compiled = b"\x60\x01" + bytes(32) + b"\x56\x00\x5b" + bytes(32)
    filled = b"\x60\x01" + bytes(12) + b"\xaa" * 20 + b"\x56\x00\x5b" + bytes(31) + b"\x07"
    assert runs_compiled_code(compiled, compiled) and runs_compiled_code(filled, compiled)
    assert not runs_compiled_code(filled[:-1], compiled)                      # another length
    assert not runs_compiled_code(b"\x60\x02" + filled[2:], compiled)          # code changed
    assert not runs_compiled_code(filled[:35] + b"\x01" + filled[36:], compiled)  # a lone zero byte
