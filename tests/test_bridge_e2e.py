"""The bridge end to end, with real processes only: anvil as the L1, `zkpipe node` in a process of
its own, foundry's cast for the L1 side as a user would type it. A deposit on the L1 is credited
on the L2; the node is killed with SIGKILL after it saw the deposit and before any batch reached
the L1 (an HTTP relay holds its transactions), and the restarted node neither loses nor repeats
the deposit; transfers and withdrawals follow (one of value deposited, one of genesis value, so
the escrow of the genesis total pays it); once their batch is verified, `zkpipe_getWithdrawal`
gives the path, `withdraw` pays the L1 recipient exactly the amount, and a second claim is
refused. A deposit the L2 cannot credit is refunded the same way, to its L2 address on the L1.
With `--l1-confirmations`, a deposit that an L1 reorganisation takes back is never credited, and
one that stays is credited once the L1 has the blocks on top of it."""

import json
import subprocess
import time

import pytest

pytest.importorskip("ray")

from node.bridge import WITHDRAWAL_ADDRESS, deposit_hash  # noqa: E402
from node.l1.anvil import find_anvil, launch_anvil  # noqa: E402
from node.transactions import address_of, sign_transfer  # noqa: E402

from .test_eth_clients import CAST  # noqa: E402
from .test_node_service_support import (CHAIN, HoldingRelay, NodeProcess, Sender, make_genesis,  # noqa: E402
                                        wait_for, wal_replay)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(find_anvil() is None or not CAST.exists(),
                                 reason="anvil or cast is not installed (scripts/setup.sh)")]

# anvil's development accounts 1 and 2 (account 0 is the node's submitter)
DEPOSITOR_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
CLAIMER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
USER_KEY = bytes.fromhex("33" * 32)           # an L2 user with nothing on the L1
USER = "0x" + address_of(USER_KEY).hex()
DEPOSIT, SENT, WITHDRAWN, GENESIS_WITHDRAWN, REFUNDED = 10**15, 10**14, 3 * 10**14, 12345, 777


def cast(*args, ok=True):
    out = subprocess.run([str(CAST), *args], capture_output=True, text=True, timeout=120)
    if ok:
        assert out.returncode == 0, out.stderr
    return out


def test_deposit_transfer_withdraw_claim_once_across_a_kill(tmp_path):
    anvil = launch_anvil()
    relay = HoldingRelay(anvil.url)
    gpath = tmp_path / "genesis.json"
    genesis, keys = make_genesis(gpath)
    l2 = Sender(keys, [])
    data, log = tmp_path / "data", tmp_path / "node.log"
    node = None
    try:
        node = NodeProcess(data, gpath, "--l1", relay.url, log=log)
        url = node.wait_running()             # the rollup deployed; no batch yet (nothing sent)
        relay.set("reads")                    # from now on the node sees the L1 but sends nothing to it
        rollup = json.loads((data / "node.json").read_text())["rollup"]
        escrow = int(cast("balance", rollup, "--rpc-url", anvil.url).stdout)
        assert escrow == sum(genesis.alloc.values())

        # 1. deposit on the L1, with cast; credited on the L2 as a transaction of type 0x7e
        cast("send", rollup, "deposit(address)", USER, "--value", str(DEPOSIT), "--private-key", DEPOSITOR_KEY,
             "--rpc-url", anvil.url)
        wait_for(lambda: int(l2.rpc(url, "eth_getBalance", USER, "latest"), 16) == DEPOSIT, 30, "the deposit credited")
        h = "0x" + deposit_hash(0).hex()
        assert l2.rpc(url, "eth_getTransactionReceipt", h)["status"] == "0x1"

        # 2. kill -9 after the deposit was seen, before its batch reached the L1
        node.kill()
        assert cast("call", rollup, "depositsConsumed()(uint256)", "--rpc-url", anvil.url).stdout.split()[0] == "0"
        relay.set("pass")
        node = NodeProcess(data, gpath, "--l1", relay.url, log=log)
        url = node.wait_running()
        assert int(l2.rpc(url, "eth_getBalance", USER, "latest"), 16) == DEPOSIT

        # 3. a deposit the L2 cannot credit (to the withdrawal address: refunded on the L1), a
        #    transfer and two withdrawals (one of deposited value, one of genesis value)
        cast("send", rollup, "deposit(address)", "0x" + WITHDRAWAL_ADDRESS.hex(), "--value", str(REFUNDED),
             "--private-key", DEPOSITOR_KEY, "--rpc-url", anvil.url)
        refund = "0x" + deposit_hash(1).hex()
        wait_for(lambda: l2.rpc(url, "eth_getTransactionReceipt", refund) is not None, 30, "the refund executed")
        assert l2.rpc(url, "eth_getTransactionReceipt", refund)["status"] == "0x0"
        raws = [sign_transfer(USER_KEY, chain_id=CHAIN, nonce=0, to=bytes(19) + b"\x99", value=SENT),
                sign_transfer(USER_KEY, chain_id=CHAIN, nonce=1, to=WITHDRAWAL_ADDRESS, value=WITHDRAWN),
                sign_transfer(keys[0], chain_id=CHAIN, nonce=0, to=WITHDRAWAL_ADDRESS, value=GENESIS_WITHDRAWN)]
        hashes = [l2.rpc(url, "eth_sendRawTransaction", "0x" + raw.hex()) for raw in raws] + [refund]
        claims = {}

        def verified():
            for tx in hashes[1:]:
                w = l2.rpc(url, "zkpipe_getWithdrawal", tx)
                if w["status"] != "verified":
                    return False
                claims[tx] = w
            return True
        wait_for(verified, 240, "the withdrawals' batches verified on the L1")
        assert int(l2.rpc(url, "eth_getBalance", USER, "latest"), 16) == DEPOSIT - SENT - WITHDRAWN
        assert cast("call", rollup, "depositsConsumed()(uint256)", "--rpc-url", anvil.url).stdout.split()[0] == "2"

        # 4. the claims, sent by a third account: each recipient receives exactly its amount, once
        already = cast("sig", "AlreadyWithdrawn(uint256,uint256)").stdout.strip()
        for tx, recipient, amount in [(hashes[1], USER, WITHDRAWN),
                                      (hashes[2], "0x" + address_of(keys[0]).hex(), GENESIS_WITHDRAWN),
                                      (refund, "0x" + WITHDRAWAL_ADDRESS.hex(), REFUNDED)]:
            w = claims[tx]
            assert (w["recipient"], int(w["amount"], 16)) == (recipient, amount)
            args = ["send", rollup, "withdraw(uint256,uint256,address,uint256,bytes32[])", str(int(w["batchIndex"], 16)),
                    str(int(w["index"], 16)), w["recipient"], str(amount), "[" + ",".join(w["path"]) + "]",
                    "--private-key", CLAIMER_KEY, "--rpc-url", anvil.url]
            before = int(cast("balance", recipient, "--rpc-url", anvil.url).stdout)
            cast(*args)
            assert int(cast("balance", recipient, "--rpc-url", anvil.url).stdout) == before + amount
            again = cast(*args, ok=False)       # refused: AlreadyWithdrawn(batchIndex, index)
            assert again.returncode != 0 and already in again.stderr, again.stderr
            assert int(cast("balance", recipient, "--rpc-url", anvil.url).stdout) == before + amount
            assert l2.rpc(url, "zkpipe_getWithdrawal", tx)["status"] == "withdrawn"
        assert int(cast("balance", rollup, "--rpc-url", anvil.url).stdout) == \
            escrow + DEPOSIT - WITHDRAWN - GENESIS_WITHDRAWN
        assert node.stop() == 0, node.output()
        node = None

        # the log holds the deposit once, and it was credited once
        ex = wal_replay(data, genesis)
        executed = [t.hash for b in ex.blocks[1:] for t in b.transfers]
        assert executed.count(deposit_hash(0)) == 1 and ex.deposits == 2
    finally:
        if node is not None:
            node.kill()
        relay.close()
        anvil.stop()


