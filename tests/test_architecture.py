"""The house stays as described: the harness core never imports the tools
subpackage, and docs/ARCHITECTURE.md names exactly the modules there are."""

import ast
import glob
import os
import re

from conftest import REPO

PACKAGES = ("benchmarks", "models", "preprocessing", "reports", "scripts")


def _modules():
    found = set()
    for package in PACKAGES:
        for path in glob.glob(os.path.join(REPO, package, "**", "*.py"),
                              recursive=True):
            found.add(os.path.relpath(path, REPO))
    return found


def _imported_modules(path):
    """Every module name a file imports (``from a import b`` gives a, a.b)."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_the_harness_core_imports_nothing_from_tools():
    core = [m for m in _modules() if m.startswith("benchmarks" + os.sep)
            and not m.startswith(os.path.join("benchmarks", "tools"))]
    assert len(core) > 30
    offenders = {m: sorted(n for n in _imported_modules(os.path.join(REPO, m))
                           if n.startswith("benchmarks.tools"))
                 for m in core}
    assert {m: n for m, n in offenders.items() if n} == {}
    # The check sees such an import where one is.
    tool_users = [m for m in _modules() if m.startswith("scripts")
                  and any(n.startswith("benchmarks.tools") for n in
                          _imported_modules(os.path.join(REPO, m)))]
    assert tool_users


def test_the_architecture_page_names_every_module_and_no_other():
    with open(os.path.join(REPO, "docs", "ARCHITECTURE.md")) as f:
        text = f.read()
    named = set(re.findall(r"`((?:%s)/[\w/]+\.py)`" % "|".join(PACKAGES),
                           text))
    on_disk = _modules()
    missing = {m for m in on_disk - named
               if os.path.basename(m) != "__init__.py"}
    assert missing == set(), "modules the page does not describe"
    assert named - on_disk == set(), "modules the page names that do not exist"
