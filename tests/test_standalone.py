"""The repository stands alone: no file points outside it, and every relative link in the
README and docs/ names a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", ".venv", "node_modules", "var", "__pycache__", ".pytest_cache"}
TEXT_SUFFIXES = {".py", ".md", ".html", ".js", ".css", ".toml", ".txt", ".cfg", ".service"}
#: names of documents that live outside this repository (split so this file passes)
OUTSIDE = ("DESIGN" + ".md", "../" + "shared", "STYLE" + ".md")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _files():
    for path in ROOT.rglob("*"):
        if any(part in SKIP_DIRS for part in path.relative_to(ROOT).parts):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name == "Makefile"):
            yield path


def test_nothing_points_outside_the_repository():
    found = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _files()
        for name in OUTSIDE
        if name in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert found == []


@pytest.mark.parametrize(
    "doc", [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))], ids=lambda p: p.name
)
def test_relative_links_resolve(doc):
    broken = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        if not (doc.parent / target).exists():
            broken.append(target)
    assert broken == []
