"""The shipped maintenance files: self-contained, accessible, small, and fit for the CSP."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from scripts import template as stack

CONTENT = Path(__file__).resolve().parent.parent / "content"
HTML = (CONTENT / "maintenance.html").read_text(encoding="utf-8")


class Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def elements():
    parser = Elements()
    parser.feed(HTML)
    return parser.tags


def test_html_is_small():
    assert len(HTML.encode()) < 16 * 1024


def test_html_is_self_contained_and_fits_the_content_security_policy():
    csp = stack.CONTENT_SECURITY_POLICY
    assert "script-src" not in csp and "default-src 'none'" in csp
    tags = [tag for tag, _ in elements()]
    for banned in ("script", "link", "iframe", "object", "embed", "img", "form", "base"):
        assert banned not in tags, f"<{banned}> is not allowed by the CSP or needs a fetch"
    for _, attrs in elements():
        assert not any(name.startswith("on") for name in attrs), "inline handlers are scripts"
        assert "style" not in attrs or "'unsafe-inline'" in csp
    assert "@import" not in HTML and "url(" not in HTML and "@font-face" not in HTML
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", HTML)


def test_html_is_accessible_and_responsive():
    tags = elements()
    [(_, html_attrs)] = [t for t in tags if t[0] == "html"]
    assert html_attrs.get("lang")
    assert any(tag == "main" for tag, _ in tags), "a main landmark"
    assert sum(tag == "h1" for tag, _ in tags) == 1
    assert re.search(r"<title>[^<]+</title>", HTML)
    assert any(tag == "meta" and a.get("name") == "viewport" for tag, a in tags)
    assert any(tag == "meta" and a.get("charset", "").lower() == "utf-8" for tag, a in tags)
    assert "prefers-color-scheme: dark" in HTML


def test_the_place_to_edit_the_message_is_obvious():
    assert "EDIT THE MESSAGE BELOW" in HTML and "END OF THE MESSAGE" in HTML


def luminance(hex_colour):
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a, b):
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_meets_wcag_aa(scheme):
    light, dark = re.findall(r":root\s*{([^}]*)}", HTML)[:2]
    block = light if scheme == "light" else dark
    colours = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-fA-F]{6})", block))
    for fg in ("text", "muted", "accent"):
        assert contrast(colours[fg], colours["card"]) >= 4.5, (scheme, fg)
        assert contrast(colours[fg], colours["bg"]) >= 4.5, (scheme, fg)


def test_problem_document_is_rfc9457():
    problem = json.loads((CONTENT / "maintenance.json").read_text(encoding="utf-8"))
    assert problem["status"] == 503
    assert problem["title"] == "Service Unavailable"
    assert problem["type"] == "about:blank"  # RFC 9457 section 4.2.1: title is the status phrase
    assert isinstance(problem["detail"], str) and problem["detail"]
