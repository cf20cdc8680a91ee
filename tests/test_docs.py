"""The documentation follows the code: the generated flag pages are current,
every flag is documented, README's flags and make targets exist, and every
relative link resolves."""

import glob
import os
import re
import subprocess
import sys

import pytest

from benchmarks.flags import all_flags
from benchmarks.tools import flag_docs
from conftest import REPO

PAGES = [os.path.join(REPO, "README.md"),
         *sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))]


def _read(path):
    with open(path) as f:
        return f.read()


def test_the_generated_flag_pages_are_current():
    for path, text in flag_docs.pages().items():
        assert _read(path) == text, (
            f"{os.path.relpath(path, REPO)} is stale: run "
            "python scripts/flag_docs.py --write")


def test_the_check_script_says_when_a_page_is_stale():
    ok = subprocess.run([sys.executable, "scripts/flag_docs.py", "--check"],
                        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout == "", ok.stdout + ok.stderr


def test_every_flag_is_in_the_flag_page():
    page = _read(flag_docs.FLAGS_PAGE)
    documented = set(re.findall(r"^\| `--(\w+)` \|", page, re.M))
    assert documented == {f.name for f in all_flags()}


def test_the_tf_cnn_page_lists_its_137_flags():
    page = _read(flag_docs.TF_CNN_PAGE)
    rows = re.findall(r"^\| `--(\w+)` \| (built|no effect|refused) \|", page,
                      re.M)
    assert len(rows) == 137 and len({name for name, _ in rows}) == 137


@pytest.mark.parametrize("page", PAGES, ids=lambda p: os.path.relpath(p, REPO))
def test_every_relative_link_resolves(page):
    text = re.sub(r"```.*?```", "", _read(page), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = os.path.join(os.path.dirname(page), target.split("#")[0])
        assert os.path.exists(path), f"{os.path.relpath(page, REPO)}: {target}"


def _readme_flag_names():
    text = _read(os.path.join(REPO, "README.md"))
    return set(re.findall(r"(?<![\w-])--(?:no)?([a-z][a-z0-9_]+)", text))


def test_every_flag_readme_names_exists():
    # The runner's flags, the scripts' own (ab.py, compare.py), absl's.
    ab = subprocess.run([sys.executable, "scripts/ab.py", "--help"], cwd=REPO,
                        capture_output=True, text=True, timeout=120).stdout
    compare = subprocess.run([sys.executable, "scripts/compare.py", "--help"],
                             cwd=REPO, capture_output=True, text=True,
                             timeout=120).stdout
    known = ({f.name for f in all_flags()} | {"helpfull", "help", "flagfile"}
             | set(re.findall(r"--(\w+)", ab + compare)))
    names = _readme_flag_names()
    unknown = {n for n in names if n not in known
               and not (n.startswith("no") and n[2:] in known)}
    assert not unknown, sorted(unknown)
    assert "self_check" in names  # the test reads what README says


def test_every_make_target_readme_names_exists():
    makefile = _read(os.path.join(REPO, "Makefile"))
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    named = set(re.findall(r"\bmake ([a-z][\w-]*)",
                           _read(os.path.join(REPO, "README.md"))))
    assert named and named <= targets, sorted(named - targets)


def test_readme_stays_a_first_page():
    lines = _read(os.path.join(REPO, "README.md")).splitlines()
    assert len(lines) <= 200
    fence = lines.index("```bash", lines.index("## Quick start"))
    block = lines[fence + 1:lines.index("```", fence + 1)]
    commands = [line for line in block if line.strip()]
    assert [c.split("#")[0].strip() for c in commands] == ["make demo",
                                                           "make test"]
