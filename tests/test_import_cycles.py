"""The project's modules import one way (node → circuits → prover → kernels): no import cycle,
counting the imports inside functions too, since a function-local import that closes a cycle
only hides it. Read from the source with `ast`; nothing is imported."""

from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("kernels", "prover", "circuits", "node", "bench")


def project_modules() -> dict[str, str]:
    """module name → path, for every module of the project's packages."""
    out = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
                    if parts[-1] == "__init__":
                        parts = parts[:-1]
                    out[".".join(parts)] = path
    return out


def imports_of(module: str, path: str, modules: dict) -> set[str]:
    """The project modules `module` imports anywhere in its source (top level or not)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    is_package = path.endswith("__init__.py")
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from a import b` imports module a.b when there is one, else a name of a.
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {m: imports_of(m, p, modules) for m, p in modules.items()}


def test_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    src = tmp_path / "m.py"
    src.write_text("import os\n\ndef f():\n    from .other import thing\n    return thing\n")
    assert imports_of("pkg.m", str(src), {"pkg.m": "", "pkg.other": ""}) == {"pkg.other"}


def test_no_import_cycle_in_the_package_graph():
    found = cycles(import_graph())
    assert not found, "import cycles (function-local imports counted): " + "; ".join(" ↔ ".join(c) for c in found)


def test_layers_point_one_way():
    """kernels imports nothing of the layers above it, prover nothing of circuits or node,
    circuits nothing of node."""
    above = {"kernels": ("prover", "circuits", "node", "bench"), "prover": ("circuits", "node", "bench"),
             "circuits": ("node", "bench")}
    wrong = [(m, dep) for m, deps in import_graph().items() for dep in deps
             if dep.split(".")[0] in above.get(m.split(".")[0], ())]
    assert not wrong, f"imports against the layering: {sorted(wrong)}"