def test_a_deposit_waits_for_its_confirmations_and_a_reorganised_one_is_never_credited(tmp_path):
    anvil = launch_anvil()
    gpath = tmp_path / "genesis.json"
    make_genesis(gpath)
    l2 = Sender([], [])
    data = tmp_path / "data"
    gone, kept = "0x" + "d1" * 20, "0x" + "d2" * 20
    node = NodeProcess(data, gpath, "--l1", anvil.url, "--l1-confirmations", "3", log=tmp_path / "node.log")
    try:
        url = node.wait_running()
        rollup = json.loads((data / "node.json").read_text())["rollup"]

        def balance(address):
            return int(l2.rpc(url, "eth_getBalance", address, "latest"), 16)

        def deposit(address, amount):
            cast("send", rollup, "deposit(address)", address, "--value", str(amount), "--private-key", DEPOSITOR_KEY,
                 "--rpc-url", anvil.url)

        def queued():
            return int(cast("call", rollup, "depositCount()(uint256)", "--rpc-url", anvil.url).stdout.split()[0])

        # A deposit in the newest L1 block, which a reorganisation then takes out of the chain:
        # never handed to the L2, however deep the chain grows afterwards.
        snapshot = cast("rpc", "evm_snapshot", "--rpc-url", anvil.url).stdout.strip().strip('"')
        deposit(gone, 1000)
        assert queued() == 1
        time.sleep(3)                          # six polls of the L1
        assert balance(gone) == 0 and l2.rpc(url, "eth_getTransactionReceipt", "0x" + deposit_hash(0).hex()) is None
        cast("rpc", "evm_revert", snapshot, "--rpc-url", anvil.url)
        assert queued() == 0
        cast("rpc", "anvil_mine", "5", "--rpc-url", anvil.url)
        time.sleep(3)
        assert balance(gone) == 0

        # Another deposit takes queue index 0: credited only once three blocks lie on top of it,
        # then consumed on the L1 by a verified batch like any other.
        deposit(kept, 2000)
        time.sleep(3)
        assert balance(kept) == 0
        cast("rpc", "anvil_mine", "2", "--rpc-url", anvil.url)
        time.sleep(3)
        assert balance(kept) == 0              # two blocks on top of it: not yet
        cast("rpc", "anvil_mine", "1", "--rpc-url", anvil.url)
        wait_for(lambda: balance(kept) == 2000, 30, "the deposit credited at three confirmations")
        wait_for(lambda: cast("call", rollup, "depositsConsumed()(uint256)", "--rpc-url", anvil.url).stdout.split()[0]
                 == "1", 120, "the deposit's batch verified on the L1")
        assert balance(gone) == 0
        assert sum("deposits 0..0 from the L1" in line for line in node.printed) == 1, node.output()
        assert node.stop() == 0, node.output()
        node = None
    finally:
        if node is not None:
            node.kill()
        anvil.stop()
