"""ABI encoding of calls and decoding of results, errors and events, from a contract's ABI JSON.

A thin layer over eth_abi; kept in one place so that both L1 backends and the tests speak
about functions and errors by name.
"""

from __future__ import annotations

from eth_abi import decode, encode
from eth_utils import keccak

from kernels.errors import InvalidInput


def _type_string(param: dict) -> str:
    """The canonical type of an ABI parameter, tuples spelled out."""
    t = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_type_string(c) for c in param["components"]) + ")" + t[len("tuple"):]
    return t


def signature(item: dict) -> str:
    return item["name"] + "(" + ",".join(_type_string(p) for p in item.get("inputs", [])) + ")"


def function_selector(item: dict) -> bytes:
    return keccak(text=signature(item))[:4]


def event_topic(item: dict) -> bytes:
    return keccak(text=signature(item))


def _find(abi: list, kind: str, name: str) -> dict:
    for item in abi:
        if item.get("type") == kind and item.get("name") == name:
            return item
    raise KeyError(f"no {kind} named {name} in the ABI")


def encode_call(abi: list, function: str, *args) -> bytes:
    """Calldata for `function(*args)`."""
    item = _find(abi, "function", function)
    types = [_type_string(p) for p in item["inputs"]]
    return function_selector(item) + encode(types, list(args))


def encode_constructor(abi: list, *args) -> bytes:
    """The constructor arguments, to append to the creation code."""
    for item in abi:
        if item.get("type") == "constructor":
            return encode([_type_string(p) for p in item["inputs"]], list(args))
    if args:
        raise InvalidInput("the contract has no constructor arguments")
    return b""


def decode_result(abi: list, function: str, data: bytes) -> tuple:
    item = _find(abi, "function", function)
    return tuple(decode([_type_string(p) for p in item["outputs"]], data))


def decode_error(abi: list, data: bytes) -> tuple[str, tuple] | None:
    """(name, arguments) of revert data: a custom error of `abi`, Error(string) or
    Panic(uint256); None when the data is shorter than a selector or matches none of them."""
    if len(data) < 4:
        return None
    sel, body = bytes(data[:4]), bytes(data[4:])
    builtin = [{"type": "error", "name": "Error", "inputs": [{"type": "string"}]},
               {"type": "error", "name": "Panic", "inputs": [{"type": "uint256"}]}]
    for item in builtin + list(abi):
        if item.get("type") == "error" and function_selector(item) == sel:
            try:
                return item["name"], tuple(decode([_type_string(p) for p in item["inputs"]], body))
            except Exception:  # the selector matches but the arguments do not decode
                return item["name"], ()
    return None


def decode_revert(abi: list, data: bytes) -> str | None:
    """A readable form of revert data: `Name(args)` for a custom error of `abi`, the message of
    Error(string), `Panic(code)`; None when the data is empty or unknown."""
    decoded = decode_error(abi, data)
    if decoded is None:
        return None
    name, args = decoded
    if name == "Error" and args:
        return args[0]
    if name == "Panic" and args:
        return f"Panic({args[0]:#x})"
    return name + "(" + ", ".join(map(_show, args)) + ")"


def _show(v) -> str:
    return "0x" + v.hex() if isinstance(v, bytes) else str(v)


def decode_logs(abi: list, logs) -> list[dict]:
    """The events of `abi` among `logs` (each with `topics` and `data`), as dicts with `event`
    and the named arguments; logs of unknown events are skipped."""
    events = {event_topic(item): item for item in abi if item.get("type") == "event" and not item.get("anonymous")}
    out = []
    for log in logs:
        if not log.topics or log.topics[0] not in events:
            continue
        item = events[log.topics[0]]
        indexed = [p for p in item["inputs"] if p.get("indexed")]
        plain = [p for p in item["inputs"] if not p.get("indexed")]
        values = {}
        for p, topic in zip(indexed, log.topics[1:]):
            values[p["name"]] = decode([_type_string(p)], topic)[0]
        for p, v in zip(plain, decode([_type_string(p) for p in plain], log.data)):
            values[p["name"]] = v
        values["event"] = item["name"]
        out.append(values)
    return out
