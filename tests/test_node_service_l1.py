"""The embedded L1 continued from its chain file: what a process did survives it, a torn last
line is cut off, a damaged line elsewhere is refused, and one file is one chain."""

import pytest

from node.l1.embedded import EmbeddedL1
from node.l1.errors import L1Error, L1Unavailable

# Stores its calldata's first word in slot 0.
RUNTIME = bytes.fromhex("6000356000550" "0")
INIT = bytes.fromhex("6007600c60003960076000f3") + RUNTIME


def word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def test_chain_survives_its_process(tmp_path):
    path = tmp_path / "chain.jsonl"
    l1 = EmbeddedL1(journal=path)
    address = l1.deploy(INIT, gas=200_000)
    for n in (7, 11):
        assert l1.transact(address, word(n), gas=100_000).status
    block = l1.block_number()
    l1.close()

    again = EmbeddedL1(journal=path)
    assert again.code_at(address).startswith(RUNTIME)
    assert again.evm.storage(address, 0) == 11
    assert again.block_number() == block
    assert [r.status for _, _, r in again.replayed] == [True, True]
    assert again.transact(address, word(13), gas=100_000).status
    again.close()
    assert EmbeddedL1(journal=path).evm.storage(address, 0) == 13


def test_torn_tail_is_cut_and_damage_is_refused(tmp_path):
    path = tmp_path / "chain.jsonl"
    l1 = EmbeddedL1(journal=path)
    address = l1.deploy(INIT, gas=200_000)
    l1.transact(address, word(5), gas=100_000)
    l1.close()
    good = path.read_bytes()
    path.write_bytes(good + b'{"op": "transact", "to": "0x')     # a crash mid-write
    l1 = EmbeddedL1(journal=path)
    assert l1.evm.storage(address, 0) == 5
    l1.close()
    assert path.read_bytes() == good

    lines = good.split(b"\n")
    path.write_bytes(lines[0][:-3] + b"\n" + b"\n".join(lines[1:]))
    with pytest.raises(L1Error, match="damaged at line 1"):
        EmbeddedL1(journal=path)


def test_one_chain_file_one_process(tmp_path):
    path = tmp_path / "chain.jsonl"
    l1 = EmbeddedL1(journal=path)
    with pytest.raises(L1Unavailable, match="held by another process"):
        EmbeddedL1(journal=path)
    l1.close()


def test_no_code_after_a_reset(tmp_path):
    l1 = EmbeddedL1(journal=tmp_path / "a.jsonl")
    address = l1.deploy(INIT, gas=200_000)
    assert l1.code_at(address).startswith(RUNTIME)
    assert EmbeddedL1(journal=tmp_path / "b.jsonl").code_at(address) == b""
