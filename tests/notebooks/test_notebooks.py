"""Planner notebooks: committed without outputs, and written against the public library only.

Executing them is a separate run: ``pytest --nbmake notebooks`` (part of ``make test``).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from testdata import ROOT

NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
FIX = "run `.venv/bin/nbstripout notebooks/*.ipynb` before committing"


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _code(cell: dict) -> str:
    source = cell["source"]
    text = "".join(source) if isinstance(source, list) else source
    # IPython magics and shell escapes are not Python
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines())


def test_notebooks_exist() -> None:
    assert PATHS, f"no notebooks found in {NOTEBOOKS}"


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_is_stripped(path: Path) -> None:
    dirty = [
        i
        for i, cell in enumerate(_cells(path))
        if cell["cell_type"] == "code"
        and (
            cell.get("outputs") or cell.get("execution_count") is not None or "execution" in cell["metadata"]
        )
    ]
    assert not dirty, f"{path.name}: cells {dirty} keep outputs or execution counts; {FIX}"


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_uses_public_names_only(path: Path) -> None:
    private = []
    for i, cell in enumerate(_cells(path)):
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse(_code(cell))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("siting"):
                names = [node.module, *(a.name for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("siting")]
            elif isinstance(node, ast.Attribute):
                names = [node.attr]
            else:
                continue
            private += [
                f"cell {i}: {n}"
                for n in names
                if any(part.startswith("_") and not part.startswith("__") for part in n.split("."))
            ]
    assert not private, f"{path.name} uses private names {private}; use the public siting API"
