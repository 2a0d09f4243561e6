"""The page offline: Leaflet's JavaScript and CSS read from the installed ``django-js-lib-leaflet`` package
and inlined, folium's CDN assets dropped, the page's own CSS, and the check that nothing is left to load
from the internet.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

import folium
from branca.element import Element
from folium.template import Template

from ...errors import ZoningError
from .style import _PANE_PREFIX, BACKGROUND, OVER_CAPACITY_COLOUR

_LEAFLET_PACKAGE = "js_lib_leaflet"
_LEAFLET_DIR = "static/js_lib_leaflet"

_CSS = f"""
.leaflet-container {{
  background: {BACKGROUND};
  font-family: system-ui, -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei",
    "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", Roboto, Arial, sans-serif;
}}
.zoning-box {{
  background: rgba(255, 255, 255, 0.94); color: #222; padding: 6px 10px; border-radius: 4px;
  box-shadow: 0 1px 5px rgba(0, 0, 0, 0.4); font-size: 13px; line-height: 1.4;
}}
.zoning-title {{ max-width: 60vw; }}
.zoning-title h1 {{ font-size: 17px; margin: 0 0 2px 0; line-height: 1.25; }}
.zoning-legend {{ max-height: 45vh; overflow-y: auto; }}
.zoning-legend summary {{ cursor: pointer; }}
.zoning-legend h2 {{ display: inline; font-size: 13px; margin: 0; }}
.zoning-legend details[open] summary {{ margin-bottom: 4px; }}
.zoning-legend table {{ border-collapse: collapse; }}
.zoning-legend td {{ padding: 1px 4px; white-space: nowrap; vertical-align: middle; }}
.zoning-legend .zoning-key {{ margin-top: 6px; border-top: 1px solid #ccc; padding-top: 4px; }}
.zoning-legend .zoning-key svg {{ vertical-align: middle; }}
.zoning-legend td.zoning-district {{ white-space: normal; max-width: 15em; }}
.zoning-legend td.zoning-district span {{ white-space: nowrap; }}
.zoning-num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.zoning-swatch {{
  display: inline-block; width: 14px; height: 14px; border: 1px solid #333; vertical-align: middle;
}}
.zoning-over {{ color: {OVER_CAPACITY_COLOUR}; font-weight: 700; }}
.zoning-star {{ background: none; border: none; }}
.leaflet-control-layers {{ font-size: 13px; }}
@media (max-width: 600px) {{
  /* a phone: the layer switcher (always open: the folded one needs an image file) goes to the bottom right,
     clear of the title and search box */
  .leaflet-top.leaflet-right {{ top: auto; bottom: 40px; }}
  .zoning-title {{ max-width: calc(100vw - 70px); }}
}}
"""

#: City scale: the blocks' canvas takes the pointer (the other panes let it through to their shapes).
_CITY_CSS = f".leaflet-{_PANE_PREFIX}blocks-pane > canvas {{ pointer-events: auto; }}"


class _Raw(Element):
    """A piece of markup put into the page verbatim (never parsed as a template)."""

    _template = Template("{{ this.markup }}")

    def __init__(self, markup: str):
        super().__init__()
        self._name = "Raw"
        self.markup = markup


def _leaflet_asset(filename: str) -> str:
    """One of Leaflet's files, read from the installed package; ZoningError with the fix if it is missing."""
    try:
        return resources.files(_LEAFLET_PACKAGE).joinpath(f"{_LEAFLET_DIR}/{filename}").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as err:
        raise ZoningError(
            f"Leaflet's {filename} was not found in the package {_LEAFLET_PACKAGE}; the offline map needs it. "
            "Fix: pip install 'django-js-lib-leaflet>=1.9.4,<1.10'."
        ) from err


@functools.cache
def _leaflet_markup() -> tuple[str, str]:
    """Leaflet's CSS and JS as inline ``<style>`` and ``<script>`` elements, read and escaped once.

    Called when a page is built, not at import, so a missing package is a ZoningError on drawing a map
    (failures are not cached: the next call tries again).
    """
    js = re.sub(r"</(script)", r"<\\/\1", _leaflet_asset("leaflet.js"), flags=re.IGNORECASE)
    css = re.sub(r"</(style)", r"<\\/\1", _leaflet_asset("leaflet.css"), flags=re.IGNORECASE)
    return f"<style>\n{css}\n</style>", f"<script>\n{js}\n</script>"


def _make_offline(m: folium.Map) -> None:
    """Drop folium's CDN assets from ``m`` and inline Leaflet into its page header (idempotent)."""
    m.default_js = []
    m.default_css = []
    header = m.get_root().header
    if "leaflet_js" in header._children:
        return
    css, js = _leaflet_markup()
    # Same key as branca's http-equiv meta, so the charset stays the first thing in <head>.
    header.add_child(_Raw('<meta charset="utf-8" />'), name="meta_http")
    header.add_child(_Raw(css), name="leaflet_css")
    header.add_child(_Raw(js), name="leaflet_js")


def _external_assets(page: str) -> list[str]:
    """URLs of scripts and stylesheets that ``page`` loads from the network (``<script src>``, ``<link href>``)."""
    urls = []
    for tag in re.finditer(r"<(?:script|link)\b[^>]*>", page, flags=re.IGNORECASE):
        for url in re.findall(
            r"""\b(?:src|href)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""", tag.group(0), re.I
        ):
            urls.append(url)
    return urls
