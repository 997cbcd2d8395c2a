"""The package's layers (docs/design.md): every import points down, never up or sideways,
and no modules import each other in a cycle. Parsed from the source, so nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "audiosplat"
# Folders by rank: a module imports its own folder and folders of lower rank only.
LAYERS = {"core": 0, "dsp": 1, "synth": 2, "models": 3, "fitting": 4, "io": 4, "ops": 5, "eval": 5, "app": 6, "cli": 7}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every audiosplat module `path` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("audiosplat")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("audiosplat"):
            found.add(node.module)
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def all_imports() -> dict[str, set[str]]:
    return {module_name(p): imported_modules(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_lives_in_a_layer():
    loose = [m for m in all_imports() if layer_of(m) is None and m not in ("audiosplat", "audiosplat.__main__")]
    assert not loose, f"modules outside the layer folders: {loose}"


def test_imports_point_down():
    wrong = []
    for module, imports in all_imports().items():
        mine = layer_of(module)
        if mine is None:
            continue
        for target in imports:
            theirs = layer_of(target)
            if theirs is None:
                if target != "audiosplat":  # the package root holds only the version
                    wrong.append(f"{module} -> {target}")
            elif theirs != mine and LAYERS[theirs] >= LAYERS[mine]:
                wrong.append(f"{module} ({mine}) -> {target} ({theirs})")
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles():
    graph = all_imports()
    visiting, done, cycles = set(), set(), []

    def visit(module: str, path: list[str]) -> None:
        if module in done or module not in graph:
            return
        if module in visiting:
            cycles.append(" -> ".join(path[path.index(module):] + [module]))
            return
        visiting.add(module)
        for target in sorted(graph[module]):
            visit(target, path + [module])
        visiting.discard(module)
        done.add(module)

    for module in graph:
        visit(module, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_checker_sees_an_upward_import(tmp_path):
    """The parser finds imports inside functions too (a lazy import is still a dependency)."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from audiosplat.cli.main import app\n    import audiosplat.io.audio\n")
    assert imported_modules(source) == {"audiosplat.cli.main", "audiosplat.io.audio"}
