"""docs/ARCHITECTURE.md's dependency rule: ``logwriter -> schema``, ``syncer -> schema``;
logwriter and syncer never import each other (each starts the other as a process), and
schema imports neither.

Checked statically over the source tree (every import statement, at any depth, and every
importlib / ``__import__`` / ``runpy`` call naming a module in a string), and once for
real: a fresh interpreter imports every syncer module and has no logwriter module loaded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
FORBIDDEN = {"syncer": {"logwriter"}, "logwriter": {"syncer"}, "schema": {"logwriter", "syncer"}}
# Calls that import the module named by their first argument (a string).
IMPORTING_CALLS = {"import_module", "__import__", "run_module", "resolve_name", "find_spec",
                   "find_loader", "get_loader"}


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, module) for each module ``tree`` imports, or names to an importing call.

    ``find_spec("pkg")`` of a top-level name only locates it (``syncer.cli.run`` finds
    the SDK's shim directory so), but ``find_spec("pkg.sub")`` imports ``pkg``: the
    first counts as no import, the second does.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                yield node.lineno, node.module
        elif isinstance(node, ast.Call) and _call_name(node.func) in IMPORTING_CALLS:
            if not node.args or not isinstance(node.args[0], ast.Constant):
                continue
            name = node.args[0].value
            if not isinstance(name, str):
                continue
            if _call_name(node.func) in {"find_spec", "find_loader", "get_loader"} \
                    and "." not in name:
                continue
            yield node.lineno, name.replace(":", ".")


def breaches(root: Path = SRC) -> list[str]:
    found = []
    for package, banned in FORBIDDEN.items():
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, module in imported_modules(tree):
                if module.split(".")[0] in banned:
                    found.append(f"{path.relative_to(root)}:{line}: imports {module}")
    return found


def test_no_package_imports_the_other_half() -> None:
    assert (SRC / "syncer" / "cli" / "importcmd.py").is_file()  # the tree is where we look
    assert breaches() == []


def test_the_scan_sees_every_form(tmp_path: Path) -> None:
    (tmp_path / "syncer").mkdir()
    (tmp_path / "syncer" / "bad.py").write_text(
        "import logwriter\n"
        "import logwriter.wal.writer as w\n"
        "from logwriter.importers import entry\n"
        "def f():\n"
        "    from logwriter import media\n"
        "    import importlib\n"
        "    importlib.import_module('logwriter.importers')\n"
        "    __import__('logwriter')\n"
        "    importlib.util.find_spec('logwriter.media')\n"
        "    importlib.util.find_spec('logwriter')  # locates, imports nothing\n"
        "    from . import sibling\n"
        "    cmd = ['-m', 'logwriter.importers']  # a process: fine\n")
    (tmp_path / "logwriter").mkdir()
    (tmp_path / "logwriter" / "bad.py").write_text(
        "class C:\n    def m(self):\n        import syncer.cli\n")
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "ok.py").write_text("import json\nfrom schema import records\n")
    assert {b.split(": ", 1)[0] for b in breaches(tmp_path)} == {
        "syncer/bad.py:1", "syncer/bad.py:2", "syncer/bad.py:3", "syncer/bad.py:5",
        "syncer/bad.py:7", "syncer/bad.py:8", "syncer/bad.py:9", "logwriter/bad.py:3"}


def test_importing_all_of_the_syncer_loads_no_logwriter() -> None:
    code = (
        "import pkgutil, sys, syncer\n"
        "for m in pkgutil.walk_packages(syncer.__path__, 'syncer.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        __import__(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] == 'logwriter'))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
