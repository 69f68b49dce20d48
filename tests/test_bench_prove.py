"""bench.prove and bench.ledger run end to end at a tiny size and print well-formed JSON lines
with the peers' fields beside ours. Nothing here asserts on timings; a peer whose package is not
installed must show up as its reason, never stop the run."""

import importlib.util
import json
import sys

import pytest

from bench import ledger, prove

from bench.python_peers import PEERS

OPS = {cls.name: (cls.package, cls.ops) for cls in PEERS}


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def printed_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def check_peer_fields(line: dict, names=tuple(OPS)) -> None:
    """Every peer entry is either a figure that agreed with ours, or a reason; every peer asked
    for that offers the operation is there."""
    assert isinstance(line["median_ms"], float) and line["median_ms"] >= 0
    assert isinstance(line["loadavg_1m"], float) and "core" in line["machine"]
    for label, entry in line.get("python_peers", {}).items():
        if "error" in entry:
            assert isinstance(entry["error"], str) and entry["error"]
            continue
        assert entry["agrees"] is True, label
        assert entry["ratio"] == pytest.approx(line["median_ms"] / entry["median_ms"], rel=0.02, abs=1e-3)
    for name in names:
        package, ops = OPS[name]
        labels = [label for label in line.get("python_peers", {}) if label.startswith(name)]
        if not installed(package):
            assert labels and all("error" in line["python_peers"][label] for label in labels)
        elif line["op"] in ops:
            assert labels, f"{name} missing from a {line['op']} line"


def test_prove_prints_its_runs_the_proofs_operations_beside_peers_and_a_summary(capsys):
    lines = prove.run(6, 2, "cpu", "fibonacci", 1, python_peers=None, peer_reps=1)
    assert printed_lines(capsys) == lines
    runs = [l for l in lines if "prove_ms" in l]
    ops = [l for l in lines if l.get("bench") == "prove" and "op" in l]
    summary = lines[-1]
    assert len(runs) == 1 and summary["summary"] is True
    assert [(l["op"], l.get("size")) for l in ops] == [("msm", None), ("ntt", 64), ("ntt", 128)]
    from circuits.examples import Fibonacci

    points, _, _ = prove.proof_operations(Fibonacci(2), 6)
    assert ops[0]["points"] == points == 2 * (64 + 3) and "witness" in ops[0]["what"]
    for line in ops:
        check_peer_fields(line)
    whole = summary["whole_proof_peers"]
    assert len(whole) == 1
    (label, entry), = whole.items()
    if installed("groth16py"):
        assert "different statement" in entry["statement"]
        assert entry["ratio"] == pytest.approx(summary["median_prove_ms"] / entry["median_ms"], rel=0.02)
        assert runs[0]["whole_proof_peer_ms"] > 0
    else:
        assert "groth16py" in entry["error"]


def test_ledger_reports_a_missing_whole_proof_peer_and_times_the_rest(capsys, monkeypatch):
    from bench.python_peers import available_peers, whole_proof_peer
    from kernels import get_backend

    monkeypatch.setitem(sys.modules, "groth16py", None)  # as where the wheel is not installed
    whole = whole_proof_peer()
    assert isinstance(whole, str) and "groth16py" in whole
    peers = available_peers(["mcl"])
    lines = ledger.measure(8, get_backend("cpu"), 1, peers=peers, whole_peer=whole, peer_reps=1)
    assert printed_lines(capsys) == lines
    assert [l.get("op") for l in lines] == [None, "msm", "ntt", "ntt", "prove"]
    assert lines[0]["transfers"] == 256 and "whole_proof_peer_ms" not in lines[0]
    assert lines[4]["loadavg_1m"] == [lines[0]["loadavg_1m"]]
    for line in lines[1:4]:
        assert line["bench"] == "ledger" and line["log2_n"] == 8
        check_peer_fields(line, ["mcl"])
    if installed("mclbn256"):
        assert lines[1]["best_peer_ratio"] > 0
    assert lines[4]["median_ms"] == round(lines[0]["prove_ms"], 1)
    assert lines[4]["whole_proof_peers"] == {"groth16py": {"error": whole}}
