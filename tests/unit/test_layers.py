"""The import graph of nodechat/ keeps its layers: dependencies point down only.

Every module is parsed (never imported), each ``nodechat.X`` import is mapped
to its top-level package, and each package has a rank. An import of a
package of higher rank, or a cycle between packages, fails the test with the
file and the import. Imports inside functions and under ``TYPE_CHECKING``
count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "nodechat"

# The house order: cli/tui > server > services > protocol > storage, bus > models, errors, config.
RANKS = {
    "nodechat": 0,  # nodechat/__init__.py: the version only
    "errors": 0,
    "config_rules": 0,  # what valid settings are (config checks with it)
    "coalesce": 0,  # many callers, one round trip (stdlib only)
    "models": 1,
    "config": 1,
    "files": 1,
    "storage": 2,
    "blobs": 2,  # where uploaded files' bytes live (fs, s3)
    "bus": 2,
    "proto": 2,  # generated messages only
    "cluster": 3,  # presence, node registry, voice roster (over bus.redis)
    "protocol": 4,
    "services": 5,
    "client": 5,  # the WebSocket client library
    "server": 6,
    "chatclient": 6,
    "tui": 7,
    "bench": 7,  # the load generator (nodechat bench) and bench-account provisioning
    "cli": 8,
    "__main__": 9,
}

# Only the gRPC adapter may touch the generated code.
PROTO_USERS = ("server/grpc/", "proto/")


def package_of(path: Path) -> str:
    """The top-level package of a file under nodechat/ (``nodechat`` for its __init__)."""
    parts = path.relative_to(ROOT).parts
    if len(parts) == 1:
        return "nodechat" if parts[0] == "__init__.py" else parts[0].removesuffix(".py")
    return parts[0]


def module_name(path: Path) -> list[str]:
    """The dotted name of a file's package (for resolving relative imports)."""
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return parts if parts[-1] == "__init__" else parts[:-1]


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module) of every nodechat import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = module_name(path)[: len(module_name(path)) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module == "nodechat":  # from nodechat import X: X may be a package
                for alias in node.names:
                    yield node.lineno, f"nodechat.{alias.name}"
            else:
                yield node.lineno, module


def target_package(module: str) -> str | None:
    """The top-level nodechat package a module belongs to, or None if it is not nodechat's."""
    parts = module.split(".")
    if parts[0] != "nodechat":
        return None
    if len(parts) == 1:
        return "nodechat"
    name = parts[1]
    if (ROOT / name).is_dir() or (ROOT / f"{name}.py").exists():
        return name
    return "nodechat"  # an attribute of nodechat/__init__.py (__version__)


def edges() -> Iterator[tuple[Path, int, str, str, str]]:
    """(file, line, module, from package, to package) of every cross-package import."""
    for path in sorted(ROOT.rglob("*.py")):
        source = package_of(path)
        for line, module in imports(path):
            target = target_package(module)
            if target is not None and target != source:
                yield path, line, module, source, target


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT.parent)}:{line}"


def test_every_package_has_a_rank() -> None:
    packages = {package_of(p) for p in ROOT.rglob("*.py")}
    assert packages <= set(RANKS), f"give these packages a rank: {sorted(packages - set(RANKS))}"


def test_imports_point_down_only() -> None:
    upward = [
        f"{where(path, line)}: {source} (rank {RANKS[source]}) imports {module} "
        f"({target}, rank {RANKS[target]})"
        for path, line, module, source, target in edges()
        if RANKS[target] > RANKS[source]
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_cycle_between_packages() -> None:
    graph: dict[str, dict[str, str]] = {}  # package -> imported package -> one witness
    for path, line, module, source, target in edges():
        graph.setdefault(source, {}).setdefault(target, f"{where(path, line)} imports {module}")
    cycles: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    trail: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        trail.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                loop = [*trail[trail.index(nxt) :], nxt]
                witnesses = [graph[a][b] for a, b in zip(loop, loop[1:], strict=False)]
                cycles.append(" -> ".join(loop) + ": " + "; ".join(witnesses))
            elif nxt not in state:
                visit(nxt)
        trail.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "cycles between packages:\n" + "\n".join(cycles)


def test_only_the_grpc_adapter_imports_the_generated_code() -> None:
    offenders = [
        f"{where(path, line)} imports {module}"
        for path in sorted(ROOT.rglob("*.py"))
        if not path.relative_to(ROOT).as_posix().startswith(PROTO_USERS)
        for line, module in imports(path)
        if module == "nodechat.proto" or module.startswith("nodechat.proto.")
    ]
    assert not offenders, "only nodechat/server/grpc/ may import nodechat.proto:\n" + "\n".join(
        offenders
    )


def test_the_walk_sees_the_known_edges() -> None:
    """Guards the test itself: a parser that found no imports would pass everything."""
    found = {(source, target) for _, _, _, source, target in edges()}
    assert {("server", "services"), ("cluster", "bus"), ("cli", "server")} <= found
    assert ("server", "proto") in found  # via server/grpc
