"""pyproject's dependencies against what the code imports: each declared one is used, each used
one is declared (issue 14: optax was declared and imported nowhere; scipy the reverse)."""

import ast
import pathlib
import re
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Distribution name -> the module it provides, where they differ. jaxlib is loaded by jax.
MODULE = {"absl-py": "absl", "jaxlib": None}
# Declared for code on its way (none now: optax is imported by mst_jax.synthesis).
PENDING: set[str] = set()


def _third_party_imports(folders) -> dict[str, set[str]]:
    """module -> files that import it, over every .py file under ``folders``."""
    # First-party: the packages, and the tests' own helper modules (conftest, pagecheck, ...).
    local = {"mst_jax", "experiments", "benchmarks"} | {p.stem for p in (ROOT / "tests").glob("*.py")}
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names | local | {"__future__"}:
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def _declared(requirements) -> set[str]:
    names = {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in requirements}
    return {MODULE.get(n, n) for n in names} - {None}


def test_every_runtime_dependency_is_imported_and_every_import_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _declared(project["dependencies"])
    used = _third_party_imports(["mst_jax", "experiments", "benchmarks"])
    undeclared = set(used) - declared
    assert not undeclared, {m: used[m] for m in undeclared}  # imported, not declared
    unused = declared - set(used) - PENDING
    assert not unused, unused  # declared, never imported


def test_test_imports_are_declared_for_tests():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    test_extra = project["optional-dependencies"]["test"]
    declared = _declared(project["dependencies"]) | _declared(test_extra)
    used = _third_party_imports(["tests"])
    undeclared = set(used) - declared
    assert not undeclared, {m: used[m] for m in undeclared}
