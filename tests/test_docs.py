"""The docs' code runs: every ```python block of a page under docs/, in order, in one
namespace per page (a page reads like one session). A page whose code breaks fails here;
CI also builds the site with `mkdocs build --strict` (broken links and references fail).

Code that cannot run inside the test process (it needs several processes, a download, a
real GPU) goes in ```py blocks: highlighted the same, not run."""

import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PAGES = sorted(p for p in DOCS.rglob("*.md") if BLOCK.search(p.read_text()))


def test_every_guide_page_has_code_that_runs_here():
    guide = sorted(DOCS.glob("guide/*.md"))
    assert len(guide) >= 7 and all(p in PAGES for p in guide)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_the_code_on_each_page_runs(page, tmp_path, monkeypatch):
    blocks = BLOCK.findall(page.read_text())
    monkeypatch.chdir(tmp_path)  # a page that writes files writes them here
    namespace = {"__name__": f"docs_{page.stem}"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{page.relative_to(DOCS)} (block {i + 1})", "exec"), namespace)
