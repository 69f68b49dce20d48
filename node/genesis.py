"""Genesis: the chain id and the funded addresses the ledger starts from.

A genesis file is JSON in geth's `alloc` style:

    {
      "chainId": 23115,
      "alloc": {
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266": {"balance": "10000000000000000000"},
        "0x70997970c51812dc3a010c7d01b50e0d17dc79c8": {"balance": "0x3e8"}
      }
    }

Balances are decimal or 0x-hex strings (or JSON integers) in [0, 2^64), the ledger circuit's
range. Addresses are 20-byte hex, lower case or with a valid EIP-55 checksum. Accounts take ledger
slots in ascending address order, so a genesis determines its initial state whatever the order of
its keys.

The development faucet is a funded account whose private key is public knowledge (the first
account of the usual Ethereum development mnemonic, "test test ... junk"). INSECURE: anyone can
spend from it; it exists so that a local devnet and its load generator have money to move.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Union

from eth_hash.auto import keccak
from eth_utils import is_checksum_address

from .bridge import WITHDRAWAL_ADDRESS
from .errors import InvalidGenesis
from .transactions import MAX_VALUE, ZERO_ADDRESS, address_of, sign_transfer

__all__ = ["Genesis", "load_genesis", "parse_genesis", "dev_genesis", "DEFAULT_CHAIN_ID",
           "DEV_FAUCET_PRIVATE_KEY", "DEV_FAUCET_ADDRESS", "DEV_FAUCET_BALANCE"]

DEFAULT_CHAIN_ID = 23115  # 0x5a4b, "ZK"

# INSECURE development key, known to everyone: never fund it on a network that matters.
DEV_FAUCET_PRIVATE_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
DEV_FAUCET_ADDRESS = address_of(DEV_FAUCET_PRIVATE_KEY)
DEV_FAUCET_BALANCE = 10**19  # 10 ether in wei; the ledger's range ends near 18.4 ether

_KEYS = {"chainId", "alloc"}


@dataclass(frozen=True)
class Genesis:
    """The chain id and the initial balance of each funded address (20-byte keys)."""

    chain_id: int
    alloc: Mapping[bytes, int] = field(default_factory=dict)

    def accounts(self) -> list[tuple[bytes, int]]:
        """(address, balance) in slot order: ascending address."""
        return sorted(self.alloc.items())

    def to_json(self) -> dict:
        return {"chainId": self.chain_id,
                "alloc": {"0x" + a.hex(): {"balance": str(b)} for a, b in self.accounts()}}

    def save(self, path: Union[str, Path]) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @property
    def digest(self) -> bytes:
        """keccak256 of the canonical JSON: binds a write-ahead log to the genesis it extends."""
        return keccak(json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode())

    def faucet_transfer(self, to: bytes, value: int, nonce: int, **fields) -> bytes:
        """A signed transfer from the development faucet (INSECURE key; devnets only)."""
        if DEV_FAUCET_ADDRESS not in self.alloc:
            raise InvalidGenesis("this genesis does not fund the development faucet")
        return sign_transfer(DEV_FAUCET_PRIVATE_KEY, chain_id=self.chain_id, nonce=nonce, to=to,
                             value=value, **fields)


def dev_genesis(chain_id: int = DEFAULT_CHAIN_ID, accounts: Optional[Mapping[bytes, int]] = None,
                faucet_balance: int = DEV_FAUCET_BALANCE) -> Genesis:
    """A development genesis: the (INSECURE) faucet funded with `faucet_balance`, plus
    `accounts`. Validated like a file."""
    alloc = {"0x" + DEV_FAUCET_ADDRESS.hex(): {"balance": faucet_balance}}
    for address, balance in (accounts or {}).items():
        alloc["0x" + bytes(address).hex()] = {"balance": balance}
    if len(alloc) != 1 + len(accounts or {}):
        raise InvalidGenesis("an account of a development genesis repeats the faucet's address")
    return parse_genesis({"chainId": chain_id, "alloc": alloc})


def load_genesis(path: Union[str, Path]) -> Genesis:
    """Read and validate a genesis file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise InvalidGenesis(f"cannot read genesis file {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise InvalidGenesis(f"genesis file {path} is not UTF-8 text") from None
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as e:
        raise InvalidGenesis(f"genesis file {path} is not valid JSON: {e}") from None
    return parse_genesis(obj)


def parse_genesis(obj: object) -> Genesis:
    """Validate a decoded genesis object; every problem is an InvalidGenesis naming its place."""
    if not isinstance(obj, dict):
        raise InvalidGenesis("genesis must be a JSON object with chainId and alloc")
    unknown = set(obj) - _KEYS
    if unknown:
        raise InvalidGenesis(f"unknown genesis field(s): {', '.join(sorted(unknown))}")
    if "chainId" not in obj:
        raise InvalidGenesis("genesis lacks chainId")
    chain_id = obj["chainId"]
    if type(chain_id) is not int or not 1 <= chain_id <= MAX_VALUE:
        raise InvalidGenesis(f"chainId must be an integer in [1, 2^64), got {chain_id!r}")
    alloc_obj = obj.get("alloc", {})
    if not isinstance(alloc_obj, dict):
        raise InvalidGenesis("alloc must be an object mapping addresses to {\"balance\": ...}")
    alloc: dict[bytes, int] = {}
    for key, entry in alloc_obj.items():
        address = _address(key)
        if address in alloc:
            raise InvalidGenesis(f"alloc lists address {key} twice")
        if not isinstance(entry, dict) or set(entry) != {"balance"}:
            raise InvalidGenesis(f"alloc[{key}] must be {{\"balance\": ...}}")
        alloc[address] = _balance(key, entry["balance"])
    return Genesis(chain_id, alloc)


def _address(text: object) -> bytes:
    if not isinstance(text, str):
        raise InvalidGenesis(f"address {text!r} is not a string")
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    if len(digits) != 40:
        raise InvalidGenesis(f"address {text} is not 20 bytes of hex")
    try:
        address = bytes.fromhex(digits)
    except ValueError:
        raise InvalidGenesis(f"address {text} is not hex") from None
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address("0x" + digits):
        raise InvalidGenesis(f"address {text} has an invalid EIP-55 checksum")
    if address == ZERO_ADDRESS:
        raise InvalidGenesis("the zero address cannot be funded: it marks an empty ledger slot")
    if address == WITHDRAWAL_ADDRESS:
        raise InvalidGenesis(f"{text} is the withdrawal address: it never holds a balance")
    return address


def _balance(key: str, value: object) -> int:
    if type(value) is int:
        balance = value
    elif isinstance(value, str):
        try:
            balance = int(value, 16) if value[:2] in ("0x", "0X") else int(value, 10)
        except ValueError:
            raise InvalidGenesis(f"balance of {key} is not a decimal or 0x-hex integer: {value!r}") from None
    else:
        raise InvalidGenesis(f"balance of {key} must be an integer or a string, got {value!r}")
    if not 0 <= balance <= MAX_VALUE:
        raise InvalidGenesis(f"balance of {key} is outside the ledger's range [0, 2^64): {value}")
    return balance


def _no_duplicate_keys(pairs: list) -> dict:
    out = {}
    for k, v in pairs:
        if k in out:
            raise InvalidGenesis(f"genesis repeats the key {k!r}")
        out[k] = v
    return out
