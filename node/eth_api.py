"""The Ethereum JSON-RPC methods of the node, with geth's and anvil's shapes, over a sequencer
(pending state, admission) and an executor (executed blocks, receipts, finality).

What the names mean here (docs/node.md has the table of every method):

- blocks are the sequencer's mini-batches (block 0 is genesis); block tags `latest` and
  `pending` name the last executed block (soft finality), `safe` the last block whose proof
  batch, and every one before it, is proven, `finalized` the last block the L1 has verified,
  `earliest` genesis; EIP-1898 objects (`{"blockHash"}`, `{"blockNumber"}`) are accepted too.
  State queries reach a recent window of blocks (`Executor.HISTORY_*`), and a clear error past it;
  for `eth_getBalance` and `eth_getTransactionCount`, `pending` is the admitted state.
- fees: the ledger charges none. So that every client's fee logic has valid numbers, the node
  quotes a constant base fee of 1 wei and a suggested tip of 1 wei (`eth_gasPrice` = 2 wei); they
  are neither charged nor enforced, and receipts report the `effectiveGasPrice` paid: 0.
- there are no contracts: `eth_getCode` is `0x`, `eth_call` to an address returns `0x`, logs and
  log filters are always empty, `eth_estimateGas` is 21000 for a transfer the node would accept
  and the refusal's message otherwise.
- the bridge (node/bridge.py): a deposit from the L1 is a transaction of type 0x7e (from the L1
  sender, to the L2 address, `sourceIndex` its place in the L1's queue), with receipt status 1
  when credited and 0 when refunded on the L1; `zkpipe_getWithdrawal(txHash)` answers where a
  withdrawal (a transfer to WITHDRAWAL_ADDRESS, or a refunded deposit) is on the L1 and, once its
  batch is verified, the Merkle path `Rollup.withdraw` takes.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from eth_hash.auto import keccak

from .bridge import DEPOSIT_TX_TYPE, Deposit
from .errors import HistoryUnavailable, InvalidTransaction, NodeError
from .eth_filters import BLOCKS, LOGS, PENDING, Filters
from .executor import VERIFIED
from .eth_jsonrpc import (CLIENT_VERSION, INVALID_PARAMS, RESOURCE_NOT_FOUND, SERVER_ERROR,
                          TRANSACTION_REJECTED, JsonRpc, RpcError)
from .l1.withdrawals import withdrawal_leaf, withdrawal_tree
from .transactions import DYNAMIC_FEE, MAX_VALUE, TRANSFER_GAS, transaction_fields

__all__ = ["NodeApi", "BASE_FEE", "SUGGESTED_TIP", "BLOCK_GAS_LIMIT", "MAX_BULK"]

BASE_FEE = 1                        # wei; quoted, never charged (non-zero: ethers reads 0 as "no EIP-1559")
SUGGESTED_TIP = 1                  # wei; likewise
BLOCK_GAS_LIMIT = 30_000_000       # reported (at least gasUsed); a mini-batch is bounded by count
MAX_BULK = 16_000                  # transactions per zkpipe_sendRawTransactions call
MAX_FEE_HISTORY = 1024             # blocks per eth_feeHistory call
WITHDRAWN = "withdrawn"            # a withdrawal's status once claimed on the L1

_EMPTY_BLOOM = "0x" + "00" * 256
_EMPTY_TRIE = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
_EMPTY_UNCLES = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
_ZERO32 = "0x" + "00" * 32
_ZERO20 = "0x" + "00" * 20


def _invalid(i: int, why: str) -> RpcError:
    return RpcError(INVALID_PARAMS, f"invalid argument {i}: {why}")


def _hex_bytes(value: Any, i: int) -> bytes:
    if not isinstance(value, str):
        raise _invalid(i, f"want a 0x-prefixed hex string, got {type(value).__name__}")
    if value[:2] not in ("0x", "0X"):
        raise _invalid(i, "hex string without 0x prefix")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise _invalid(i, "invalid hex string") from None


def _sized(value: Any, i: int, size: int, what: str) -> bytes:
    b = _hex_bytes(value, i)
    if len(b) != size:
        raise _invalid(i, f"hex string has length {2 * len(b)}, want {2 * size} for {what}")
    return b


def _address(value: Any, i: int) -> bytes:
    return _sized(value, i, 20, "an address")


def _hash(value: Any, i: int) -> bytes:
    return _sized(value, i, 32, "a hash")


def _uint(value: Any, i: int, what: str = "quantity") -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value[:2] in ("0x", "0X") and 2 < len(value) <= 66:
        try:
            return int(value[2:], 16)
        except ValueError:
            pass
    raise _invalid(i, f"invalid {what} {str(value)[:80]!r}")


def _q(x: int) -> str:
    return hex(x)


def _h(b: bytes) -> str:
    return "0x" + b.hex()


class NodeApi(JsonRpc):
    """The methods; `handle(body)` (from JsonRpc) answers one HTTP body."""

    def __init__(self, sequencer, executor, *, filters: Optional[Filters] = None, l1_batch_offset: int = 1,
                 withdrawn: Optional[Callable[[int, int], bool]] = None):
        self.sequencer = sequencer
        self.executor = executor
        self.filters = filters or Filters()
        # The L1 numbers proof batches from 1 (0 is genesis), the executor from 0.
        self.l1_batch_offset = l1_batch_offset
        self.withdrawn = withdrawn    # (L1 batch, index) → claimed on the L1? (None: not asked)
        self.methods = {name: getattr(self, name) for name in dir(self)
                        if name.split("_", 1)[0] in ("eth", "net", "web3", "zkpipe", "txpool")
                        and callable(getattr(self, name))}

    # -- protocol hooks ----------------------------------------------------------------------

    def error_for(self, e: Exception) -> Optional[RpcError]:
        if isinstance(e, InvalidTransaction):
            return RpcError(TRANSACTION_REJECTED, str(e))
        if isinstance(e, HistoryUnavailable):
            return RpcError(SERVER_ERROR, str(e))
        if isinstance(e, NodeError):
            return RpcError(SERVER_ERROR, str(e))
        return None

    def call_batch(self, requests: list) -> list[Optional[dict]]:
        """A batch's transactions are admitted together (one `submit_many`), so that a batch
        whose nonces arrive out of order is held and promoted, not refused; the rest one by one."""
        sends = [i for i, r in enumerate(requests) if isinstance(r, dict)
                 and r.get("method") == "eth_sendRawTransaction" and self.check(r)[1] is None]
        if len(sends) < 2:
            return super().call_batch(requests)
        out: list[Optional[dict]] = [None] * len(requests)
        raws: list[bytes] = []
        good: list[int] = []
        for i in sends:
            r = requests[i]
            try:
                params = r.get("params", [])
                self._arity(params, 1, 1)
                raws.append(_hex_bytes(params[0], 0))
                good.append(i)
            except RpcError as e:
                out[i] = self.error_response(r.get("id"), r["method"], e)
        try:
            results = self.sequencer.submit_many(raws) if raws else []
        except Exception as e:
            results = [e] * len(good)
        for i, result in zip(good, results):
            rid = requests[i].get("id")
            if isinstance(result, Exception):
                out[i] = self.error_response(rid, "eth_sendRawTransaction", result)
            else:
                out[i] = {"jsonrpc": "2.0", "id": rid, "result": _h(result.hash)}
        batched = set(sends)
        for i, r in enumerate(requests):
            if i in batched:
                if "id" not in r:
                    out[i] = None
            else:
                out[i] = self.call(r)
        return out

    @staticmethod
    def _arity(params: list, least: int, most: int) -> None:
        if not least <= len(params) <= most:
            want = str(least) if least == most else f"{least} to {most}"
            raise RpcError(INVALID_PARAMS, f"missing value for required argument {len(params)}"
                           if len(params) < least else f"too many arguments, want {want}")

    # -- block parameters --------------------------------------------------------------------

    def head_number(self) -> int:
        return self.executor.height

    def _number(self, tag: Any, i: int) -> int:
        """The block a block parameter names (it may be beyond the head for a number)."""
        if tag is None or tag in ("latest", "pending"):
            return self.executor.height
        if tag == "safe":
            return self.executor.safe_height
        if tag == "finalized":
            return self.executor.finalized_height
        if tag == "earliest":
            return 0
        if isinstance(tag, dict):
            if "blockHash" in tag:
                block = self.executor.block_by_hash(_hash(tag["blockHash"], i))
                if block is None:
                    raise RpcError(RESOURCE_NOT_FOUND, f"header for hash {tag['blockHash']} not found")
                return block.number
            if "blockNumber" in tag:
                return self._number(tag["blockNumber"], i)
            raise _invalid(i, "a block object needs blockHash or blockNumber")
        if isinstance(tag, str) and tag[:2] in ("0x", "0X"):
            return _uint(tag, i, "block number")
        raise _invalid(i, f"unsupported block parameter {str(tag)[:80]!r}; use a number, latest, "
                          f"pending, safe, finalized, earliest or an EIP-1898 object")

    def _state_number(self, params: list, i: int) -> Optional[int]:
        """For state queries: None for the current executed state, else a past block number."""
        tag = params[i] if len(params) > i else "latest"
        number = self._number(tag, i)
        height = self.executor.height
        if number > height:
            raise RpcError(SERVER_ERROR, f"header not found: block {number} is not executed yet "
                                         f"(latest is {height})")
        return None if number == height else number

    # -- chain and client --------------------------------------------------------------------

    def eth_chainId(self, params: list) -> str:
        self._arity(params, 0, 0)
        return _q(self.sequencer.chain_id)

    def net_version(self, params: list) -> str:
        self._arity(params, 0, 0)
        return str(self.sequencer.chain_id)

    def net_listening(self, params: list) -> bool:
        self._arity(params, 0, 0)
        return True

    def net_peerCount(self, params: list) -> str:
        self._arity(params, 0, 0)
        return "0x0"

    def web3_clientVersion(self, params: list) -> str:
        self._arity(params, 0, 0)
        return CLIENT_VERSION

    def web3_sha3(self, params: list) -> str:
        self._arity(params, 1, 1)
        return _h(keccak(_hex_bytes(params[0], 0)))

    def eth_syncing(self, params: list) -> bool:
        self._arity(params, 0, 0)
        return False

    def eth_accounts(self, params: list) -> list:
        self._arity(params, 0, 0)
        return []

    def eth_blockNumber(self, params: list) -> str:
        self._arity(params, 0, 0)
        return _q(self.executor.height)

    # -- fees --------------------------------------------------------------------------------

    def eth_gasPrice(self, params: list) -> str:
        self._arity(params, 0, 0)
        return _q(BASE_FEE + SUGGESTED_TIP)

    def eth_maxPriorityFeePerGas(self, params: list) -> str:
        self._arity(params, 0, 0)
        return _q(SUGGESTED_TIP)

    def eth_blobBaseFee(self, params: list) -> str:
        self._arity(params, 0, 0)
        return "0x1"

    def eth_feeHistory(self, params: list) -> dict:
        self._arity(params, 2, 3)
        count = min(_uint(params[0], 0, "block count"), MAX_FEE_HISTORY)
        newest = min(self._number(params[1], 1), self.executor.height)
        percentiles = params[2] if len(params) > 2 and params[2] is not None else None
        if percentiles is not None:
            if (not isinstance(percentiles, list) or len(percentiles) > 100
                    or not all(isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p <= 100
                               for p in percentiles)
                    or any(a > b for a, b in zip(percentiles, percentiles[1:]))):
                raise _invalid(2, "reward percentiles must be increasing numbers in [0, 100]")
        count = min(count, newest + 1)
        ratios = []
        for n in range(newest, newest - count, -1):
            try:
                block = self.executor.block(n)
            except HistoryUnavailable:
                if not ratios:
                    raise
                break       # before the first block this node serves: fewer blocks, as geth answers
            used = TRANSFER_GAS * len(block.transfers)
            ratios.append(used / max(BLOCK_GAS_LIMIT, used))
        ratios.reverse()
        count = len(ratios)
        oldest = newest - count + 1
        out = {"oldestBlock": _q(oldest), "baseFeePerGas": [_q(BASE_FEE)] * (count + 1),
               "gasUsedRatio": ratios, "baseFeePerBlobGas": ["0x1"] * (count + 1),
               "blobGasUsedRatio": [0.0] * count}
        if percentiles is not None:
            out["reward"] = [[_q(SUGGESTED_TIP)] * len(percentiles) for _ in range(count)]
        return out

    def eth_estimateGas(self, params: list) -> str:
        self._arity(params, 1, 3)
        call = self._call_object(params[0])
        if call.get("to") is None:
            raise RpcError(SERVER_ERROR, "contract creation not supported: transfers only")
        to = _address(call["to"], 0)
        if to == bytes(20):
            raise RpcError(SERVER_ERROR, "transfer to the zero address not supported")
        if _hex_bytes(call.get("input") or call.get("data") or "0x", 0):
            raise RpcError(SERVER_ERROR, "data not supported: transfers carry no calldata")
        if "gas" in call and call["gas"] is not None and _uint(call["gas"], 0, "gas") < TRANSFER_GAS:
            raise RpcError(SERVER_ERROR, f"intrinsic gas too low: have {_uint(call['gas'], 0)}, "
                                         f"want {TRANSFER_GAS}")
        if call.get("value") is not None:
            value = _uint(call["value"], 0, "value")
            if value == 0:
                raise RpcError(SERVER_ERROR, "zero-value transfer not supported")
            if value > MAX_VALUE:
                raise RpcError(SERVER_ERROR, "value exceeds the ledger's range (2^64 - 1)")
            if call.get("from") is not None:
                sender = _address(call["from"], 0)
                have = self.sequencer.state.balance(sender)
                if have < value:
                    raise RpcError(SERVER_ERROR, f"insufficient funds for gas * price + value: "
                                                 f"address {_h(sender)} have {have} want {value}")
        return _q(TRANSFER_GAS)

    @staticmethod
    def _call_object(obj: Any) -> dict:
        if not isinstance(obj, dict):
            raise _invalid(0, "want a transaction call object")
        return obj

    # -- state -------------------------------------------------------------------------------

    def _account(self, params: list, field: str) -> str:
        """An account's `field` ("balance" or "nonce") at the block the tag names: pending is the
        sequencer's admitted state, latest the executed one, older blocks the recent history."""
        self._arity(params, 1, 2)
        address = _address(params[0], 0)
        if len(params) > 1 and params[1] == "pending":
            return _q(getattr(self.sequencer.state, field)(address))
        number = self._state_number(params, 1)
        if number is None:
            return _q(getattr(self.executor, field)(address))
        return _q(getattr(self.executor, f"{field}_at")(address, number))

    def eth_getBalance(self, params: list) -> str:
        return self._account(params, "balance")

    def eth_getTransactionCount(self, params: list) -> str:
        return self._account(params, "nonce")

    def eth_getCode(self, params: list) -> str:
        self._arity(params, 1, 2)
        _address(params[0], 0)
        self._state_number(params, 1)
        return "0x"

    def eth_getStorageAt(self, params: list) -> str:
        self._arity(params, 2, 3)
        _address(params[0], 0)
        _uint(params[1], 1, "storage slot")
        self._state_number(params, 2)
        return _ZERO32

    def eth_call(self, params: list) -> str:
        self._arity(params, 1, 3)
        call = self._call_object(params[0])
        self._state_number(params, 1)
        if call.get("to") is None:
            raise RpcError(SERVER_ERROR, "contract creation not supported: this chain has no contracts")
        _address(call["to"], 0)
        return "0x"   # every account is a plain account: a call runs no code

    # -- transactions ------------------------------------------------------------------------

    def eth_sendRawTransaction(self, params: list) -> str:
        self._arity(params, 1, 1)
        transfer = self.sequencer.submit(_hex_bytes(params[0], 0))
        return _h(transfer.hash)

    def eth_sendTransaction(self, params: list) -> str:
        raise RpcError(SERVER_ERROR, "unknown account: the node holds no keys; sign the "
                                     "transaction and send it with eth_sendRawTransaction")

    def zkpipe_sendRawTransactions(self, params: list) -> list:
        """Bulk admission: [[raw, ...]] → [{"hash": ...} | {"error": {code, message}}, ...],
        returned once every accepted transaction is logged."""
        self._arity(params, 1, 1)
        raws = params[0]
        if not isinstance(raws, list):
            raise _invalid(0, "want an array of 0x-prefixed hex strings")
        if len(raws) > MAX_BULK:
            raise _invalid(0, f"{len(raws)} transactions, at most {MAX_BULK} per call")
        decoded: list = []
        for i, item in enumerate(raws):
            try:
                decoded.append(_hex_bytes(item, 0))
            except RpcError as e:
                decoded.append(RpcError(e.code, f"transaction {i}: {e.message}"))
        outcomes = iter(self.sequencer.submit_many([b for b in decoded if isinstance(b, bytes)]))
        out = []
        for item in decoded:
            result = item if isinstance(item, RpcError) else next(outcomes)
            if isinstance(result, RpcError):
                out.append({"error": {"code": result.code, "message": result.message}})
            elif isinstance(result, InvalidTransaction):
                out.append({"error": {"code": TRANSACTION_REJECTED, "message": str(result)}})
            else:
                out.append({"hash": _h(result.hash)})
        return out

    def eth_getTransactionByHash(self, params: list) -> Optional[dict]:
        self._arity(params, 1, 1)
        r = self.executor.transaction(_hash(params[0], 0))
        if r is None:
            return None
        return self._tx_object(r.transfer, self.executor.block(r.block_number), r.position)

    def eth_getTransactionReceipt(self, params: list) -> Optional[dict]:
        self._arity(params, 1, 1)
        r = self.executor.receipt(_hash(params[0], 0))
        return None if r is None else self._receipt_object(r, self.executor.block(r.block_number))

    def eth_getBlockReceipts(self, params: list) -> Optional[list]:
        self._arity(params, 1, 1)
        number = self._number(params[0], 0)
        receipts = self.executor.block_receipts(number)
        if receipts is None:
            return None
        block = self.executor.block(number)
        return [self._receipt_object(r, block) for r in receipts]

    def _by_index(self, block, index: Any) -> Optional[dict]:
        i = _uint(index, 1, "index")
        if block is None or i >= len(block.transfers):
            return None
        return self._tx_object(block.transfers[i], block, i)

    def eth_getTransactionByBlockNumberAndIndex(self, params: list) -> Optional[dict]:
        self._arity(params, 2, 2)
        return self._by_index(self.executor.block(self._number(params[0], 0)), params[1])

    def eth_getTransactionByBlockHashAndIndex(self, params: list) -> Optional[dict]:
        self._arity(params, 2, 2)
        return self._by_index(self.executor.block_by_hash(_hash(params[0], 0)), params[1])

    # -- blocks ------------------------------------------------------------------------------

    def eth_getBlockByNumber(self, params: list) -> Optional[dict]:
        self._arity(params, 1, 2)
        return self._block_object(self.executor.block(self._number(params[0], 0)), self._full(params))

    def eth_getBlockByHash(self, params: list) -> Optional[dict]:
        self._arity(params, 1, 2)
        return self._block_object(self.executor.block_by_hash(_hash(params[0], 0)), self._full(params))

    @staticmethod
    def _full(params: list) -> bool:
        full = params[1] if len(params) > 1 else False
        if not isinstance(full, bool):
            raise _invalid(1, "want a boolean (full transaction objects or hashes)")
        return full

    def _count(self, block) -> Optional[str]:
        return None if block is None else _q(len(block.transfers))

    def eth_getBlockTransactionCountByNumber(self, params: list) -> Optional[str]:
        self._arity(params, 1, 1)
        return self._count(self.executor.block(self._number(params[0], 0)))

    def eth_getBlockTransactionCountByHash(self, params: list) -> Optional[str]:
        self._arity(params, 1, 1)
        return self._count(self.executor.block_by_hash(_hash(params[0], 0)))

    def eth_getUncleCountByBlockNumber(self, params: list) -> Optional[str]:
        self._arity(params, 1, 1)
        return None if self.executor.block(self._number(params[0], 0)) is None else "0x0"

    def eth_getUncleCountByBlockHash(self, params: list) -> Optional[str]:
        self._arity(params, 1, 1)
        return None if self.executor.block_by_hash(_hash(params[0], 0)) is None else "0x0"

    def block_header(self, number: int) -> Optional[dict]:
        """A block without its transactions (what `newHeads` notifies)."""
        header = self._block_object(self.executor.block(number), False)
        if header is not None:
            for key in ("transactions", "uncles", "withdrawals", "size"):
                header.pop(key)
        return header

    def _block_object(self, block, full: bool) -> Optional[dict]:
        if block is None:
            return None
        n = len(block.transfers)
        used = TRANSFER_GAS * n
        parent = block.parent_hash     # carried by the block: no second read of an old one
        hashes = b"".join(t.hash for t in block.transfers)
        root = _h(keccak(hashes)) if n else _EMPTY_TRIE
        if full:
            txs = [self._tx_object(t, block, i) for i, t in enumerate(block.transfers)]
        else:
            txs = [_h(t.hash) for t in block.transfers]
        return {
            "number": _q(block.number), "hash": _h(block.hash), "parentHash": _h(parent),
            "nonce": "0x0000000000000000", "sha3Uncles": _EMPTY_UNCLES, "logsBloom": _EMPTY_BLOOM,
            # Not Merkle-Patricia tries: keccak of the transaction hashes; the state is committed
            # per proof batch on the L1, not per block.
            "transactionsRoot": root, "receiptsRoot": root, "stateRoot": _ZERO32,
            "miner": _ZERO20, "difficulty": "0x0", "totalDifficulty": "0x0", "extraData": "0x",
            "size": _q(508 + sum(len(t.raw) for t in block.transfers if type(t) is not Deposit)),
            "gasLimit": _q(max(BLOCK_GAS_LIMIT, used)), "gasUsed": _q(used),
            "timestamp": _q(int(block.cut_time)), "mixHash": _ZERO32, "baseFeePerGas": _q(BASE_FEE),
            "withdrawalsRoot": _EMPTY_TRIE, "withdrawals": [], "blobGasUsed": "0x0",
            "excessBlobGas": "0x0", "parentBeaconBlockRoot": _ZERO32,
            "transactions": txs, "uncles": [],
        }

    @staticmethod
    def _tx_object(t, block, index: int) -> dict:
        if type(t) is Deposit:
            return _deposit_object(t, block, index)
        f = transaction_fields(t.raw)
        out = {
            "hash": _h(t.hash), "nonce": _q(t.nonce), "blockHash": _h(block.hash),
            "blockNumber": _q(block.number), "blockTimestamp": _q(int(block.cut_time)),
            "transactionIndex": _q(index), "from": _h(t.sender),
            "to": _h(t.to), "value": _q(t.value), "gas": _q(f.gas), "input": "0x",
            "type": _q(f.kind), "chainId": _q(f.chain_id), "v": _q(f.v), "r": _q(f.r), "s": _q(f.s),
        }
        if f.kind == DYNAMIC_FEE:
            # What the transaction would pay at the quoted base fee, within its cap.
            out.update(gasPrice=_q(min(f.max_fee_per_gas, BASE_FEE + f.max_priority_fee_per_gas)),
                       maxFeePerGas=_q(f.max_fee_per_gas),
                       maxPriorityFeePerGas=_q(f.max_priority_fee_per_gas), accessList=[],
                       yParity=_q(f.v))
        else:
            out["gasPrice"] = _q(f.gas_price)
        return out

    @staticmethod
    def _receipt_object(r, block) -> dict:
        t = r.transfer
        deposit = type(t) is Deposit
        return {
            "transactionHash": _h(t.hash), "transactionIndex": _q(r.position),
            "blockHash": _h(r.block_hash), "blockNumber": _q(r.block_number),
            "blockTimestamp": _q(int(block.cut_time)),
            "from": _h(t.sender), "to": _h(t.to),
            # The ledger charges no fees; the gas figures are those of a plain transfer.
            "gasUsed": _q(TRANSFER_GAS), "cumulativeGasUsed": _q(TRANSFER_GAS * (r.position + 1)),
            "effectiveGasPrice": "0x0", "blobGasPrice": "0x1", "contractAddress": None, "logs": [],
            "logsBloom": _EMPTY_BLOOM, "status": "0x1" if r.success else "0x0",
            "type": _q(DEPOSIT_TX_TYPE if deposit else t.raw[0] if t.raw[0] < 0x80 else 0),
            "batchIndex": _q(r.batch_index), "finality": r.status,
        }

    # -- the bridge --------------------------------------------------------------------------

    def zkpipe_getWithdrawal(self, params: list) -> Optional[dict]:
        """Where a withdrawal (or a refunded deposit) is paid on the L1: {batchIndex (the L1's
        numbering), index, recipient, amount, status (executed, proven, verified, or withdrawn
        once claimed on the L1), path (once the batch is verified, else null)}; null for a hash
        that is no withdrawal."""
        self._arity(params, 1, 1)
        w = self.executor.withdrawal(_hash(params[0], 0))
        if w is None:
            return None
        batch, status, path = w.batch_index + self.l1_batch_offset, w.status, None
        if status == VERIFIED:
            _, paths = withdrawal_tree([withdrawal_leaf(int.from_bytes(r, "big"), a) for r, a in w.leaves])
            path = [_h(node) for node in paths[w.index]]
            try:
                if self.withdrawn is not None and self.withdrawn(batch, w.index):
                    status = WITHDRAWN
            except Exception:  # noqa: BLE001 - the L1 not answering: what the node knows stands
                pass
        return {"batchIndex": _q(batch), "index": _q(w.index), "recipient": _h(w.recipient),
                "amount": _q(w.amount), "status": status, "path": path}

    # -- logs and filters --------------------------------------------------------------------

    def log_filter_params(self, criteria: Any) -> dict:
        """Check a log filter (blocks, addresses, topics); there are no logs to match."""
        if not isinstance(criteria, dict):
            raise _invalid(0, "want a filter object")
        if "blockHash" in criteria and criteria["blockHash"] is not None:
            if criteria.get("fromBlock") is not None or criteria.get("toBlock") is not None:
                raise _invalid(0, "cannot specify both blockHash and fromBlock/toBlock")
            if self.executor.block_by_hash(_hash(criteria["blockHash"], 0)) is None:
                raise RpcError(RESOURCE_NOT_FOUND, "unknown block")
        for key in ("fromBlock", "toBlock"):
            if criteria.get(key) is not None:
                self._number(criteria[key], 0)
        addresses = criteria.get("address")
        for a in addresses if isinstance(addresses, list) else [addresses] if addresses else []:
            _address(a, 0)
        topics = criteria.get("topics") or []
        if not isinstance(topics, list) or len(topics) > 4:
            raise _invalid(0, "topics must be an array of at most 4 entries")
        for topic in topics:
            for x in topic if isinstance(topic, list) else [topic] if topic is not None else []:
                _hash(x, 0)
        return criteria

    def eth_getLogs(self, params: list) -> list:
        self._arity(params, 1, 1)
        self.log_filter_params(params[0])
        return []

    def _install(self, kind: str, criteria: Optional[dict] = None) -> str:
        fid = self.filters.install(kind, self.executor.height, criteria)
        if fid is None:
            raise RpcError(SERVER_ERROR, f"too many filters (at most {self.filters.limit}); "
                                         f"uninstall some or let them expire")
        return fid

    def eth_newFilter(self, params: list) -> str:
        self._arity(params, 1, 1)
        return self._install(LOGS, self.log_filter_params(params[0]))

    def eth_newBlockFilter(self, params: list) -> str:
        self._arity(params, 0, 0)
        return self._install(BLOCKS)

    def eth_newPendingTransactionFilter(self, params: list) -> str:
        self._arity(params, 0, 1)
        return self._install(PENDING)

    def _filter(self, params: list):
        self._arity(params, 1, 1)
        f = self.filters.get(params[0]) if isinstance(params[0], str) else None
        if f is None:
            raise RpcError(SERVER_ERROR, "filter not found")
        return f

    def eth_getFilterChanges(self, params: list) -> list:
        f = self._filter(params)
        if f.kind != BLOCKS:
            return []
        blocks = self.filters.block_range(params[0], self.executor.height) or range(0)
        return [_h(self.executor.block(n).hash) for n in blocks]

    def eth_getFilterLogs(self, params: list) -> list:
        if self._filter(params).kind != LOGS:
            raise RpcError(SERVER_ERROR, "filter not found")
        return []

    def eth_uninstallFilter(self, params: list) -> bool:
        self._arity(params, 1, 1)
        return isinstance(params[0], str) and self.filters.uninstall(params[0])

    # -- the pool ----------------------------------------------------------------------------

    def txpool_status(self, params: list) -> dict:
        """geth's shape: `pending` admitted and not yet in a block, `queued` held for a nonce gap."""
        self._arity(params, 0, 0)
        return {"pending": _q(self.sequencer.pending), "queued": _q(len(self.sequencer.queue))}


def _deposit_object(d: Deposit, block, index: int) -> dict:
    """A deposit as wallets read an L1-to-L2 deposit (OP Stack's type 0x7e): no signature, no
    fee, from the L1 account that paid."""
    return {
        "hash": _h(d.hash), "nonce": "0x0", "blockHash": _h(block.hash),
        "blockNumber": _q(block.number), "blockTimestamp": _q(int(block.cut_time)),
        "transactionIndex": _q(index), "from": _h(d.sender), "to": _h(d.to), "value": _q(d.value),
        "gas": "0x0", "gasPrice": "0x0", "input": "0x", "type": _q(DEPOSIT_TX_TYPE),
        "mint": _q(d.value), "sourceIndex": _q(d.index), "sourceHash": _h(d.hash),
        "isSystemTx": False, "v": "0x0", "r": "0x0", "s": "0x0",
    }
