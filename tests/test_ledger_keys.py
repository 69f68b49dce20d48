"""The ledger's development key cache (circuits/ledger_keys.py)."""

from circuits.ledger import Ledger
from circuits.ledger_keys import DEV_SEED, cached_dev_keys, dev_keys_directory, key_paths, save_keys
from kernels import get_backend
from prover.keys import ProvingKey, dev_keys


def test_cached_keys_without_lagrange_bases_are_made_again(tmp_path):
    be = get_backend("cpu")
    air = Ledger(4)
    pk, vk = dev_keys(air, 4, DEV_SEED, be)
    directory = dev_keys_directory(str(tmp_path), air)
    save_keys(directory, air, ProvingKey(pk.vk, pk.srs_g1, pk.fixed_coeffs), vk)   # an older cache
    made = []
    again, _ = cached_dev_keys(str(tmp_path), air, be, on_make=made.append)
    assert made == [directory] and again.lagrange.keys() == pk.lagrange.keys()
    assert again.vk.to_bytes() == vk.to_bytes()
    stamp = (tmp_path / key_paths(directory, 4)[0]).stat().st_mtime_ns
    cached_dev_keys(str(tmp_path), air, be, on_make=made.append)                   # now it is kept
    assert made == [directory] and (tmp_path / key_paths(directory, 4)[0]).stat().st_mtime_ns == stamp
