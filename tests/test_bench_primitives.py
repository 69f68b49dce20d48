"""The primitives benchmark runs end to end at a tiny size and prints well-formed JSON lines.

Nothing here asserts on timings: the point is that `python -m bench.primitives` keeps working
(its output format, its handling of a missing peer), not how fast anything is.
"""

import io
import json

import pytest

from bench import primitives

COMMON_KEYS = {"op", "backend", "log2_n", "median_ms", "peer_median_ms", "ratio", "reps", "machine"}


def run_lines(argv):
    out = io.StringIO()
    returned = primitives.run(primitives.parse_args(argv), out=out)
    printed = [json.loads(line) for line in out.getvalue().splitlines()]
    assert printed == returned
    return printed


def test_tiny_run_prints_one_json_line_per_measurement(tmp_path):
    lines = run_lines(["--sizes", "6", "--reps", "1", "--no-peer", "--backend", "cpu",
                       "--cache-dir", str(tmp_path), "--python-peers"])
    assert [(l["op"], l.get("scalar_bits")) for l in lines] == [("msm", 254), ("msm", 16), ("ntt", None)]
    for line in lines:
        assert COMMON_KEYS <= set(line)
        assert line["backend"] == "cpu" and line["log2_n"] == 6 and line["reps"] == 1
        assert isinstance(line["median_ms"], float) and line["median_ms"] >= 0
        assert line["peer_median_ms"] is None and line["ratio"] is None
        assert "peer_error" not in line
        assert isinstance(line["machine"], str) and "core" in line["machine"]
        assert "device" not in line
        assert "loadavg_1m" in line
        assert "python_peers" not in line
    assert "scalar_bits" not in lines[2]


def test_bases_are_cached_and_reused(tmp_path):
    from kernels import get_backend

    backend = get_backend("cpu")
    first = primitives.load_bases(backend, 6, tmp_path)
    assert primitives.bases_cache_path(tmp_path, 6).exists()
    again = primitives.load_bases(backend, 6, tmp_path)
    assert (backend.to_host(first) == backend.to_host(again)).all()
    assert bool(backend.g1.is_on_curve(first).all())


def test_small_scalars_stay_below_their_width():
    import numpy as np
    from kernels import get_backend

    backend = get_backend("cpu")
    scalars = primitives.random_scalars(backend, 64, 16, np.random.default_rng(1))
    assert all(0 <= k < 1 << 16 for k in backend.fr.to_ints(scalars))


def test_missing_peer_is_reported_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setenv("ZKPIPE_PEER_SCRIPT", str(tmp_path / "no-such-peer.mjs"))
    lines = run_lines(["--sizes", "6", "--reps", "1", "--backend", "cpu", "--ops", "ntt",
                       "--cache-dir", str(tmp_path), "--python-peers"])
    assert len(lines) == 1
    assert lines[0]["peer_median_ms"] is None and lines[0]["ratio"] is None
    assert "no-such-peer.mjs" in lines[0]["peer_error"]


def test_peer_output_is_matched_to_our_lines():
    figures = primitives.parse_peer_output(
        'warning: not json\n{"peer":"ffjavascript","log2_n":12,"msm_ms":80.0,"fft_ms":4.0}\n')
    msm = primitives.result_line("msm", "cpu", 12, 40.0, 3, {"machine": "m"},
                                 primitives.peer_for(figures, None, "msm", 12), scalar_bits=16)
    assert msm["peer_median_ms"] == 80.0 and msm["ratio"] == pytest.approx(0.5)
    assert "254-bit" in msm["peer_figure"]
    ntt = primitives.result_line("ntt", "cpu", 12, 8.0, 3, {"machine": "m"},
                                 primitives.peer_for(figures, None, "ntt", 12))
    assert ntt["peer_median_ms"] == 4.0 and ntt["ratio"] == pytest.approx(2.0)
    missing = primitives.peer_for(figures, None, "ntt", 14)
    assert missing["ms"] is None and "14" in missing["error"]


def test_arguments_have_the_documented_defaults():
    args = primitives.parse_args([])
    assert args.sizes == [10, 12, 14, 16, 18] and args.backend == "auto"
    assert args.ops == ["msm", "ntt"] and args.scalar_bits == [254, 16] and args.reps == 5
    assert not args.no_peer
    with pytest.raises(SystemExit):
        primitives.parse_args(["--reps", "0"])


def test_python_peers_are_timed_beside_ours_and_checked_against_our_result(tmp_path):
    pytest.importorskip("mclbn256")
    pytest.importorskip("frx")
    lines = run_lines(["--sizes", "6", "--reps", "1", "--no-peer", "--backend", "cpu", "--scalar-bits", "254",
                       "--cache-dir", str(tmp_path), "--python-peers", "mcl", "frx", "nosuch"])
    msm, ntt = lines
    assert sorted(k.split()[0] for k in msm["python_peers"]) == ["frx", "mcl"]   # "nosuch" is no peer
    for line in (msm, ntt):
        for figure in line["python_peers"].values():
            assert figure["agrees"] is True
            assert figure["median_ms"] > 0 and figure["ratio"] == pytest.approx(line["median_ms"] / figure["median_ms"], rel=1e-2)
        best = min(f["median_ms"] for f in line["python_peers"].values())
        assert line["best_peer_ratio"] == pytest.approx(line["median_ms"] / best, rel=1e-2)
    assert [k.split()[0] for k in ntt["python_peers"]] == ["frx"]      # mcl has no NTT
