"""The package's import structure: no circles, no import against the layers, no long module.

The imports are read with `ast` (also those inside functions and under `if TYPE_CHECKING`), so
the layers hold by test rather than by review. When a module is added, moved or removed, update
RANKS: a module that no entry matches fails the layer test on purpose.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = "harness"
PACKAGE_DIR = Path(__file__).resolve().parents[2] / ROOT
MAX_LINES = 400

# What may import what. A module takes the rank of its most specific entry (by dotted prefix;
# the root entry "harness" matches harness/__init__.py only). It may import modules of its own
# entry (its package) or of a lower rank (or its own rank, in GROUP_RANKS).
RANKS: dict[str, int] = {
    # 0 vocabulary: version, exit codes, usage error, MiB, series names, process lifetime
    "harness": 0,
    "harness.exit_codes": 0,
    "harness.console": 0,
    "harness.errors": 0,
    "harness.units": 0,
    "harness.series": 0,
    "harness.lifetime": 0,
    "harness.redaction": 0,
    # 1 the run directory contract: layout, writer, typed reader
    "harness.rundir": 1,
    # 2 five packages that know nothing of each other (harness.upstream.cli, the stub's own
    # entry point, belongs to harness.upstream and so may import harness.upstream.*)
    "harness.target": 2,
    "harness.load": 2,
    "harness.sample": 2,
    "harness.upstream": 2,
    "harness.analyze": 2,
    # 3 one run; one run's report formats
    "harness.run": 3,
    "harness.report": 3,
    # 4 across runs: history and trend; comparison
    "harness.history": 4,
    "harness.compare": 4,
    # 5 suite results and sign-off
    "harness.suite": 5,
    # 6 things that run runs
    "harness.workflows": 6,
    # 7 one module per command
    "harness.commands": 7,
    # 8 entry points
    "harness.cli": 8,
    "harness.__main__": 8,
    # data: scenario files and locustfiles, which run inside Locust's process, so they may use
    # rank 2 and below only (rank 3 here); see DATA_PACKAGES
    "harness.scenarios": 3,
}
# Ranks whose entries form one group and may import each other: the vocabulary, and the entry
# points (`python -m harness` runs harness.cli). The circle test still holds within them.
GROUP_RANKS = (0, 8)
# Package data: found through the package (importlib.resources), never imported from outside.
DATA_PACKAGES = ("harness.scenarios",)
# Packages whose modules never import each other, only the package's `_private` helpers.
NO_SIBLING_IMPORTS = ("harness.commands",)


@dataclass(frozen=True, order=True)
class Import:
    """One import statement's edge: `importer` (in `file`, at `line`) imports `imported`."""

    file: str
    line: int
    importer: str
    imported: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.importer} -> {self.imported}"


@dataclass(frozen=True)
class Package:
    """The modules of a package directory and every import of the package inside it."""

    modules: Mapping[str, Path]  # dotted name -> file
    imports: list[Import]
    root: Path  # the directory the file names in messages are relative to


def module_name(path: Path, package_dir: Path) -> str:
    parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read_package(package_dir: Path) -> Package:
    files = sorted(package_dir.rglob("*.py"))
    modules = {module_name(path, package_dir): path for path in files}
    root = package_dir.name
    imports: list[Import] = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        shown = path.relative_to(package_dir.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call):
                targets = _dynamic_target(node)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                targets = _targets(node, name, is_package, modules)
            else:
                continue
            for target in targets:
                if (target == root or target.startswith(root + ".")) and target != name:
                    imports.append(Import(shown, node.lineno, name, target))
    return Package(modules, sorted(set(imports)), package_dir.parent)


