"""The package layers read top-down: no module under src/vssl imports from a higher layer (docs/architecture.md)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
# low → high; a module may import from its own layer or lower ones
LAYERS = ("core", "data", "models", "methods", "evaluation", "results", "app")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    base = SRC.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def layer_of(module: str) -> str:
    """``vssl.<package>...`` → its layer; the ``vssl`` package itself (the lazy public facade) is the top."""
    parts = module.split(".")
    if parts == ["vssl"]:
        return "app"
    if parts[1] not in LAYERS:
        raise AssertionError(f"{module} is in no layer: put it in one of vssl.{{{', '.join(LAYERS)}}}")
    return parts[1]


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every vssl import in ``path``, at any depth (inside functions too); relative imports are
    resolved, and ``from package import name`` counts as importing ``package.name`` when that is a module."""
    importer = module_name(path)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                found.append((node.lineno, candidate if is_module(candidate) else source))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return [(line, name) for line, name in found if name == "vssl" or name.startswith("vssl.")]


SOURCES = sorted((SRC / "vssl").rglob("*.py"))


def test_every_module_is_in_a_layer():
    for path in SOURCES:
        layer_of(module_name(path))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_imports_from_a_higher_layer(path):
    own = layer_of(module_name(path))
    upward = [f"{path.relative_to(SRC.parent)}:{line} imports {name} (layer {layer_of(name)}) "
              f"from layer {own}" for line, name in imported_modules(path)
              if LAYERS.index(layer_of(name)) > LAYERS.index(own)]
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_the_checker_sees_nested_and_relative_imports(tmp_path, monkeypatch):
    package = tmp_path / "vssl" / "core"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "bad.py").write_text("def f():\n    from ..app import cli\n    import vssl.results.store\n")
    (tmp_path / "vssl" / "app").mkdir()
    (tmp_path / "vssl" / "app" / "cli.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path)
    assert [name for _, name in imported_modules(package / "bad.py")] == ["vssl.app.cli", "vssl.results.store"]


def test_lower_layers_and_the_results_api_import_no_torch():
    code = ("import sys, vssl, vssl.data, vssl.core.config, vssl.core.io, vssl.results; "
            "assert callable(vssl.data.synthesize); "
            "print(sorted(m for m in ('torch', 'lightning', 'av') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
