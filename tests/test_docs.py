"""The documentation and release files stay in step with the code."""

import importlib.util
import re

import yaml

import simulation


def test_citation_names_this_version(root):
    """CITATION.cff (CFF 1.2.0) and the README's citation carry the package's
    version; the licence is MIT."""
    cff = yaml.safe_load((root / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "abstract", "date-released"):
        assert cff[key], key
    assert str(cff["version"]) == simulation.__version__
    assert cff["license"] == "MIT"
    assert "MIT License" in (root / "LICENSE").read_text()
    assert f"Version {simulation.__version__}." in (root / "README.md").read_text()  # how to cite


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _unfenced(text):
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def _prose(text):
    """The text outside code fences and inline code."""
    return re.sub(r"`[^`\n]*`", "", _unfenced(text))


def _anchors(path):
    """GitHub's heading anchors of a markdown file."""
    seen, anchors = {}, set()
    for line in _unfenced(path.read_text()).splitlines():
        if m := re.match(r"#{1,6} (.*)", line):
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _pages(root):
    return [root / "README.md", root / "CHANGELOG.md", *sorted((root / "docs").rglob("*.md"))]


def test_relative_links_resolve(root):
    """Every relative link of README.md, CHANGELOG.md and docs/**/*.md points at
    an existing file (and, into a markdown file, at one of its headings)."""
    broken = []
    for page in _pages(root):
        for target in LINK.findall(_prose(page.read_text())):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            if not dest.exists():
                broken.append(f"{page.relative_to(root)}: {target}")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{page.relative_to(root)}: {target} (no such heading)")
    assert not broken, broken


def test_api_reference_is_up_to_date(root):
    """docs/api.md is what docs/make_api.py generates from the docstrings;
    refresh it with: python docs/make_api.py"""
    spec = importlib.util.spec_from_file_location("make_api", root / "docs" / "make_api.py")
    make_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_api)
    assert (root / "docs" / "api.md").read_text() == make_api.render(), \
        "docs/api.md is out of date: run python docs/make_api.py"


def test_tutorials_have_code_that_compiles(root):
    """Each tutorial page has ```python blocks (run by docs/run_tutorials.py,
    in CI) that at least compile, and the figure each saves is committed."""
    spec = importlib.util.spec_from_file_location("run_tutorials",
                                                  root / "docs" / "run_tutorials.py")
    run_tutorials = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_tutorials)
    pages = sorted((root / "docs" / "tutorials").glob("*.md"))
    assert len(pages) >= 3
    for page in pages:
        blocks = run_tutorials.blocks(page.read_text())
        assert blocks, page
        for line, source in blocks:
            compile(source, f"{page}:{line}", "exec")
            for figure in re.findall(r"""savefig\(["'](figures/[^"']+)""", source) + \
                    re.findall(r"""save\(fig, ["'](figures/[^"']+)""", source):
                assert (page.parent / figure).is_file(), f"{page.name}: {figure} not committed"
