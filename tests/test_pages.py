"""The pages that quote benchmark results are written by bench/pages.py from bench/results/: a
page that quotes a figure its results file does not hold fails here. The README stays short."""

import subprocess
import sys

from .workflow import ROOT


def test_the_generated_pages_say_what_the_results_files_hold():
    proc = subprocess.run([sys.executable, str(ROOT / "bench/pages.py"), "--check"], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_the_readme_is_short_and_links_every_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{page.name})" in readme, page.name
    assert "make demo" in readme and "make test" in readme
