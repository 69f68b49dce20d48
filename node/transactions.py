"""Signed Ethereum value transfers: decoding, validation and sender recovery.

The rollup accepts standard Ethereum transactions that move value from one address to another:

- legacy transactions with EIP-155 replay protection:
  `rlp([nonce, gasPrice, gas, to, value, data, v, r, s])`, `v = 2·chainId + 35 + yParity`;
- EIP-1559 typed transactions: `0x02 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas,
  gas, to, value, data, accessList, yParity, r, s])`.

Only plain transfers: `to` is a 20-byte address (no contract creation), `data` and the access list
are empty, and the value lies in [1, 2^64) because the ledger circuit range-checks amounts to
64 bits. Fees are not charged (the ledger moves value only), so the gas fields are checked for
well-formedness but cost nothing.

Everything here is a pure function of the raw bytes and the chain id, so that signature recovery,
the expensive step, can run on any number of processes (`decode_transfers` on a batch).
"""

from __future__ import annotations

from typing import Iterable, NamedTuple, Optional, Union

import rlp
from coincurve import PrivateKey, PublicKey
from eth_hash.auto import keccak

from .errors import InvalidTransaction

__all__ = ["Transfer", "decode_transfer", "decode_transfers", "sign_transfer", "address_of",
           "TransactionFields", "transaction_fields", "MAX_TX_SIZE", "MAX_VALUE", "TRANSFER_GAS",
           "LEGACY", "DYNAMIC_FEE"]

# secp256k1 group order; EIP-2 makes a signature with s above half of it invalid, so that a
# signature cannot be flipped into a second valid one (a different transaction hash).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = SECP256K1_N // 2

# A transfer encodes to at most ~250 bytes; anything much larger is not a transfer.
MAX_TX_SIZE = 1024
# The ledger circuit range-checks amounts and balances to [0, 2^64).
MAX_VALUE = 2**64 - 1
# The intrinsic gas of a value transfer; a transaction offering less is malformed on Ethereum too.
TRANSFER_GAS = 21000

LEGACY = 0
DYNAMIC_FEE = 2

ZERO_ADDRESS = bytes(20)


class Transfer(NamedTuple):
    """A validated, sender-recovered transfer: the compact unit the node moves around.

    A tuple (not a class with attributes) because the executor's hot loop unpacks millions of
    them."""

    sender: bytes   # 20 bytes, recovered from the signature
    to: bytes       # 20 bytes
    value: int      # in [1, 2^64)
    nonce: int
    hash: bytes     # keccak256 of `raw`: the transaction hash clients know
    raw: bytes      # the signed transaction as submitted


# ---------------------------------------------------------------------------------------------
# Decoding


