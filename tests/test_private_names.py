"""No module of ``experiments/`` uses another module's private name (issue 14: the batch runner
called ``_runner._say``, ``_runner._for_file``, ``_runner._config_record`` ...). A name another
module needs is public in its one home. Read from the source (ast), nothing imported."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIRST_PARTY = ("mst_jax", "experiments", "benchmarks")


def _is_module(dotted: str) -> bool:
    """Whether ``dotted`` names a first-party module or package (``experiments._flags`` is one:
    importing a module whose file name starts with ``_`` is allowed, its private names are not)."""
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def private_uses(source: str) -> list[str]:
    """``module._name`` and ``from module import _name`` uses of first-party modules' private
    names in ``source`` (a module's text), as ``"line: text"`` strings."""
    tree = ast.parse(source)
    modules: dict[str, str] = {}  # local name -> the first-party module it is bound to
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in FIRST_PARTY:
                    modules[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] not in FIRST_PARTY:
                continue
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                if _is_module(dotted):
                    modules[alias.asname or alias.name] = dotted
                elif alias.name.startswith("_"):
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not _is_module(f"{modules[node.value.id]}.{node.attr}")
        ):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_check_finds_private_uses_and_allows_private_modules():
    # Hand-written cases: what the check must report, and what it must let through.
    source = (
        "from experiments import _runner, console\n"
        "from experiments.console import _NoticeHandler\n"
        "import mst_jax.losses as L\n"
        "_runner._say('x')\n"  # a private function of another module
        "L._private(1)\n"
        "console.say('x')\n"  # public: fine
        "_runner.execute\n"  # a public name of a module whose file name starts with _: fine
        "x.__class__\n"
    )
    assert private_uses(source) == [
        "2: from experiments.console import _NoticeHandler",
        "4: _runner._say",
        "5: L._private",
    ]


def test_no_experiments_module_uses_another_modules_private_name():
    found = {}
    for path in sorted((ROOT / "experiments").rglob("*.py")):
        uses = private_uses(path.read_text())
        if uses:
            found[str(path.relative_to(ROOT))] = uses
    assert not found, found
