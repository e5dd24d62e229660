"""The HTML report: self-contained, escaped, shows excerpts and diffs, and renders in a real browser."""

from __future__ import annotations

import dataclasses
import re
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from auditor.report import FORMATS
from auditor.report.html import score_color
from tests.helpers import FIXTURES, scan_project, write_project

SCREENSHOT = Path(__file__).resolve().parent.parent / "screenshots" / "html-report.png"
HOSTILE = {
    "app.py": (
        "from fastapi import FastAPI\n"
        "import requests\n"
        "app = FastAPI()\n"
        "@app.get('/health')\n"
        "def health():\n"
        "    print('<script>alert(1)</script>')  # prodready: fixme[PR502]  <b>LOG-12</b>\n"
        "    requests.get('https://example.com')  # prodready: ignore[PR250]  vendor & co\n"
        "    return {}\n"
    )
}


def test_self_contained_and_escaped(tmp_path):
    html = FORMATS["html"](scan_project(write_project(tmp_path, HOSTILE)))
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"""\b(src|href)\s*=|<link|@import|url\(""", html)  # nothing fetched
    assert "<svg" in html and html.count('fill="#e6e9ed"') == 5  # one bar track per step
    assert "known debt" in html and "&lt;b&gt;LOG-12&lt;/b&gt;" in html
    assert "vendor &amp; co" in html  # the suppression's reason, in its own table
    # The excerpt shows the flagged line highlighted with its number.
    assert re.search(r'<span class="hit"><span class="n">6</span>', html)


def test_proposed_diffs_are_shown_when_the_fix_engine_offers_them(tmp_path, monkeypatch):
    import fixers

    result = scan_project(write_project(tmp_path, HOSTILE), select=["PR502"])
    finding = result.findings[0]
    result.findings[0] = dataclasses.replace(finding, fixable=True)

    class Preview:
        def diff(self) -> str:
            return "--- a/app.py\n+++ b/app.py\n@@ -6 +6 @@\n-    print('x')\n+    logger.info('x')\n"

    monkeypatch.setattr(fixers, "preview", lambda result, finding: Preview(), raising=False)
    html = FORMATS["html"](result)
    assert '<span class="del">-    print(&#39;x&#39;)</span>' in html
    assert '<span class="add">+    logger.info(&#39;x&#39;)</span>' in html

    def broken(result, finding):
        raise RuntimeError("cannot preview")

    monkeypatch.setattr(fixers, "preview", broken, raising=False)
    assert "Proposed fix" not in FORMATS["html"](result)  # the report still renders


def read_png(path: Path, max_rows: int) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, the first `max_rows` pixel rows) of an 8-bit, non-interlaced PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color_type, _, _, interlace = header
    assert depth == 8 and interlace == 0 and color_type in (2, 6)
    bpp = 3 if color_type == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, bytearray(), bytearray(width * bpp)
    for y in range(min(height, max_rows)):  # each row depends only on the ones above it
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows += line
        prev = line
    return width, height, bpp, bytes(rows)


def test_renders_in_headless_chromium(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page = tmp_path / "report.html"
    result = scan_project(FIXTURES / "sloppy_fastapi")
    page.write_text(FORMATS["html"](result), encoding="utf-8")
    png = tmp_path / "report.png"
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1280,2000", page.as_uri(),
    ]  # fmt: skip
    subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert png.is_file() and png.stat().st_size > 10_000, "chromium wrote no screenshot"
    width, height, bpp, pixels = read_png(png, max_rows=600)  # the header and the score chart
    assert (width, height) == (1280, 2000)
    colors = {pixels[i : i + 3] for i in range(0, len(pixels), bpp * 7)}
    dark = sum(1 for i in range(0, len(pixels), bpp * 7) if sum(pixels[i : i + 3]) < 200)
    assert len(colors) > 50 and dark > 200, "the page rendered blank"
    # The score chart is drawn: the bar tracks and the colour of every visible bar are on the page.
    bars = {score_color(entry["score"]) for entry in result.scores().values() if entry["score"] >= 5}
    for color in bars | {"#e6e9ed"}:
        rgb = bytes.fromhex(color[1:])
        assert any(all(abs(c[i] - rgb[i]) < 12 for i in range(3)) for c in colors), f"no {color} bar in the screenshot"
    if os.environ.get("PRODREADY_UPDATE_SCREENSHOTS"):  # the README's picture, refreshed on request only
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(png, SCREENSHOT)
