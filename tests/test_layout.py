"""The package's arrows point one way: kernels <- core <- jobs <- runs <- command line.

Every ``import`` statement of the library (those inside functions too) is read from
the source, resolved, and checked against the layer of the module it is in."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "numbarnn"
CORE = {"layers", "losses", "optim", "devices", "checkpoints", "progress", "precompile",
        "analysis", "info", "demo"}
LAYERS = {"kernels": 0, "core": 1, "text": 2, "forecast": 2, "runs": 3}


def part(module):
    """'kernels', 'core', 'text', 'forecast', 'runs', or None for the package's own
    helpers (``numbarnn``, ``numbarnn._checks`` ...), which any module may import."""
    names = module.split(".")
    if len(names) == 1 or names[1].startswith("_") and names[1] != "__main__":
        return None
    if names[1] in CORE:
        return "core"
    return names[1] if names[1] in LAYERS else "other"


def imports(path):
    """(line, absolute module) of every import in ``path``."""
    here = ["numbarnn", *path.relative_to(PACKAGE).with_suffix("").parts]
    package = here[:-1] if here[-1] != "__init__" else here[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            yield node.lineno, module
            if node.module is None or module == "numbarnn":  # from . import x: x may be a module
                yield from ((node.lineno, f"{module}.{a.name}") for a in node.names
                            if (PACKAGE.parent / module.replace(".", "/") / a.name).exists()
                            or (PACKAGE.parent / module.replace(".", "/")
                                / f"{a.name}.py").exists())


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_is_in_a_layer():
    unplaced = [str(p.relative_to(PACKAGE)) for p in MODULES
                if part(".".join(["numbarnn", *p.relative_to(PACKAGE).with_suffix("").parts]))
                == "other" and p.name != "__main__.py"]
    assert unplaced == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    me = part(".".join(["numbarnn", *path.relative_to(PACKAGE).with_suffix("").parts]))
    wrong = []
    for line, module in imports(path):
        if module.split(".")[0] in ("click", "numbarnn_cli") and path.name != "__main__.py":
            wrong.append(f"line {line}: {module} (the library never imports the CLI)")
        if not module.startswith("numbarnn.") or me in (None, "other"):
            continue
        them = part(module)
        if them is None or them == me:
            continue
        if them == "other" or LAYERS[them] >= LAYERS[me]:
            wrong.append(f"line {line}: {me} imports {module} ({them})")
    assert wrong == []


# one job per module: past about 600 lines a module is split by job (the design, README's
# "Package layout"; this allows 650 before it fails); the layers, which keep the cells'
# classes side by side, aside
MOST_LINES = 650
LONG_BY_DESIGN = {"numbarnn/layers.py"}


def test_no_module_outgrows_its_job():
    cli = PACKAGE.parent / "cli"
    files = MODULES + sorted(cli.glob("*.py"))
    long = {p.relative_to(PACKAGE.parent).as_posix(): n for p in files
            if p.relative_to(PACKAGE.parent).as_posix() not in LONG_BY_DESIGN
            and (n := len(p.read_text().splitlines())) > MOST_LINES}
    assert long == {}, f"split these by job: {long}"
