"""The documentation and release files stay in step with the code."""

import yaml

import simulation


def test_citation_names_this_version(root):
    """CITATION.cff (CFF 1.2.0) carries the package's version and licence."""
    cff = yaml.safe_load((root / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "abstract", "date-released"):
        assert cff[key], key
    assert str(cff["version"]) == simulation.__version__
    assert cff["license"] == "MIT"
    assert "MIT License" in (root / "LICENSE").read_text()