def decode_transfer(raw: bytes, chain_id: int) -> Transfer:
    """Decode `raw`, check that it is a well-formed transfer signed for `chain_id`, and recover
    its sender. Raises InvalidTransaction with a client-facing message otherwise."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise InvalidTransaction("transaction must be bytes")
    raw = bytes(raw)
    if len(raw) > MAX_TX_SIZE:
        raise InvalidTransaction("oversized data")
    if not raw:
        raise InvalidTransaction("rlp: empty transaction")
    first = raw[0]
    if first >= 0xC0:
        return _decode_legacy(raw, chain_id)
    if first == DYNAMIC_FEE:
        return _decode_dynamic_fee(raw, chain_id)
    if first < 0x80:
        raise InvalidTransaction(f"transaction type not supported (type {first}; "
                                 f"accepted: legacy with EIP-155, 0x02)")
    raise InvalidTransaction("rlp: expected a list for a legacy transaction or a type byte")


def decode_transfers(raws: Iterable[bytes], chain_id: int) -> list[Union[Transfer, InvalidTransaction]]:
    """`decode_transfer` on each raw transaction; a refused one yields its error in its place.

    Pure and picklable both ways, so a batch can be sent to another process or a Ray task."""
    out: list[Union[Transfer, InvalidTransaction]] = []
    for raw in raws:
        try:
            out.append(decode_transfer(raw, chain_id))
        except InvalidTransaction as e:
            out.append(e)
    return out


def _decode_legacy(raw: bytes, chain_id: int) -> Transfer:
    items = _rlp_list(raw, 9, "legacy")
    nonce_b, gas_price_b, gas_b, to, value_b, data, v_b, r_b, s_b = items
    nonce = _nonce(nonce_b)
    _uint(gas_price_b, "gasPrice", 32)
    _check_gas(_uint(gas_b, "gas", 8))
    value = _transfer_fields(to, value_b, data)
    v = _uint(v_b, "v", 32)
    if v in (27, 28):
        raise InvalidTransaction("only replay-protected (EIP-155) transactions allowed over RPC")
    if v < 35:
        raise InvalidTransaction("invalid transaction v, r, s values")
    have = (v - 35) // 2
    if have != chain_id:
        raise InvalidTransaction(f"invalid chain id: have {have}, want {chain_id}")
    # EIP-155 signs the first six fields followed by (chainId, 0, 0).
    unsigned = _unsigned_payload(raw, items) + _rlp_int(chain_id) + b"\x80\x80"
    sighash = keccak(_list_prefix(len(unsigned)) + unsigned)
    sender = _recover(sighash, (v - 35) % 2, r_b, s_b)
    return Transfer(sender, to, value, nonce, keccak(raw), raw)


def _decode_dynamic_fee(raw: bytes, chain_id: int) -> Transfer:
    items = _rlp_list(raw[1:], 12, "0x02", nested_at=8)
    chain_b, nonce_b, tip_b, fee_cap_b, gas_b, to, value_b, data, access_list, parity_b, r_b, s_b = items
    have = _uint(chain_b, "chainId", 32)
    nonce = _nonce(nonce_b)
    tip = _uint(tip_b, "maxPriorityFeePerGas", 32)
    fee_cap = _uint(fee_cap_b, "maxFeePerGas", 32)
    if tip > fee_cap:
        raise InvalidTransaction("max priority fee per gas higher than max fee per gas")
    _check_gas(_uint(gas_b, "gas", 8))
    value = _transfer_fields(to, value_b, data)
    if access_list:
        raise InvalidTransaction("access lists not supported: transfers only")
    if have != chain_id:
        raise InvalidTransaction(f"invalid chain id: have {have}, want {chain_id}")
    parity = _uint(parity_b, "yParity", 1)
    if parity > 1:
        raise InvalidTransaction("invalid transaction v, r, s values")
    # The signature covers 0x02 || rlp(the first nine fields).
    unsigned = _unsigned_payload(raw[1:], items)
    sighash = keccak(b"\x02" + _list_prefix(len(unsigned)) + unsigned)
    sender = _recover(sighash, parity, r_b, s_b)
    return Transfer(sender, to, value, nonce, keccak(raw), raw)


def _rlp_list(body: bytes, length: int, kind: str, nested_at: int = -1) -> list:
    """The items of an RLP list of `length` byte strings (one nested list allowed at
    `nested_at`, the access list), decoded strictly: canonical lengths, nothing trailing."""
    if not body or body[0] < 0xC0:
        raise InvalidTransaction(f"rlp: expected input list for a {kind} transaction")
    try:
        items = rlp.decode(body, strict=True)
    except rlp.exceptions.RLPException as e:
        raise InvalidTransaction(f"rlp: malformed {kind} transaction: {e}") from None
    if len(items) != length:
        raise InvalidTransaction(f"rlp: a {kind} transaction has {length} fields, got {len(items)}")
    for i, item in enumerate(items):
        if i != nested_at and not isinstance(item, bytes):
            raise InvalidTransaction(f"rlp: field {i} of a {kind} transaction must be a byte string")
    if nested_at >= 0 and not isinstance(items[nested_at], list):
        raise InvalidTransaction(f"rlp: field {nested_at} of a {kind} transaction must be a list")
    return items


def _unsigned_payload(body: bytes, items: list) -> bytes:
    """The encodings of all fields but the signature (v, r, s), sliced out of the strictly
    decoded `body` instead of re-encoded: the bytes are the same and slicing is much cheaper."""
    b0 = body[0]
    header = 1 if b0 <= 0xF7 else 1 + (b0 - 0xF7)
    signature = sum(_rlp_bytes_length(x) for x in items[-3:])
    return body[header:len(body) - signature]


def _rlp_bytes_length(b: bytes) -> int:
    """Length of the RLP encoding of the byte string `b`."""
    n = len(b)
    if n == 1 and b[0] < 0x80:
        return 1
    if n <= 55:
        return 1 + n
    return 1 + (n.bit_length() + 7) // 8 + n


def _list_prefix(n: int) -> bytes:
    if n <= 55:
        return bytes([0xC0 + n])
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0xF7 + len(size)]) + size


def _rlp_int(x: int) -> bytes:
    b = x.to_bytes((x.bit_length() + 7) // 8, "big")
    if len(b) == 1 and b[0] < 0x80:
        return b
    return bytes([0x80 + len(b)]) + b


def _uint(b: bytes, name: str, max_bytes: int) -> int:
    if len(b) > max_bytes:
        raise InvalidTransaction(f"rlp: {name} does not fit in {8 * max_bytes} bits")
    if b and b[0] == 0:
        raise InvalidTransaction(f"rlp: non-canonical integer (leading zero bytes) for {name}")
    return int.from_bytes(b, "big")


def _nonce(b: bytes) -> int:
    nonce = _uint(b, "nonce", 8)
    if nonce == 2**64 - 1:  # EIP-2681: the nonce can never be incremented past it
        raise InvalidTransaction("nonce has max value")
    return nonce


def _check_gas(gas: int) -> None:
    if gas < TRANSFER_GAS:
        raise InvalidTransaction(f"intrinsic gas too low: have {gas}, want {TRANSFER_GAS}")


def _transfer_fields(to: bytes, value_b: bytes, data: bytes) -> int:
    """Checks what makes a transaction a transfer this ledger can carry; returns the value."""
    if not to:
        raise InvalidTransaction("contract creation not supported: transfers only")
    if len(to) != 20:
        raise InvalidTransaction(f"rlp: recipient address has {len(to)} bytes, want 20")
    if to == ZERO_ADDRESS:
        # Address 0 marks an empty slot in the ledger circuit's state, so it cannot own one.
        raise InvalidTransaction("transfer to the zero address not supported")
    if data:
        raise InvalidTransaction("data not supported: transfers carry no calldata")
    value = _uint(value_b, "value", 32)
    if value == 0:
        # A zero-value transfer moves nothing yet would claim a ledger slot for its recipient.
        raise InvalidTransaction("zero-value transfer not supported")
    if value > MAX_VALUE:
        raise InvalidTransaction("value exceeds the ledger's range (2^64 - 1)")
    return value


def _recover(sighash: bytes, parity: int, r_b: bytes, s_b: bytes) -> bytes:
    r = _uint(r_b, "r", 32)
    s = _uint(s_b, "s", 32)
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise InvalidTransaction("invalid transaction v, r, s values")
    if s > HALF_N:
        raise InvalidTransaction("invalid transaction v, r, s values: s above n/2 (EIP-2)")
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([parity])
    try:
        public = PublicKey.from_signature_and_message(signature, sighash, hasher=None)
    except Exception:  # coincurve signals an unrecoverable signature with ValueError or its own
        raise InvalidTransaction("invalid sender") from None
    return keccak(public.format(compressed=False)[1:])[12:]


# ---------------------------------------------------------------------------------------------
# Signing (for load generators, the development faucet and tests)


def address_of(private_key: bytes) -> bytes:
    """The 20-byte address of a 32-byte secp256k1 private key."""
    return keccak(PrivateKey(private_key).public_key.format(compressed=False)[1:])[12:]


def sign_transfer(private_key: bytes, *, chain_id: int, nonce: int, to: bytes, value: int,
                  kind: int = DYNAMIC_FEE, gas: int = TRANSFER_GAS, gas_price: int = 10**9,
                  max_fee_per_gas: int = 10**9, max_priority_fee_per_gas: int = 10**9) -> bytes:
    """A signed transfer (raw bytes, ready for eth_sendRawTransaction), as a wallet would make it.

    libsecp256k1 signs deterministically (RFC 6979) with a low s, so the bytes match what
    eth-account produces for the same fields."""
    key = PrivateKey(private_key)
    if kind == DYNAMIC_FEE:
        fields = [chain_id, nonce, max_priority_fee_per_gas, max_fee_per_gas, gas, to, value, b"", []]
        sighash = keccak(b"\x02" + rlp.encode(fields))
        sig = key.sign_recoverable(sighash, hasher=None)
        return b"\x02" + rlp.encode(fields + [sig[64], _be_int(sig[:32]), _be_int(sig[32:64])])
    if kind == LEGACY:
        fields = [nonce, gas_price, gas, to, value, b""]
        sighash = keccak(rlp.encode(fields + [chain_id, 0, 0]))
        sig = key.sign_recoverable(sighash, hasher=None)
        v = 2 * chain_id + 35 + sig[64]
        return rlp.encode(fields + [v, _be_int(sig[:32]), _be_int(sig[32:64])])
    raise InvalidTransaction(f"transaction type not supported (type {kind})")


def _be_int(b: bytes) -> int:
    return int.from_bytes(b, "big")


# ---------------------------------------------------------------------------------------------
# Reading back (for JSON-RPC transaction objects)


class TransactionFields(NamedTuple):
    """The signed fields of an accepted transfer, as clients read them back."""

    kind: int                        # LEGACY or DYNAMIC_FEE
    chain_id: int
    gas: int
    gas_price: int                   # legacy; for 0x02 the fee cap
    max_fee_per_gas: Optional[int]   # 0x02 only
    max_priority_fee_per_gas: Optional[int]
    v: int                           # legacy v, or yParity for 0x02
    r: int
    s: int


def transaction_fields(raw: bytes) -> TransactionFields:
    """The fields of a transaction that `decode_transfer` accepted (no checks repeated)."""
    if raw[0] == DYNAMIC_FEE:
        chain_id, _, tip, fee_cap, gas, _, _, _, _, parity, r, s = rlp.decode(raw[1:])
        return TransactionFields(DYNAMIC_FEE, _be_int(chain_id), _be_int(gas), _be_int(fee_cap),
                                 _be_int(fee_cap), _be_int(tip), _be_int(parity), _be_int(r), _be_int(s))
    _, gas_price, gas, _, _, _, v, r, s = rlp.decode(raw)
    v = _be_int(v)
    return TransactionFields(LEGACY, (v - 35) // 2, _be_int(gas), _be_int(gas_price), None, None, v,
                             _be_int(r), _be_int(s))
