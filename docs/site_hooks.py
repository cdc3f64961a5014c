"""MkDocs hooks (mkdocs.yml ``hooks:``): the repository files the pages cite.

The pages of docs/ link to files outside it as a reader of the repository
sees them (``../CHANGELOG.md``, ``../scenarios/README.md``, ``../LICENSE``),
and CHANGELOG.md links into docs/ (``docs/performance.md``). The site holds
those files as pages of their own (``changelog.md``, ``bundled-scenarios.md``,
``license.md``, ``citation.md``) and every relative link is rewritten from
the repository's layout to the site's; a link to anything else is left as
written, so ``mkdocs build --strict`` still reports it when it is broken.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent

# repository path -> (site page, title, how its text becomes markdown)
INCLUDED = {
    "CHANGELOG.md": ("changelog.md", None, None),
    "scenarios/README.md": ("bundled-scenarios.md", None, None),
    "CITATION.cff": ("citation.md", "How to cite", "yaml"),
    "LICENSE": ("license.md", "Licence", "text"),
}
LINK = re.compile(r"(\]\()([^)\s#]+)(#[^)\s]*)?(\))")


def _page_text(repo_path: str, title, fence) -> str:
    text = (ROOT / repo_path).read_text()
    if fence is None:
        return text
    return f"# {title}\n\n`{repo_path}` of the repository:\n\n```{fence}\n{text}```\n"


def on_files(files, config):
    for repo_path, (site_path, title, fence) in INCLUDED.items():
        files.append(File.generated(config, site_path, content=_page_text(repo_path, title, fence)))
    return files


def _repo_path(src_uri: str) -> str:
    """Where a site page's source lives in the repository."""
    for repo_path, (site_path, _, _) in INCLUDED.items():
        if site_path == src_uri:
            return repo_path
    return f"docs/{src_uri}"


def _site_path(repo_path: str) -> str | None:
    if repo_path in INCLUDED:
        return INCLUDED[repo_path][0]
    if repo_path.startswith("docs/"):
        return repo_path[len("docs/"):]
    return None


def on_page_markdown(markdown, page, config, files):
    here = posixpath.dirname(_repo_path(page.file.src_uri))
    site_dir = posixpath.dirname(page.file.src_uri)

    def rewrite(m):
        target = m.group(2)
        if re.match(r"[a-z]+:", target) or target.startswith("/"):
            return m.group(0)
        site = _site_path(posixpath.normpath(posixpath.join(here, target)))
        if site is None:
            return m.group(0)  # left for --strict to judge
        new = posixpath.relpath(site, site_dir or ".")
        return f"{m.group(1)}{new}{m.group(3) or ''}{m.group(4)}"

    return LINK.sub(rewrite, markdown)
