"""Render an HTML page in headless Chromium for tests: a screenshot and the page's JavaScript errors.

How errors are caught: Chromium's ``--enable-logging=stderr`` prints every console message as an
``INFO:CONSOLE`` line but loses its level (``console.log`` and ``console.error`` look the same), and a
failed image or script load is not printed at all.  So the page is rendered from a *copy* into which a
small collector is injected first thing in ``<head>``; it re-logs ``console.error(...)`` calls and failed
resource loads (capture-phase ``error`` events on elements) behind a marker.  Uncaught exceptions and
unhandled promise rejections are the lines Chromium itself prints as ``"Uncaught …"``.  A ``<base href>``
keeps the copy's relative URLs pointing next to the original page.

The browser runs with DNS resolution disabled, so a page that still needs the internet fails to load
its assets and that shows up as an error.

Without Chromium the render tests skip on a workstation, but fail in CI (the ``CI`` environment variable
set), where a skip would silently drop every browser check.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
MARKER = "__ZONING_BROWSER_ERROR__"

_COLLECTOR = (
    """<meta charset="utf-8"><script>
(function () {
  var marker = "MARKER ";
  var log = console.log.bind(console);
  function report(kind, text) { log(marker + JSON.stringify({kind: kind, message: String(text)})); }
  var original = console.error;
  console.error = function () {
    report("console.error", Array.prototype.map.call(arguments, String).join(" "));
    return original.apply(console, arguments);
  };
  window.addEventListener("error", function (ev) {
    var t = ev.target;
    if (t && t !== window && t.nodeType === 1) {
      report("resource", "failed to load <" + t.tagName.toLowerCase() + "> " + (t.src || t.href || ""));
    }
  }, true);
})();
</script>"""
).replace("MARKER", MARKER)

_CONSOLE_LINE = re.compile(r':CONSOLE(?:\(\d+\)|:\d+)?\] "(?P<message>.*)", source: ', re.DOTALL)


@dataclass(frozen=True)
class BrowserResult:
    """``console_errors``: JS errors, console.error calls and failed loads; ``ok``: the screenshot was taken."""

    console_errors: list[str]
    ok: bool
    stderr: str = field(default="", repr=False)


def render(
    html_path, png_path, *, width: int = 1200, height: int = 900, timeout_s: float = 60
) -> BrowserResult:
    """Open ``html_path`` in headless Chromium, save a ``width`` × ``height`` screenshot to ``png_path``."""
    if not CHROMIUM.exists():
        missing = f"headless browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{missing}; CI is set, so the render tests fail instead of skipping.", pytrace=False)
        pytest.skip(missing)
    html_path = Path(html_path).resolve()
    png_path = Path(png_path).resolve()
    png_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="zoning-browser-") as tmp:
        copy = Path(tmp) / "page.html"
        copy.write_text(
            _inject(html_path.read_text(encoding="utf-8"), html_path.parent.as_uri() + "/"), "utf-8"
        )
        command = [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--window-size={width},{height}",
            f"--screenshot={png_path}",
            "--virtual-time-budget=5000",
            "--enable-logging=stderr",
            "--v=0",
            copy.as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    errors = console_errors(done.stderr)
    ok = done.returncode == 0 and png_path.exists() and png_path.stat().st_size > 0
    return BrowserResult(console_errors=errors, ok=ok, stderr=done.stderr)


def _inject(page: str, base_href: str) -> str:
    """The page with the error collector (and a base href) as the first thing in <head>."""
    snippet = f'{_COLLECTOR}<base href="{base_href}">'
    head = re.search(r"<head\b[^>]*>", page, flags=re.IGNORECASE)
    if head:
        return page[: head.end()] + snippet + page[head.end() :]
    doctype = re.match(r"\s*<!doctype[^>]*>", page, flags=re.IGNORECASE)
    at = doctype.end() if doctype else 0
    return page[:at] + snippet + page[at:]


def console_errors(stderr: str) -> list[str]:
    """Errors in Chromium's stderr log: uncaught exceptions and what the collector reported."""
    errors = []
    for chunk in re.split(r"\n(?=\[\d+:\d+:)", stderr):
        found = _CONSOLE_LINE.search(chunk)
        if not found:
            continue
        message = found["message"]
        if message.startswith(MARKER):
            try:
                entry = json.loads(message[len(MARKER) :].strip())
                errors.append(f"{entry['kind']}: {entry['message']}")
            except (ValueError, KeyError):
                errors.append(message)
        elif message.startswith("Uncaught"):
            errors.append(message)
    return errors


# ---------------------------------------------------------------------------------------------------------
# PNG decoding (Pillow is not a dependency): 8-bit grey / RGB / RGBA, non-interlaced, as Chromium writes
# ---------------------------------------------------------------------------------------------------------

_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def read_png(path) -> np.ndarray:
    """The image as a (height, width, channels) uint8 array."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError(f"{path} has no IHDR chunk")
    width, height, depth, colour_type, _, _, interlace = header
    if depth != 8 or colour_type not in _CHANNELS or interlace:
        raise ValueError(f"{path}: only 8-bit non-interlaced grey/RGB/RGBA PNGs are supported")
    bpp = _CHANNELS[colour_type]
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prior = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:]
        if kind == 0:
            row = line.copy()
        elif kind == 1:  # Sub: running sum along the row, per channel
            row = (
                (np.cumsum(line.reshape(width, bpp).astype(np.uint32), axis=0) & 0xFF)
                .astype(np.uint8)
                .ravel()
            )
        elif kind == 2:  # Up
            row = ((line.astype(np.uint16) + prior) & 0xFF).astype(np.uint8)
        elif kind in (3, 4):
            row = _sequential_filter(kind, line, prior, bpp)
        else:
            raise ValueError(f"{path}: unknown PNG filter {kind} in row {y}")
        out[y] = row
        prior = row
    return out.reshape(height, width, bpp)


def _sequential_filter(kind: int, line: np.ndarray, prior: np.ndarray, bpp: int) -> np.ndarray:
    """Average (3) and Paeth (4) filters, which depend on the byte just decoded."""
    filt, up = line.tolist(), prior.tolist()
    row = [0] * len(filt)
    for i, value in enumerate(filt):
        a = row[i - bpp] if i >= bpp else 0
        b = up[i]
        if kind == 3:
            row[i] = (value + ((a + b) >> 1)) & 0xFF
            continue
        c = up[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        row[i] = (value + predictor) & 0xFF
    return np.array(row, dtype=np.uint8)
