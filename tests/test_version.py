"""The package's version: ``substrate --version`` and every output's provenance."""

import json
import subprocess
import sys

import pyarrow.parquet as pq
from click.testing import CliRunner

import simulation
from simulation.io import PROVENANCE_KEY
from substrate.cli import cli
from tests.scenario_texts import SMALL
from tests.test_risk import scenario_yaml


def test_version_option_prints_the_package_version():
    res = CliRunner().invoke(cli, ["--version"])
    assert res.exit_code == 0
    assert res.output == f"substrate, version {simulation.__version__}\n"
    out = subprocess.run([sys.executable, "-m", "substrate", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout == res.output


def test_manifests_and_tables_record_the_version(tmp_path):
    """A run's manifest.json and Parquet metadata, and risk.json, name the
    version of the code that wrote them (simulation.__version__)."""
    version = simulation.__version__
    small = tmp_path / "small.yaml"
    small.write_text(SMALL)
    res = CliRunner().invoke(cli, ["run", str(small), "--out", str(tmp_path / "run"),
                                   "--no-figure"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["versions"]["substrate"] == version
    metadata = pq.read_schema(tmp_path / "run" / "runs.parquet").metadata
    assert json.loads(metadata[PROVENANCE_KEY])["substrate"] == version

    mission = tmp_path / "mission.yaml"
    mission.write_text(scenario_yaml())
    res = CliRunner().invoke(cli, ["risk", str(mission), "--out", str(tmp_path / "risk"),
                                   "--particles", "5", "--repeats", "2", "--horizon", "20"])
    assert res.exit_code == 0, res.output
    risk = json.loads((tmp_path / "risk" / "risk.json").read_text())
    assert risk["versions"]["substrate"] == version
    assert risk["provenance"]["versions"]["substrate"] == version
