"""The ledger's key store: where its proving and verification keys live on disk, and the cached
INSECURE development keys.

A key directory holds, per trace size, `ledger-2^k.pk.npz` (the proving key, which carries the
verification key) and `ledger-2^k.vk` (the verification key alone, for the L1 side). The
development keys come from a public seed (anyone can forge proofs with them); they are made once
per circuit digest under `<cache>/dev-keys/<digest prefix>/`.
"""

from __future__ import annotations

import os
import zipfile

from kernels.backend import Backend
from prover.air import compile_air
from prover.errors import InvalidSetup
from prover.keys import ProvingKey, VerificationKey, dev_keys

from .ledger_air import Ledger

DEV_SEED = b"zkpipe development setup"


def key_paths(directory: str, log2_rows: int) -> tuple[str, str]:
    """(proving key, verification key) file names of the ledger circuit at 2^log2_rows rows."""
    stem = os.path.join(directory, f"ledger-2^{log2_rows}")
    return stem + ".pk.npz", stem + ".vk"


def load_keys(directory: str, air: Ledger, be: Backend | None = None) -> tuple[ProvingKey, VerificationKey]:
    """The keys of `air` stored in `directory`; InvalidSetup when they are missing, unreadable
    or made for another circuit."""
    pk_path, _ = key_paths(directory, air.log2_rows)
    if not os.path.exists(pk_path):
        raise InvalidSetup(f"no proving key {pk_path} for the ledger circuit at 2^{air.log2_rows} rows")
    try:
        pk = ProvingKey.load(pk_path, be)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:  # InvalidSetup is a ValueError
        raise InvalidSetup(f"cannot read proving key {pk_path}: {e}") from None
    if pk.vk.circuit_digest != compile_air(air).digest:
        raise InvalidSetup(f"{pk_path} is not a key of the ledger circuit at 2^{air.log2_rows} rows "
                           "(circuit digest differs)")
    return pk, pk.vk


def dev_keys_directory(cache: str, air: Ledger) -> str:
    """Where the development keys of `air` are cached under `cache`."""
    return os.path.join(cache, "dev-keys", compile_air(air).digest[:8].hex())


def save_keys(directory: str, air: Ledger, pk: ProvingKey, vk: VerificationKey) -> None:
    """Write both keys into `directory`, each file complete or absent (renamed into place)."""
    pk_path, vk_path = key_paths(directory, air.log2_rows)
    os.makedirs(directory, exist_ok=True)
    tmp = pk_path + f".tmp{os.getpid()}.npz"
    pk.save(tmp)
    os.replace(tmp, pk_path)
    tmp = f"{vk_path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(vk.to_bytes())
    os.replace(tmp, vk_path)


def cached_dev_keys(cache: str, air: Ledger, be: Backend | None = None,
                    on_make=None) -> tuple[ProvingKey, VerificationKey]:
    """The INSECURE development keys of `air`, made (and saved) the first time; `on_make(dir)`
    is called before making them, which takes a while. Keys cached before proving keys carried
    Lagrange bases (prover.lagrange) are made again: they prove the same proofs, slower."""
    directory = dev_keys_directory(cache, air)
    if os.path.exists(key_paths(directory, air.log2_rows)[0]):
        pk, vk = load_keys(directory, air, be)
        if pk.lagrange:
            return pk, vk
    if on_make is not None:
        on_make(directory)
    pk, vk = dev_keys(air, air.log2_rows, DEV_SEED, be)
    save_keys(directory, air, pk, vk)
    return load_keys(directory, air, be)
