"""Compiling the project's Solidity with solcjs (the npm package `solc`, pinned in
contracts/package.json and its lockfile).

The compiler is driven through its standard-JSON interface with every setting that changes the
bytecode written down here (compiler version, EVM version, optimizer runs, metadata hash), so
that the same sources always give the same artifacts. Outputs are cached under
`.zkpipe/solc/` by the hash of the whole standard-JSON input: a second compile of unchanged
sources costs a file read instead of the several seconds solcjs needs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import CompilerError, L1Unavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = REPO_ROOT / "contracts"
CACHE_DIR = REPO_ROOT / ".zkpipe" / "solc"

SOLC_VERSION = "0.8.28"
# Pinned so that the bytecode, and hence the measured gas, depends on the sources alone.
# Cancun is solc 0.8.28's default target; the contracts use no opcode that Prague (what both
# L1 backends execute) added, so the bytecode is the same either way. The metadata hash is
# dropped so that comments or file paths do not change the deployed bytes.
COMPILER_SETTINGS = {
    "evmVersion": "cancun",
    "optimizer": {"enabled": True, "runs": 10_000},
    "metadata": {"bytecodeHash": "none", "appendCBOR": False},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}

# Reads a standard-JSON input on stdin and prints solc's standard-JSON output.
_DRIVER = r"""
const solc = require(process.argv[1]);
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const want = process.argv[2];
  if (!solc.version().startsWith(want + '+')) {
    process.stderr.write('solc ' + solc.version() + ' installed, ' + want + ' pinned\n');
    process.exit(3);
  }
  process.stdout.write(solc.compile(input));
});
"""


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: its ABI, creation code and runtime code."""

    name: str
    abi: list
    bytecode: bytes
    deployed_bytecode: bytes

    def selector(self, function: str) -> bytes:
        """The 4-byte selector of a function of this contract, by name."""
        from .abi import function_selector

        for item in self.abi:
            if item.get("type") == "function" and item["name"] == function:
                return function_selector(item)
        raise KeyError(f"{self.name} has no function {function}")


def solc_module(contracts_dir: Path = CONTRACTS_DIR) -> Path:
    """The installed solcjs package; L1Unavailable, saying how to install it, if absent."""
    module = contracts_dir / "node_modules" / "solc"
    if not (module / "package.json").exists():
        raise L1Unavailable(f"solcjs is not installed in {contracts_dir}/node_modules: run `npm ci` in "
                            f"{contracts_dir} (scripts/setup.sh does)")
    return module


def standard_json_input(sources: dict[str, str]) -> dict:
    """The standard-JSON compiler input for `sources` (file name → Solidity text)."""
    return {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sorted(sources.items())},
        "settings": COMPILER_SETTINGS,
    }


def compile_sources(sources: dict[str, str], *, cache_dir: Path | None = CACHE_DIR,
                    contracts_dir: Path = CONTRACTS_DIR) -> dict[str, Artifact]:
    """Compile Solidity sources (file name → text) with the solcjs of `contracts_dir` and return
    every contract by name; `cache_dir=None` compiles afresh.

    Raises CompilerError with solc's messages when a source does not compile, L1Unavailable
    when node or solcjs is missing."""
    request = standard_json_input(sources)
    blob = json.dumps(request, sort_keys=True, separators=(",", ":"))
    key = hashlib.sha256((SOLC_VERSION + "\n" + blob).encode()).hexdigest()
    cached = cache_dir / f"{key}.json" if cache_dir is not None else None
    if cached is not None and cached.exists():
        output = json.loads(cached.read_text())
    else:
        output = _run_solcjs(blob, contracts_dir)
        errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
        if errors:
            raise CompilerError("\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors))
        if cached is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(output, sort_keys=True))
            tmp.replace(cached)
    artifacts = {}
    for file_contracts in output.get("contracts", {}).values():
        for name, c in file_contracts.items():
            artifacts[name] = Artifact(
                name=name,
                abi=c["abi"],
                bytecode=bytes.fromhex(c["evm"]["bytecode"]["object"]),
                deployed_bytecode=bytes.fromhex(c["evm"]["deployedBytecode"]["object"]),
            )
    return artifacts


def _run_solcjs(blob: str, contracts_dir: Path) -> dict:
    node = shutil.which("node")
    if node is None:
        raise L1Unavailable("node (Node.js) is needed to run solcjs, and is not on PATH")
    module = solc_module(contracts_dir)
    done = subprocess.run([node, "-e", _DRIVER, str(module), SOLC_VERSION], input=blob,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise CompilerError(f"solcjs failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout)
