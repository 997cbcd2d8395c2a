"""`audiosplat report`: the page in a real headless browser (Debian's chromium driven by
Playwright, never a downloaded browser), a batch's pages and index, and its errors."""

from __future__ import annotations

import shutil

import pytest

from tests.cli_runner import assert_one_line_error, run_cli
from tests.shared import GUITAR


def _chromium() -> str:
    """The installed Chromium's path; the test is skipped, saying why, where there is none."""
    pytest.importorskip("playwright.sync_api", reason="no Playwright: pip install playwright (the dev extra has it)")
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no Chromium installed (apt-get install chromium; .ci/run does)")
    return path


@pytest.fixture(scope="module")
def page_file(fitted_splat, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "guitar.html"
    result = run_cli("report", fitted_splat, "--against", GUITAR, "-o", out, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(out)
    return out


def test_the_page_loads_offline_and_an_event_plays_when_clicked(page_file):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=["--mute-audio"])
        page = browser.new_page()
        errors, requests = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri(), wait_until="load")
        marks = page.locator("#timeline .mark")
        assert marks.count() == 4
        top = marks.last  # the loudest, drawn over the others: nothing hides its centre
        key = top.get_attribute("data-key")
        top.hover()
        assert page.locator("#info").text_content().startswith(key.replace("-", " ") + ":")
        top.click()
        page.wait_for_function(f"() => document.getElementById('stem-{key}').currentTime > 0", timeout=5000)  # decoded and playing
        assert page.evaluate("[...document.querySelectorAll('audio.stem')].filter(a => !a.paused).length") == 1
        # the main players' audio decodes too (a codec the browser lacks is no console error)
        page.wait_for_function("() => [...document.querySelectorAll('#players audio')].every(a => a.readyState >= 1)", timeout=5000)
        assert page.evaluate("[...document.querySelectorAll('audio')].filter(a => a.error).length") == 0
        browser.close()
    assert errors == []
    assert [url for url in requests if not url.startswith("data:")] == [page_file.as_uri()]


def test_a_batch_writes_a_page_each_and_an_index(fitted_splat, fitted_seed_splat, tmp_path):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    shutil.copy(fitted_splat, tmp_path / "in" / "direct.splat")
    shutil.copy(fitted_seed_splat, tmp_path / "in" / "sub" / "seed.splat")
    out = tmp_path / "pages"
    result = run_cli("report", tmp_path / "in", "-o", out, "--device", "cpu", "-q")
    assert result.exit_code == 0, result.stderr
    pages = [out / "direct.html", out / "sub" / "seed.html", out / "index.html"]
    assert result.stdout.split() == [str(p) for p in pages]
    index = pages[-1].read_text()
    assert "href='direct.html'" in index and "href='sub/seed.html'" in index
    assert "32 bands (40-11025 Hz)" in pages[0].read_text()  # the direct fit's colour; the seed model's has none
    assert "32 bands (40-11025 Hz)" not in pages[1].read_text()


def test_report_errors_are_one_line(fitted_splat, tmp_path):
    assert_one_line_error(run_cli("report", tmp_path / "missing.splat", "-o", tmp_path / "m.html"), "missing.splat")
    assert_one_line_error(run_cli("report", fitted_splat, fitted_splat, "--against", GUITAR, "-o", tmp_path / "x"), "--against", code=2)
    assert_one_line_error(run_cli("report", fitted_splat, "-o", fitted_splat), "overwrite", code=2)
