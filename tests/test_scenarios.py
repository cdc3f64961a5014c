"""Every bundled scenario validates, documents itself and runs a few ticks."""

import pytest

import scenarios
from simulation import load_scenario, run_scenario

NAMES = scenarios.names()


def test_index_lists_every_scenario(root):
    index = (root / "scenarios" / "README.md").read_text()
    for name in NAMES:
        assert f"`{name}`" in index, name


@pytest.mark.parametrize("name", NAMES)
def test_bundled_scenario_runs(name):
    path = scenarios.path(name)
    header = path.read_text().split("\n")
    assert header[0].startswith("# Question:") and header[0].rstrip().endswith("?")
    text = path.read_text()
    assert "# Claim tested:" in text and "# Expected outcome" in text
    sc = load_scenario(path, replicates=2, horizon=5)
    assert sc.name == name
    result = run_scenario(sc, show_progress=False)
    assert len(result.runs) == 2 and result.runs.ticks.max() <= 5
    assert result.timeseries["size"].iloc[0] == sc.agent.initial_size * sc.world.agents


def test_docs_document_every_key(root):
    """The key table of docs/scenarios.md is the one generated from the
    schema; refresh it with: python -c "from simulation.scenario import
    key_table_markdown as k; print(k())" and paste."""
    from simulation.scenario import key_table_markdown

    assert key_table_markdown() in (root / "docs" / "scenarios.md").read_text()
