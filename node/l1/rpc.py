"""An L1 reached over Ethereum JSON-RPC with web3.py: anvil started by the project, or any node.

Transactions are sent from the node's unlocked accounts (anvil's dev accounts), or signed here
with a private key when one is given. Gas limits are explicit; nothing is estimated. A node
that cannot be reached (refused connection, no answer within the timeout, no receipt in time)
raises L1Unavailable; a transaction the node executed and reverted gives a receipt with status
False and the decoded revert.

Logs are read in pages of at most `log_blocks` blocks: public providers refuse an eth_getLogs over
a wider range (10 000 blocks is a common limit, some allow 2 000 or 1 000) or one that matches too
many logs, each with its own message, so a refused page is halved until the node answers, and the
narrower width is kept for the pages after it.
"""

from __future__ import annotations

from .client import L1Client, Log, Receipt, intrinsic_gas, reverted
from .errors import L1Error, L1Unavailable, TransactionRefused


# Blocks per eth_getLogs request at first (see the module doc).
LOG_BLOCKS = 10_000


class RpcL1(L1Client):
    """Any JSON-RPC node behind the L1Client interface."""

    name = "rpc"

    def __init__(self, url: str, *, private_key: str | None = None, timeout: float = 60.0, name: str | None = None,
                 log_blocks: int = LOG_BLOCKS):
        try:
            from web3 import Web3
        except ImportError as e:  # pragma: no cover - web3 is a project dependency
            raise L1Unavailable("the JSON-RPC L1 needs web3 (pip install web3)") from e
        if not url.startswith(("http://", "https://")):
            raise L1Unavailable(f"not an HTTP JSON-RPC URL: {url!r} (expected http://HOST:PORT)")
        self.url = url
        # No retries inside web3 (five more tries with backoff by default): they made a hung L1
        # take ~6× the timeout to report; the pipeline's submitter and watcher retry themselves.
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout},
                                         exception_retry_configuration=None))
        self.timeout = timeout
        if log_blocks < 1:
            raise ValueError(f"log_blocks must be at least 1, got {log_blocks}")
        self.log_blocks = log_blocks
        self.known_abi = []
        if name:
            self.name = name
        self._account = None
        if private_key is not None:
            from eth_account import Account

            self._account = Account.from_key(private_key)
        self.chain_id = self._ask(lambda: self.w3.eth.chain_id)

    def _ask(self, request):
        """Run one exchange with the node; a node that does not answer is L1Unavailable."""
        from requests.exceptions import RequestException
        from web3.exceptions import TimeExhausted

        try:
            return request()
        except (RequestException, OSError) as e:
            raise L1Unavailable(f"no JSON-RPC node answers at {self.url}: {e}") from e
        except TimeExhausted as e:
            raise L1Unavailable(f"no receipt from {self.url} within {self.timeout} s: {e}") from e

    @property
    def accounts(self) -> list[str]:
        if self._account is not None:
            return [self._account.address]
        return list(self._ask(lambda: self.w3.eth.accounts))

    def block_number(self) -> int:
        return self._ask(lambda: self.w3.eth.block_number)

    def _send(self, tx: dict):
        """Send `tx` and wait for its receipt."""
        from web3.exceptions import Web3RPCError

        def send():
            if self._account is not None:
                signed_tx = dict(tx, nonce=self.w3.eth.get_transaction_count(self._account.address, "pending"),
                                 chainId=self.chain_id)
                signed_tx.setdefault("maxPriorityFeePerGas", self.w3.eth.max_priority_fee)
                signed_tx.setdefault("maxFeePerGas", 2 * self.w3.eth.get_block("latest")["baseFeePerGas"]
                                     + signed_tx["maxPriorityFeePerGas"])
                return self.w3.eth.send_raw_transaction(self._account.sign_transaction(signed_tx).raw_transaction)
            return self.w3.eth.send_transaction(tx)

        try:
            tx_hash = self._ask(send)
        except Web3RPCError as e:
            # The node would not take it (intrinsic gas too low, gas above the block limit, no
            # funds): nothing was executed.
            raise TransactionRefused(f"{self.url} refused the transaction: {e}") from e
        return self._ask(lambda: self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.timeout))

    def _revert_data(self, tx: dict, block: int) -> bytes:
        """Revert data of a failed transaction, by replaying it as a call on the state it saw
        (the block before its own: exact on a node that mines one transaction per block, as
        anvil does by default)."""
        call = {k: tx[k] for k in ("from", "to", "data", "gas", "value") if k in tx}
        try:
            self._ask(lambda: self.w3.eth.call(call, block_identifier=max(block - 1, 0)))
        except L1Unavailable:
            raise
        except Exception as e:
            return _error_data(e)
        return b""

    def deploy(self, bytecode: bytes, args: bytes = b"", *, gas: int, sender: str | None = None, value: int = 0) -> str:
        tx = {"from": sender or self.accounts[0], "data": bytes(bytecode) + bytes(args), "gas": gas, "value": value}
        r = self._send(tx)
        if r["status"] != 1:
            raise reverted(self, "deployment failed", self._revert_data(tx, r["blockNumber"]))
        return r["contractAddress"]

    def transact(self, to: str, data: bytes, *, gas: int, sender: str | None = None, value: int = 0) -> Receipt:
        data = bytes(data)
        tx = {"from": sender or self.accounts[0], "to": to, "data": data, "gas": gas, "value": value}
        r = self._send(tx)
        used = r["gasUsed"]
        receipt = Receipt(status=r["status"] == 1, tx_gas=used, exec_gas=used - intrinsic_gas(data),
                          block_number=r["blockNumber"], tx_hash="0x" + bytes(r["transactionHash"]).hex(),
                          logs=[Log(address=lg["address"], topics=[bytes(t) for t in lg["topics"]], data=bytes(lg["data"]))
                                for lg in r["logs"]])
        if not receipt.status:
            receipt.revert_data = self._revert_data(tx, r["blockNumber"])
            receipt.revert_reason = self.decode_revert(receipt.revert_data)
        return receipt

    def call(self, to: str, data: bytes, *, gas: int, sender: str | None = None) -> bytes:
        tx = {"from": sender or self.accounts[0], "to": to, "data": bytes(data), "gas": gas}
        try:
            return bytes(self._ask(lambda: self.w3.eth.call(tx)))
        except L1Unavailable:
            raise
        except Exception as e:
            data = _error_data(e)
            if data or _is_revert(e):
                raise reverted(self, "call reverted", data) from None
            raise

    def balance(self, address: str) -> int:
        from web3 import Web3
        return int(self._ask(lambda: self.w3.eth.get_balance(Web3.to_checksum_address(address))))

    def get_logs(self, address: str, *, topic: bytes | None = None, from_block: int = 0) -> list[Log]:
        from web3 import Web3
        from web3.exceptions import Web3RPCError
        query = {"address": Web3.to_checksum_address(address)}
        if topic is not None:
            query["topics"] = ["0x" + bytes(topic).hex()]
        latest = self.block_number()        # blocks mined meanwhile are the next call's
        found, start = [], max(0, from_block)
        while start <= latest:
            end = min(latest, start + self.log_blocks - 1)
            page = {**query, "fromBlock": start, "toBlock": end}
            try:
                found += self._ask(lambda: self.w3.eth.get_logs(page))
            except Web3RPCError as e:           # the node's answer is an error
                if self.log_blocks == 1:
                    raise L1Error(f"{self.url} refuses eth_getLogs for block {start} alone: {e}") from e
                self.log_blocks = max(1, self.log_blocks // 2)   # a range or size limit: narrower
                continue
            start = end + 1
        # Nodes answer in chain order; removed (reorganized) entries are not events of the chain.
        return [Log(address=lg["address"], topics=[bytes(t) for t in lg["topics"]], data=bytes(lg["data"]),
                    block_number=lg["blockNumber"], tx_hash="0x" + bytes(lg["transactionHash"]).hex())
                for lg in found if not lg.get("removed")]

    def transaction_input(self, tx_hash: str) -> bytes:
        from web3.exceptions import TransactionNotFound
        try:
            tx = self._ask(lambda: self.w3.eth.get_transaction(tx_hash))
        except TransactionNotFound:
            raise L1Error(f"{self.url} knows no transaction {tx_hash}") from None
        return bytes(tx["input"])

    def code_at(self, address: str) -> bytes:
        from web3 import Web3
        return bytes(self._ask(lambda: self.w3.eth.get_code(Web3.to_checksum_address(address))))

    def close(self) -> None:
        provider = self.w3.provider
        if hasattr(provider, "disconnect"):
            try:
                provider.disconnect()
            except Exception:
                pass


def _is_revert(e: Exception) -> bool:
    from web3.exceptions import ContractLogicError

    return isinstance(e, ContractLogicError)


def _error_data(e: Exception) -> bytes:
    """The revert data web3 attached to an exception, as bytes."""
    data = getattr(e, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    return b""
