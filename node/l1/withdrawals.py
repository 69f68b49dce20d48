"""The withdrawal tree of a batch: the Merkle tree whose root the rollup contract stores for
each verified batch that exports withdrawals (docs/bridge.md), and the paths that claim them.

A leaf is keccak256(recipient (20 bytes) ‖ amount (8 bytes, big-endian)), one per withdrawal
or refund record of the batch, in row order. The leaves are padded with 32 zero bytes to a
power of two and hashed pairwise, keccak256(left ‖ right), level by level: one leaf is its own
root. A path lists the sibling at each level, leaf level first; Rollup.withdraw walks it with
the leaf's index bits (bit i = 1: the node is the right child at level i).
"""

from __future__ import annotations

from eth_utils import keccak

from kernels.errors import InvalidInput

AMOUNT_BYTES = 8
EMPTY_LEAF = bytes(32)


def withdrawal_leaf(recipient: int, amount: int) -> bytes:
    """The leaf of a withdrawal of `amount` wei to the L1 address `recipient` (an int)."""
    if not 0 <= recipient < 1 << 160:
        raise InvalidInput(f"withdrawal recipient {recipient:#x} is not a 20-byte address")
    if not 0 <= amount < 1 << (8 * AMOUNT_BYTES):
        raise InvalidInput(f"withdrawal amount {amount} is outside [0, 2^64)")
    return keccak(recipient.to_bytes(20, "big") + amount.to_bytes(AMOUNT_BYTES, "big"))


def hash_pair(left: bytes, right: bytes) -> bytes:
    return keccak(left + right)


def withdrawal_tree(leaves: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """(root, paths) of `leaves` (each 32 bytes), paths[i] the siblings of leaf i from the leaf
    level up. InvalidInput for no leaves: a batch without withdrawals has no tree (the
    contract stores no root for it)."""
    if not leaves:
        raise InvalidInput("a withdrawal tree needs at least one leaf")
    if any(len(leaf) != 32 for leaf in leaves):
        raise InvalidInput("withdrawal leaves are 32 bytes each")
    width = 1
    while width < len(leaves):
        width <<= 1
    level = [bytes(leaf) for leaf in leaves] + [EMPTY_LEAF] * (width - len(leaves))
    paths: list[list[bytes]] = [[] for _ in leaves]
    positions = list(range(len(leaves)))
    while len(level) > 1:
        for i, at in enumerate(positions):
            paths[i].append(level[at ^ 1])
            positions[i] = at >> 1
        level = [hash_pair(level[k], level[k + 1]) for k in range(0, len(level), 2)]
    return level[0], paths


def root_of_path(leaf: bytes, index: int, path: list[bytes]) -> bytes:
    """The root that `path` leads to from `leaf` at `index` (what Rollup.withdraw computes)."""
    node = bytes(leaf)
    for i, sibling in enumerate(path):
        node = hash_pair(node, sibling) if (index >> i) & 1 == 0 else hash_pair(sibling, node)
    return node
