"""The HTML report in a real headless browser: sections present, every embedded image decodes, not blank.

The browser tests need Debian's chromium (``apt-get install -y chromium``) and are skipped with the
reason when it is missing. Also: the report rebuilt from a run directory equals the one written from
the run (so ``python -m p2psim explain RUN_DIR`` can rewrite it in place).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

import p2psim.cli.explain  # noqa: F401  (registers the explain sub-command)
from p2psim.cli import main
from p2psim.explain.synthetic import synthetic_run

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="headless browser test needs /usr/bin/chromium; install it with: "
           "apt-get update && apt-get install -y chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]
# Appended to a copy of the page: after load, record each image's decoded size on the DOM.
PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  imgs.forEach(i => i.setAttribute('data-natural-width', i.naturalWidth));
  document.body.setAttribute('data-images-ok', imgs.filter(i => i.complete && i.naturalWidth > 0).length);
  document.body.setAttribute('data-images', imgs.length);
});
</script>"""


def chromium(tmp_path: Path, *args: str) -> str:
    result = subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = synthetic_run(tmp_path_factory.mktemp("browser") / "run", days=4)
    assert main(["explain", str(run), "--target", "weighted_shapley"]) == 0
    return run / "report.html"


def test_report_is_self_contained(report):
    page = report.read_text()
    assert not re.search(r"""(src|href)=["'](https?:|//|file:)""", page), "the page must not load anything"
    assert "<style>" in page and 'id="toc"' in page


@pytest.mark.browser
@needs_chromium
def test_page_loads_with_sections_and_images(report, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    for section in ("summary", "solvers", "market", "explanations"):
        assert f'<section id="{section}"' in dom, section
    n_images = int(re.search(r'data-images="(\d+)"', dom).group(1))
    ok = int(re.search(r'data-images-ok="(\d+)"', dom).group(1))
    assert n_images >= 8 and ok == n_images
    widths = [int(w) for w in re.findall(r'data-natural-width="(\d+)"', dom)]
    assert len(widths) == n_images and min(widths) > 100
    for anchor in re.findall(r'<a href="#([^"]+)"', dom):  # every contents entry points at a heading
        assert f'id="{anchor}"' in dom


@pytest.mark.browser
@needs_chromium
def test_screenshot_is_not_blank(report, tmp_path):
    from PIL import Image

    shot = tmp_path / "shot.png"
    chromium(tmp_path, "--window-size=1280,1600", f"--screenshot={shot}", report.as_uri())
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (1600, 1280)
    assert pixels.std() > 20  # text, cards and figures, not an empty page
    header = pixels[:60].mean()
    assert header < 120  # the dark title bar rendered (CSS applied)



def test_report_rebuilt_from_directory_is_identical(tiny_study, tmp_path):
    from p2psim.report import rewrite_report
    from p2psim.runner import run, write_run

    out = write_run(run(tiny_study), tmp_path / "tiny")
    written = (out / "report.md").read_text()
    rewrite_report(out)
    assert (out / "report.md").read_text() == written
    html = (out / "report.html").read_text()
    assert '<section id="summary">' in html and '<section id="market">' in html
