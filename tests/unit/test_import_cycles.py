"""The first-party modules import one another without cycles (TYPE_CHECKING imports and
imports inside functions count too: a cycle hidden there is still a knot to untie)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bridge", "adapters", "routing")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The first-party modules ``path`` imports (``from pkg import submodule`` names the
    submodule, not the package)."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{alias.name}" for alias in node.names]
            named.update([s for s in subs if s in known] or [node.module])
        elif isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
    return {name for name in named if name in known}


def cycle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """A path from ``start`` back to itself, if there is one."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in graph[node]:
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_no_module_imports_itself_through_others() -> None:
    """No first-party module reaches itself by following imports."""
    known = modules()
    graph = {name: imports(path, known) - {name} for name, path in known.items()}
    cycles = {" -> ".join(c) for name in sorted(graph) if (c := cycle_from(name, graph))}
    assert not cycles, "import cycles:\n" + "\n".join(sorted(cycles))
