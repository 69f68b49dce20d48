"""The devnet's load generator: signed transfers from funded accounts, all signed before the
clock starts, then submitted at a steady rate.

Each sender's transfers carry consecutive nonces and go out in nonce order; chunks are sent
one after another, so the sequencer sees every sender's nonces in order. A chunk the node
refuses as a whole (admission closed: proving is behind) is sent again, unchanged, later; the
node has accepted none of it, so nothing is lost or duplicated.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import time
from urllib.parse import urlparse
from dataclasses import dataclass, field

from kernels.errors import InvalidInput
from node.errors import InvalidTransaction
from node.transactions import address_of, sign_transfer

from .admission import FULL
from .errors import AdmissionClosed, PipelineError


def dev_keys(count: int, seed: str = "zkpipe devnet") -> list[bytes]:
    """`count` private keys derived from `seed` (development accounts, never for real value)."""
    return [hashlib.sha256(f"{seed}/{i}".encode()).digest() for i in range(count)]


def presign(keys: list[bytes], count: int, chain_id: int, recipients: list[bytes] | None = None,
            value: int = 1, start_nonces: dict | None = None) -> list[bytes]:
    """`count` raw transfers, round-robin over the senders (so consecutive transfers come from
    different accounts), each sender's nonces consecutive from its start nonce. Recipients are
    the other senders unless given."""
    senders = [address_of(k) for k in keys]
    recipients = recipients or senders
    nonces = {s: (start_nonces or {}).get(s, 0) for s in senders}
    out = []
    for i in range(count):
        j = i % len(keys)
        sender = senders[j]
        to = recipients[(j * 7 + i // len(keys) + 1) % len(recipients)]
        if to == sender:
            to = recipients[(recipients.index(to) + 1) % len(recipients)]
        out.append(sign_transfer(keys[j], chain_id=chain_id, nonce=nonces[sender], to=to, value=value))
        nonces[sender] += 1
    return out


@dataclass
class LoadReport:
    offered: int = 0                  # transfers the schedule asked for
    accepted: int = 0                 # acknowledged by the sequencer
    rejected: int = 0                 # refused as invalid (should be 0 for a correct generator)
    deferred_chunks: int = 0          # chunks sent again because admission was closed
    started: float = 0.0
    finished: float = 0.0
    errors: list = field(default_factory=list)
    submitted_at: dict = field(default_factory=dict)   # tx hash → unix time acknowledged
    ack_s: list = field(default_factory=list)          # per accepted transfer: from when the schedule
                                                       # offered it to its acknowledgement, deferrals included

    @property
    def seconds(self) -> float:
        return max(self.finished - self.started, 1e-9)


class LoadGenerator:
    """Sends pre-signed transfers at `tps` for `duration` seconds through `submit(raws)`, which
    returns, per transaction, its hash (accepted) or an exception (refused), and raises
    AdmissionClosed to refuse a whole chunk. Transactions refused because the backlog is at its
    bound ("txpool is full") are deferred, not counted as rejected: they are sent again, first,
    at the next tick (the load keeps each sender's nonces in order)."""

    def __init__(self, submit, txs: list[bytes], tps: float, duration: float, tick: float = 0.02,
                 max_chunk: int = 4096):
        if tps <= 0 or duration <= 0:
            raise InvalidInput("tps and duration must be positive")
        self.submit, self.txs, self.tps, self.duration, self.tick = submit, txs, tps, duration, tick
        self.max_chunk = max_chunk            # a backlog of due transfers goes in calls of this size

    def run(self, stop=lambda: False, give_up_after: float | None = None) -> LoadReport:
        """Send the schedule; with `give_up_after` (seconds), what back-pressure has kept
        back by then is not sent at all (offered counts only what was sent)."""
        rep = LoadReport()
        total = min(len(self.txs), int(self.tps * self.duration))
        rep.started = time.time()
        t0 = time.monotonic()
        end = float("inf") if give_up_after is None else t0 + give_up_after
        sent = 0
        while sent < total and not stop() and time.monotonic() < end:
            due = min(total, int((time.monotonic() - t0) * self.tps) + 1)
            if due > sent:
                chunk = self.txs[sent:min(due, sent + self.max_chunk)]
                try:
                    results = self.submit(chunk)
                except AdmissionClosed:
                    rep.deferred_chunks += 1
                    time.sleep(self.tick)
                    continue
                now = time.time()
                taken = len(results)
                for i, r in enumerate(results):
                    if isinstance(r, (bytes, str)):
                        rep.accepted += 1
                        rep.submitted_at[r] = now
                        rep.ack_s.append(now - (rep.started + (sent + i) / self.tps))
                    elif str(r).startswith(FULL):     # beyond the bound: this one and the rest wait
                        taken = i
                        rep.deferred_chunks += 1
                        break
                    else:
                        rep.rejected += 1
                        if len(rep.errors) < 20:
                            rep.errors.append(str(r))
                sent += taken
            time.sleep(self.tick)
        rep.offered = sent
        rep.finished = time.time()
        return rep


class RpcClient:
    """The load generator's side of the node's bulk JSON-RPC method (zkpipe_sendRawTransactions),
    on one kept-alive HTTP connection. A call the node refuses as a whole because proving is
    behind raises AdmissionClosed; other JSON-RPC errors raise PipelineError."""

    def __init__(self, url: str, timeout: float = 120.0):
        u = urlparse(url)
        self.host, self.port, self.timeout = u.hostname, u.port or 80, timeout
        self.conn = None
        self.ids = 0

    def call(self, method: str, params: list):
        self.ids += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params})
        for attempt in (1, 2):   # one reconnect: the server may have closed an idle connection
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.conn.request("POST", "/", body, {"Content-Type": "application/json"})
                reply = json.loads(self.conn.getresponse().read())
                break
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        if "error" in reply:
            message = reply["error"].get("message", "")
            if "proving is behind" in message:
                raise AdmissionClosed(message)
            raise PipelineError(f"{method}: JSON-RPC error {reply['error'].get('code')}: {message}")
        return reply["result"]

    def send_many(self, raws: list[bytes]) -> list:
        """Per transaction its hash (hex) or an exception with the node's refusal."""
        out = self.call("zkpipe_sendRawTransactions", [["0x" + r.hex() for r in raws]])
        return [r["hash"] if "hash" in r else InvalidTransaction(r["error"]["message"]) for r in out]

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
