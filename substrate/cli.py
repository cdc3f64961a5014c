"""``substrate``: the command line. Parses arguments and calls the library.

Every user mistake is reported as one line on stderr with exit status 2.
"""

from __future__ import annotations

import sys

import click

from simulation.scenario import ScenarioError


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="substrate")
def cli():
    """Measure when natural selection takes hold inside and between AI systems."""


@cli.command()
@click.argument("scenario")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="Master seed (overrides the file's).")
@click.option("--replicates", type=click.IntRange(1), help="Number of replicates.")
@click.option("--replicate", type=click.IntRange(0), help="Run only replicate K (0-based), exactly as in the full run.")
@click.option("--horizon", type=click.IntRange(1), help="Ticks per replicate.")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override a scenario key, e.g. --set copy.error_rate=1e-3 (repeatable).")
@click.option("--out", type=click.Path(), help="Output folder [default: results/NAME].")
@click.option("--figure/--no-figure", default=False, show_default=True,
              help="Also write overview.png: takeover survival and mean traits "
                   "(costs ~0.7 s of matplotlib start-up).")
def run(scenario, seed, replicates, replicate, horizon, overrides, out, figure):
    """Run SCENARIO (a YAML file or a bundled scenario's name) and summarise it."""
    from substrate.commands import run_command

    try:
        summary = run_command(scenario, seed=seed, replicates=replicates,
                              replicate=replicate, horizon=horizon,
                              overrides=list(overrides), out=out, figure=figure,
                              command=["substrate"] + sys.argv[1:])
    except ScenarioError as exc:
        fail(str(exc))
    click.echo(summary)


@cli.command()
@click.option("--tier", type=click.Choice(["quick", "full"]), default="quick", show_default=True,
              help="quick: a few seconds; full: every check, ~4 minutes on 2 cores.")
@click.option("--out", type=click.Path(), help="Output folder [default: results/validation-TIER].")
def validate(tier, out):
    """Check the engine against population-genetics theory; exit 1 if a check fails."""
    from substrate.commands import validate_command

    try:
        text, ok = validate_command(tier, out)
    except ScenarioError as exc:
        fail(str(exc))
    click.echo(text)
    sys.exit(0 if ok else 1)


@cli.command()
def scenarios():
    """List the bundled scenarios and the question each asks."""
    import scenarios as bundled

    names = bundled.names()
    width = max(len(n) for n in names)
    for name in names:
        click.echo(f"{name:<{width}}  {bundled.question(name)}")


def main():
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
