"""The README stays short, and every relative link in the README and docs/ resolves.

A link is `[text](target)` or `![alt](target)` outside code (fenced blocks, inline code spans
and HTML comments are not rendered as links). A target without a scheme must name an existing
file or folder, relative to the page; a `#fragment` must be a heading of the target page, as
GitHub turns headings into anchors.
"""

import re

import pytest

from tests.conftest import REPO

README_MAX_LINES = 250

_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def _pages():
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _prose(text):
    """The page without what Markdown does not render as links."""
    for pattern in (_FENCE, _COMMENT, _CODE_SPAN):
        text = pattern.sub("", text)
    return text


def _anchor(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path):
    return {_anchor(h) for h in _HEADING.findall(_FENCE.sub("", path.read_text(encoding="utf-8")))}


def test_anchor_follows_githubs_rule():
    assert _anchor("The output-only path chooses its implementation where it runs") == \
        "the-output-only-path-chooses-its-implementation-where-it-runs"
    assert _anchor("BilinearUpsample2D against `UpSampling2D`") == \
        "bilinearupsample2d-against-upsampling2d"
    assert _anchor("Images as stored, and converted") == "images-as-stored-and-converted"


def test_prose_drops_code_and_comments_but_keeps_links():
    text = "a [x](y.md) `[no](z.md)`\n```\n[no](w.md)\n```\n<!-- [no](v.md) -->"
    assert _LINK.findall(_prose(text)) == ["y.md"]


def test_readme_is_at_most_250_lines():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(page):
    links = _LINK.findall(_prose(page.read_text(encoding="utf-8")))
    broken = []
    for target in links:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, fragment = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif fragment and resolved.suffix == ".md" and fragment not in _anchors(resolved):
            broken.append(f"{target}: no heading with anchor #{fragment}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_every_docs_page_is_reachable_from_the_readme():
    """A page nobody links to is a page nobody reads."""
    linked = set()
    for page in _pages():
        for target in _LINK.findall(_prose(page.read_text(encoding="utf-8"))):
            path_part = target.partition("#")[0]
            if path_part:
                linked.add((page.parent / path_part).resolve())
    orphans = [p.name for p in _pages()[1:] if p.resolve() not in linked]
    assert not orphans, f"docs pages no page links to: {orphans}"


PRODUCT = ["deconv_io", "deconv_runtime", "legacy_tf1", "tf2", "migration_audit", "benchmarks",
           "examples"]


def test_code_cites_only_documents_in_the_repository():
    """A comment or docstring naming `X.md` names a file of this repository (from its root)."""
    cited = []
    for package in PRODUCT:
        for source in sorted((REPO / package).rglob("*.py")):
            text = source.read_text(encoding="utf-8")
            for name in re.findall(r"(?<![\w./-])([\w./-]+\.md)\b", text):
                if not (REPO / name).exists() and not (source.parent / name).exists():
                    cited.append(f"{source.relative_to(REPO)}: {name}")
    assert not cited, "cited but not in the repository: " + "; ".join(cited)