def _targets(
    node: ast.Import | ast.ImportFrom, importer: str, is_package: bool, modules: Mapping[str, Path]
) -> list[str]:
    """The modules an import node names: `from a import b` is a.b when b is a module."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base_parts = importer.split(".") if is_package else importer.split(".")[:-1]
        base_parts = base_parts[: len(base_parts) - (node.level - 1)]
        base = ".".join([*base_parts, *([node.module] if node.module else [])])
    else:
        base = node.module or ""
    return [
        f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
        for alias in node.names
    ]


def _dynamic_target(call: ast.Call) -> list[str]:
    """`importlib.import_module("a.b")` is a.b; with an f-string, the package its text names."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name != "import_module" or not call.args:
        return []
    arg = call.args[0]
    if isinstance(arg, ast.JoinedStr) and arg.values:
        arg = arg.values[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return [arg.value.rsplit(".", 1)[0]]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    return []


def find_circles(imports: Iterable[Import]) -> list[list[Import]]:
    """The imports inside each strongly connected component of more than one module (Tarjan)."""
    imports = list(imports)
    graph: dict[str, set[str]] = {}
    for edge in imports:
        graph.setdefault(edge.importer, set()).add(edge.imported)
        graph.setdefault(edge.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(
        sorted(e for e in imports if e.importer in c and e.imported in c)
        for c in components
        if len(c) > 1
    )


def layer_of(module: str, ranks: Mapping[str, int] = RANKS) -> str | None:
    """The most specific entry of `ranks` that matches `module` (None: in no layer)."""
    root = module.split(".")[0]
    if module == root:
        return root if root in ranks else None
    matches = [k for k in ranks if k != root and (module == k or module.startswith(k + "."))]
    return max(matches, key=len, default=None)


def layer_violations(package: Package, ranks: Mapping[str, int] = RANKS) -> list[str]:
    """Every module in no layer, and every import that is not of its own package or lower."""
    found = [
        f"{path.relative_to(package.root).as_posix()}: {name} is in no layer of RANKS"
        for name, path in package.modules.items()
        if layer_of(name, ranks) is None
    ]
    for edge in package.imports:
        source, target = layer_of(edge.importer, ranks), layer_of(edge.imported, ranks)
        if source is None:
            continue  # reported above
        if edge.imported not in package.modules:
            found.append(f"{edge} (no such module in the package)")
            continue
        if target is None:
            continue  # reported above
        reason = _forbidden(edge, source, target, ranks)
        if reason:
            found.append(f"{edge} ({reason})")
    return found


def _forbidden(edge: Import, source: str, target: str, ranks: Mapping[str, int]) -> str | None:
    if target in DATA_PACKAGES and source != target:
        return f"{target} is package data, not imported"
    if source == target:
        sibling = edge.imported != target and not edge.imported.rsplit(".")[-1].startswith("_")
        if source in NO_SIBLING_IMPORTS and sibling:
            return f"modules of {source} do not import each other"
        return None
    rank_from, rank_to = ranks[source], ranks[target]
    if rank_to < rank_from or (rank_from == rank_to and rank_from in GROUP_RANKS):
        return None
    return f"rank {rank_from} {source} may not import rank {rank_to} {target}"


def long_modules(package: Package, limit: int = MAX_LINES) -> list[str]:
    lengths = {path: len(path.read_text().splitlines()) for path in package.modules.values()}
    return [
        f"{path.relative_to(package.root).as_posix()}: {lines} lines"
        for path, lines in sorted(lengths.items())
        if lines > limit
    ]


def _listing(title: str, offenders: Iterable[object]) -> str:
    return "\n".join([title, *(f"  {offender}" for offender in offenders)])


@pytest.fixture(scope="module")
def harness_package() -> Package:
    return read_package(PACKAGE_DIR)


def test_no_import_circles(harness_package: Package) -> None:
    circles = find_circles(harness_package.imports)
    lines = [f"circle {i + 1}:\n" + "\n".join(f"    {e}" for e in c) for i, c in enumerate(circles)]
    assert not circles, _listing(f"{len(circles)} import circle(s) in harness/:", lines)


def test_no_import_against_the_layers(harness_package: Package) -> None:
    found = layer_violations(harness_package)
    assert not found, _listing(f"{len(found)} import(s) against the layers of RANKS:", found)


def test_no_module_over_the_line_limit(harness_package: Package) -> None:
    found = long_modules(harness_package)
    assert not found, _listing(f"{len(found)} module(s) over {MAX_LINES} lines:", found)


# The checker on fabricated packages: it must be able to fail as well as pass.


def _fabricate(tmp_path: Path, files: Mapping[str, str]) -> Package:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return read_package(tmp_path / ROOT)


CLEAN = {
    "harness/__init__.py": "",
    "harness/units.py": "MIB = 1 << 20\n",
    "harness/series.py": "from harness.units import MIB\n",
    "harness/rundir.py": "from harness import units\n",
    "harness/run/__init__.py": "",
    "harness/run/leak_run.py": "from ..rundir import MIB\nfrom . import config\n",
    "harness/run/config.py": "from harness.units import MIB\n",
    "harness/commands/__init__.py": "",
    "harness/commands/_options.py": "",
    "harness/commands/run.py": "from harness.run import leak_run\nfrom ._options import x\n",
    "harness/cli.py": "import importlib\nimportlib.import_module(f'harness.commands.{name}')\n",
}


def test_a_clean_package_passes(tmp_path: Path) -> None:
    package = _fabricate(tmp_path, CLEAN)
    assert find_circles(package.imports) == []
    assert layer_violations(package) == []
    assert long_modules(package) == []
    edges = {(e.importer, e.imported) for e in package.imports}
    assert ("harness.run.leak_run", "harness.rundir") in edges  # relative, a name
    assert ("harness.run.leak_run", "harness.run.config") in edges  # relative, a module
    assert ("harness.commands.run", "harness.run.leak_run") in edges  # from pkg import module
    assert ("harness.rundir", "harness.units") in edges
    assert ("harness.cli", "harness.commands") in edges  # importlib, an f-string


def test_a_circle_is_found_also_through_imports_inside_functions(tmp_path: Path) -> None:
    package = _fabricate(
        tmp_path,
        {
            **CLEAN,
            "harness/target/__init__.py": "",
            "harness/target/docker.py": "from harness.target.image import build\n",
            "harness/target/image.py": "from harness.target.select import pick\n",
            "harness/target/select.py": "def pick():\n    from harness.target import docker\n",
        },
    )
    circles = find_circles(package.imports)
    assert [[str(e) for e in c] for c in circles] == [
        [
            "harness/target/docker.py:1: harness.target.docker -> harness.target.image",
            "harness/target/image.py:1: harness.target.image -> harness.target.select",
            "harness/target/select.py:2: harness.target.select -> harness.target.docker",
        ]
    ]


def test_an_upward_import_is_found_also_under_type_checking(tmp_path: Path) -> None:
    upward = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from harness.run import leak_run\n"
    )
    package = _fabricate(
        tmp_path,
        {
            **CLEAN,
            "harness/analyze/__init__.py": "",
            "harness/analyze/verdict.py": upward,
            "harness/load/__init__.py": "",
            "harness/load/scenario.py": "from harness.analyze import verdict\n",
            "harness/commands/compare.py": "from harness.commands import run\n",
            "harness/scenarios/__init__.py": "",
            "harness/scenarios/users.py": "from harness.run.config import MIB\n",
            "harness/profile/__init__.py": "",
        },
    )
    assert find_circles(package.imports) == []
    assert layer_violations(package) == [
        "harness/profile/__init__.py: harness.profile is in no layer of RANKS",
        "harness/analyze/verdict.py:3: harness.analyze.verdict -> harness.run.leak_run"
        " (rank 2 harness.analyze may not import rank 3 harness.run)",
        "harness/commands/compare.py:1: harness.commands.compare -> harness.commands.run"
        " (modules of harness.commands do not import each other)",
        "harness/load/scenario.py:1: harness.load.scenario -> harness.analyze.verdict"
        " (rank 2 harness.load may not import rank 2 harness.analyze)",
        "harness/scenarios/users.py:1: harness.scenarios.users -> harness.run.config"
        " (rank 3 harness.scenarios may not import rank 3 harness.run)",
    ]


def test_a_long_module_is_found(tmp_path: Path) -> None:
    package = _fabricate(tmp_path, {**CLEAN, "harness/units.py": "x = 1\n" * (MAX_LINES + 1)})
    assert long_modules(package) == [f"harness/units.py: {MAX_LINES + 1} lines"]


def test_the_most_specific_prefix_wins() -> None:
    ranks = {"harness": 0, "harness.a": 2, "harness.a.cli": 8}
    assert layer_of("harness", ranks) == "harness"
    assert layer_of("harness.a.cli", ranks) == "harness.a.cli"
    assert layer_of("harness.a.clio", ranks) == "harness.a"
    assert layer_of("harness.b", ranks) is None
