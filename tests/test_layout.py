"""The layout's rules (issue #12), read off the source: no import cycles, solvers imported only
by ``verishallow/solvers``, and a trusted base that loads no solver and no search code."""

from __future__ import annotations

import ast

import networkx as nx
import pytest
from conftest import ROOT, loaded_after

PACKAGE = ROOT / "verishallow"
#: Third-party solver packages: only ``verishallow/solvers`` may import them.
SOLVER_PACKAGES = ("highspy", "pyscipopt", "pyomo", "z3")
#: The trusted base of an audit: the checkers and what they stand on.
TRUSTED = ["verishallow.exact", "verishallow.exact.numbers", "verishallow.exact.maps",
           "verishallow.exact.linalg", "verishallow.exact.leaf_bounds",
           "verishallow.exact.differential", "verishallow.proofs.document",
           "verishallow.proofs.goals", "verishallow.proofs.partition_checker",
           "verishallow.proofs.equivalence_checker", "verishallow.proofs.tree_checker",
           "verishallow.product", "verishallow.network", "verishallow.forkpool"]
#: What the trusted base must never load: solvers, the search and proof-finding code.
UNTRUSTED = ["verishallow.solvers", "verishallow.regions", "verishallow.bounds",
             "verishallow.proofsearch", "verishallow.equiv", "verishallow.verify",
             "verishallow.proofs.partition", "verishallow.proofs.equivalence",
             "verishallow.proofs.farkas", "verishallow.proofs.coverage",
             *SOLVER_PACKAGES, "scipy", "networkx"]


def _modules() -> dict[str, tuple[ast.Module, bool]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (ast.parse(path.read_text()), is_pkg)
    return out


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    return {id(n) for block in ast.walk(tree)
            if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING"
            for n in ast.walk(block)}


def _imports(name: str, tree: ast.Module, is_pkg: bool, mods: dict) -> set[str]:
    """Modules of this package that ``name`` imports anywhere (lazy imports included)."""
    pkg = name if is_pkg else name.rsplit(".", 1)[0]
    skip = _type_checking_nodes(tree)
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in mods]
            out.update(subs if len(subs) == len(node.names) else [target, *subs])
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m in mods and m != name}


def test_no_import_cycles():
    mods = _modules()
    graph = nx.DiGraph()
    for name, (tree, is_pkg) in mods.items():
        graph.add_node(name)
        graph.add_edges_from((name, m) for m in _imports(name, tree, is_pkg, mods))
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert cycles == []


def test_only_the_solver_glue_imports_solvers():
    offenders = []
    for name, (tree, _) in _modules().items():
        if name.startswith("verishallow.solvers"):
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            offenders += [f"{name} imports {n}" for n in names
                          if n.split(".")[0] in SOLVER_PACKAGES]
    assert offenders == []


@pytest.mark.parametrize("module", TRUSTED)
def test_trusted_base_loads_no_solver_and_no_search(module):
    assert loaded_after(f"import {module}", UNTRUSTED) == []


def test_readme_module_table_covers_every_module():
    """Each module of verishallow is named in README.md's module table (the packages whose
    row describes their modules as a family, ``cli/``, ``io/``, ``studies/``, by the package)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("| module | concept |")
    table = readme[start:readme.index("\n\n", start)]
    families = ("cli", "io", "studies")
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.name in ("__init__.py", "__main__.py"):
            continue
        top = rel.parts[0]
        if len(rel.parts) == 1:
            named = f"`{top}`" in table
        else:
            named = f"`{top}/`" in table and (f"`{rel.name}`" in table or top in families)
        if not named:
            missing.append(str(rel))
    assert missing == []


# ----- tolerances: one module per package, unique names, documented --------------------------

TOLERANCE_SUFFIXES = ("_TOL", "_RTOL", "_ATOL")


def _module_constants(path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [t.id for node in tree.body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)]


def test_every_tolerance_lives_in_a_tolerances_module():
    strays = [f"{p.relative_to(PACKAGE)}: {name}" for p in sorted(PACKAGE.rglob("*.py"))
              if p.name != "tolerances.py"
              for name in _module_constants(p) if name.endswith(TOLERANCE_SUFFIXES)]
    assert strays == []


def test_tolerance_names_are_unique_documented_and_listed():
    import importlib.util

    spec = importlib.util.spec_from_file_location("tolerance_table",
                                                  ROOT / "scripts" / "tolerance_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = mod.tolerances()
    names = [n for _, n, _, _ in rows]
    assert len(rows) >= 30
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
    assert [n for _, n, _, d in rows if not d] == []  # each has its #: comment
    # docs/tolerances.md is the generated table, up to date
    assert (ROOT / "docs" / "tolerances.md").read_text(encoding="utf-8") == mod.table()
