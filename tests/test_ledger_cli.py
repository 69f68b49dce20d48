"""`zkpipe prove` and `zkpipe verify` on batch files, through node.cli.main."""

import json

import pytest

from circuits.ledger import KIND_DEPOSIT, KIND_WITHDRAWAL, LedgerJob, save_job
from node.cli import main

K = 6


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A folder with a batch file (transfers, a claim, a deposit and a withdrawal), its proof, and
    the development keys cached once."""
    d = tmp_path_factory.mktemp("ledger_cli")
    job = LedgerJob(batch_index=4, log2_rows=K, old_addresses=[0xA1, 0xB2, 0xC3], old_balances=[100, 50, 7],
                    transfers=[(0, 1, 30), (1, 3, 70), (2, 0, 7), (2, 2, 40), (0, 0, 20)], claims=[(3, 0xD4)],
                    bridge=[(3, KIND_DEPOSIT, 0xC3), (4, KIND_WITHDRAWAL, 0xE5)])
    save_job(job, str(d / "batch.json"))
    rc = main(["prove", "--batch", str(d / "batch.json"), "--out", str(d / "proof"),
               "--insecure-dev-setup", "--cache", str(d / "cache"), "--backend", "cpu"])
    assert rc == 0
    return d, job


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def verify_args(d, batch="batch.json", proof="proof"):
    return ["verify", "--batch", str(d / batch), "--proof", str(d / proof), "--insecure-dev-setup",
            "--cache", str(d / "cache"), "--backend", "cpu"]


def test_prove_then_verify(work, capsys):
    d, job = work
    rc, out, err = run(capsys, *verify_args(d))
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["valid"] is True and summary["batch_index"] == job.batch_index
    assert set(summary["commitments"]) == {"old_state", "new_state", "data"}
    # The same keys come from the cache on the next run: proving again gives another valid proof.
    rc, out, err = run(capsys, "prove", "--batch", str(d / "batch.json"), "--out", str(d / "proof2"),
                       "--insecure-dev-setup", "--cache", str(d / "cache"), "--backend", "cpu")
    assert rc == 0 and "making INSECURE development keys" not in err
    proven = json.loads(out)
    assert proven["transfers"] == 5 and proven["proof_bytes"] == (d / "proof2").stat().st_size
    assert proven["commitments"] == summary["commitments"]
    assert run(capsys, *verify_args(d, proof="proof2"))[0] == 0


def test_corrupted_proof_is_rejected(work, capsys):
    d, _ = work
    data = bytearray((d / "proof").read_bytes())
    for pos, name in ((100, "flipped"), (len(data) - 40, "flipped_end")):
        changed = bytearray(data)
        changed[pos] ^= 0x5A
        (d / name).write_bytes(bytes(changed))
        rc, out, err = run(capsys, *verify_args(d, proof=name))
        assert rc == 1 and out == ""
        assert f"proof {d / name} rejected:" in err
    (d / "short").write_bytes(bytes(data[:-1]))
    rc, _, err = run(capsys, *verify_args(d, proof="short"))
    assert rc == 1 and "rejected" in err and "bytes" in err


def test_proof_of_another_batch_is_rejected(work, capsys):
    d, job = work
    other = LedgerJob(job.batch_index, K, job.old_addresses, job.old_balances,
                      [(0, 1, 31)] + job.transfers[1:], job.claims, job.bridge)
    save_job(other, str(d / "other.json"))
    rc, _, err = run(capsys, *verify_args(d, batch="other.json"))
    assert rc == 1 and "is not the expected one" in err
    # The same entries with the withdrawal paid to another L1 address: another batch.
    other.transfers, other.bridge = job.transfers, [job.bridge[0], (4, KIND_WITHDRAWAL, 0xE6)]
    save_job(other, str(d / "other.json"))
    rc, _, err = run(capsys, *verify_args(d, batch="other.json"))
    assert rc == 1 and "is not the expected one" in err
    later = LedgerJob(job.batch_index + 1, K, job.old_addresses, job.old_balances, job.transfers, job.claims,
                      job.bridge)
    save_job(later, str(d / "later.json"))
    rc, _, err = run(capsys, *verify_args(d, batch="later.json"))
    assert rc == 1 and "rejected" in err


@pytest.mark.parametrize("content, message", [
    ("{oops", "is not valid JSON"),
    ('{"batch_index": 1}', "missing"),
    ('{"batch_index": 1, "log2_rows": 6, "old_addresses": ["0xa1"], "old_balances": [5], "transfers": [[0, 0, 1], [0, 9, 1]]}',
     "slot 9 would hold 1 but no address holds it"),
])
def test_bad_batch_file_is_a_clear_error(work, capsys, content, message):
    d, _ = work
    (d / "bad.json").write_text(content)
    for cmd in ("prove", "verify"):
        argv = verify_args(d, batch="bad.json") if cmd == "verify" else \
            ["prove", "--batch", str(d / "bad.json"), "--out", str(d / "x"), "--insecure-dev-setup",
             "--cache", str(d / "cache")]
        rc, _, err = run(capsys, *argv)
        assert rc == 2
        assert err.startswith(f"zkpipe {cmd}: invalid batch") and message in err and "bad.json" in err


def test_missing_files_and_keys_are_clear_errors(work, capsys):
    d, _ = work
    rc, _, err = run(capsys, "verify", "--batch", str(d / "batch.json"), "--proof", str(d / "nope"),
                     "--insecure-dev-setup", "--cache", str(d / "cache"))
    assert rc == 2 and "cannot read proof file" in err
    rc, _, err = run(capsys, "prove", "--batch", str(d / "batch.json"), "--out", str(d / "p"))
    assert rc == 2 and "no keys" in err and "--insecure-dev-setup" in err
    rc, _, err = run(capsys, "prove", "--batch", str(d / "batch.json"), "--out", str(d / "p"), "--keys", str(d))
    assert rc == 2 and "no proving key" in err
    (d / f"ledger-2^{K}.pk.npz").write_bytes(b"not a key")
    rc, _, err = run(capsys, *verify_args(d)[:5], "--keys", str(d))
    assert rc == 2 and "cannot read proving key" in err


def test_keys_from_a_directory(work, capsys):
    # A key directory as a real setup would fill it: the cached development keys, copied.
    d, _ = work
    import shutil
    cached = next((d / "cache" / "dev-keys").iterdir())
    keys = d / "keys"
    shutil.copytree(cached, keys)
    rc, _, err = run(capsys, "verify", "--batch", str(d / "batch.json"), "--proof", str(d / "proof"),
                     "--keys", str(keys), "--backend", "cpu")
    assert rc == 0, err
