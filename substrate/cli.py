"""``substrate``: the command line. Parses arguments and calls the library.

Every :class:`simulation.errors.SubstrateError` (a mistake in a scenario, an
output folder that cannot be used, a statistic the data cannot give, a lost
cluster) is reported in one place, :class:`Substrate`, as one line
``error: ...`` on stderr with exit status 2. SIGINT and SIGTERM while ``run``,
``sweep``, ``validate``, ``risk``, ``study`` or ``findings`` write end with one line saying
what was kept and how to go on, and exit status 130 or 143; before a command
writes (or in one that writes only at its end), ``interrupted: nothing was
written``. What Dask's worker processes and multiprocessing print is kept
off stderr (:mod:`simulation.cluster_log`).
"""

from __future__ import annotations

import os
import signal
import sys

import click

# Nothing heavier than click is imported before main() has installed the
# handling of SIGTERM (numba, pandas and the engine take a second or more):
# a signal while they load is one line too.


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def note(text: str) -> None:
    click.echo(f"note: {text}", err=True)


#: Library argument -> the option that sets it (named after an error's message).
OPTIONS = {"resume": "--resume", "block_size": "--block-size", "scheduler": "--scheduler",
           "worker_timeout": "--worker-timeout", "max_memory": "--max-memory"}


class Terminated(BaseException):
    """SIGTERM outside a command's own interrupt handling (while starting,
    or in a command that writes nothing until its end): ends the command
    as SIGINT does."""


def _terminated(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


#: The line of a signal that came before a command wrote anything (the
#: commands that write say what they kept: substrate.commands.interruptible).
NOTHING_WRITTEN = "interrupted: nothing was written"


#: The start of the line of an exception no check foresaw.
BUG = "unexpected failure, a bug in substrate"


class Substrate(click.Group):
    """The command group: maps the library's errors and interrupts to one
    line on stderr and an exit status."""

    def invoke(self, ctx):
        try:
            from simulation.errors import SubstrateError
            from substrate.commands import Interrupted, interrupted_line

            return super().invoke(ctx)
        except (KeyboardInterrupt, Terminated) as exc:  # before the command wrote
            click.echo(NOTHING_WRITTEN, err=True)
            ctx.exit(128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT))
        except click.UsageError as exc:  # a bad option or argument: one line too
            where = f"substrate {exc.ctx.info_name}: " if exc.ctx is not None and \
                exc.ctx.info_name != ctx.info_name else ""
            click.echo(f"error: {where}{exc.format_message()} (see --help)", err=True)
            ctx.exit(2)
        except SubstrateError as exc:
            option = OPTIONS.get(exc.argument)
            click.echo(f"error: {exc}" + (f" (option {option})" if option else ""), err=True)
            ctx.exit(2)
        except Interrupted as exc:
            click.echo(interrupted_line(str(exc)), err=True)
            ctx.exit(128 + int(exc.signum))
        except MemoryError:  # past every budget check: the machine ran out first
            click.echo("error: out of memory (the machine or this process's address-space "
                       "limit ran out before the memory budget); lower the memory budget "
                       "(option --max-memory) or the scenario's size", err=True)
            ctx.exit(2)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # a bug: one line still (the traceback on demand)
            if os.environ.get("SUBSTRATE_DEBUG"):
                raise
            click.echo(f"error: {BUG} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
                       "; please report it with the command line (SUBSTRATE_DEBUG=1 shows "
                       "the traceback)", err=True)
            ctx.exit(2)


def _command_line() -> list[str]:
    return ["substrate"] + sys.argv[1:]


def _version(ctx, param, value):
    if value and not ctx.resilient_parsing:
        from simulation import __version__

        click.echo(f"substrate, version {__version__}")
        ctx.exit()


@click.group(cls=Substrate, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_version, help="Show the version and exit.")
def cli():
    """Measure when natural selection takes hold inside and between AI systems."""


@cli.command()
@click.argument("scenario")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="Master seed (overrides the file's).")
@click.option("--replicates", type=click.IntRange(1), help="Number of replicates.")
@click.option("--replicate", type=click.IntRange(0), help="Run only replicate K (0-based), exactly as in the full run.")
@click.option("--point", type=click.IntRange(0), help="Run sweep point P of the scenario's sweep (with its seeds).")
@click.option("--horizon", type=click.IntRange(1), help="Ticks per replicate.")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override a scenario key, e.g. --set copy.error_rate=1e-3 (repeatable).")
@click.option("--out", type=click.Path(), help="Output folder [default: results/NAME].")
@click.option("--figure/--no-figure", default=False, show_default=True,
              help="Also write overview.png: takeover survival and mean traits "
                   "(costs ~0.7 s of matplotlib start-up).")
@click.option("--max-memory", metavar="SIZE",
              help="Refuse to start if the estimated peak memory exceeds SIZE "
                   "(e.g. 4G) [default: half of this machine's memory].")
@click.option("--threads", type=click.IntRange(1, 1024), default=None,
              help="Threads running replicates at once (results do not depend on it) "
                   "[default: this machine's cores].")
def run(scenario, seed, replicates, replicate, point, horizon, overrides, out, figure,
        max_memory, threads):
    """Run SCENARIO (a YAML file or a bundled scenario's name) and summarise it."""
    from substrate.commands import run_command

    click.echo(run_command(scenario, seed=seed, replicates=replicates,
                           replicate=replicate, point=point, horizon=horizon,
                           overrides=list(overrides), out=out, figure=figure,
                           max_memory=max_memory, threads=threads,
                           command=_command_line(), notify=note))


@cli.command()
@click.argument("scenario")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Worker processes of the local Dask cluster [default: 1].")
@click.option("--scheduler", metavar="ADDRESS",
              help="Use the Dask scheduler at ADDRESS (e.g. tcp://10.0.0.5:8786) instead.")
@click.option("--out", type=click.Path(), help="Output folder [default: results/NAME].")
@click.option("--resume", is_flag=True, help="Finish an interrupted sweep in --out.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="Master seed.")
@click.option("--replicates", type=click.IntRange(1), help="Replicates per point.")
@click.option("--horizon", type=click.IntRange(1), help="Ticks per replicate.")
@click.option("--block-size", type=click.IntRange(1), default=10, show_default=True,
              help="Replicates per unit of work (one Parquet part each).")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override a scenario key (repeatable).")
@click.option("--worker-timeout", type=click.FloatRange(0, min_open=True), default=60,
              show_default=True, metavar="SECONDS",
              help="End the sweep (finished units kept) after this long without any "
                   "live worker.")
@click.option("--max-memory", metavar="SIZE",
              help="Refuse to start if the estimated peak memory exceeds SIZE "
                   "(e.g. 4G) [default: half of this machine's memory].")
@click.option("--consolidate/--no-consolidate", default=None,
              help="Also write the timeseries as one file, timeseries.parquet "
                   "[default: when the sweep has at most 2,000,000 timeseries rows; "
                   "the parts in FOLDER/parts are kept and read either way].")
def sweep(scenario, workers, scheduler, out, resume, seed, replicates, horizon,
          block_size, overrides, worker_timeout, max_memory, consolidate):
    """Run the sweep of SCENARIO on Dask and summarise each point."""
    from substrate.commands import sweep_command

    if workers and scheduler:
        fail("--workers and --scheduler exclude each other: the scheduler's "
             "cluster has its own workers")
    click.echo(sweep_command(scenario, workers=workers, scheduler=scheduler, out=out,
                             resume=resume, seed=seed, replicates=replicates,
                             horizon=horizon, block_size=block_size,
                             overrides=list(overrides), worker_timeout=worker_timeout,
                             max_memory=max_memory, consolidate=consolidate,
                             command=_command_line(), notify=note))


@cli.command()
@click.argument("folder", type=click.Path())
@click.option("--by", multiple=True, metavar="PARAM",
              help="Group by this column (repeatable) [default: the swept parameters].")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]),
              default="table", show_default=True)
@click.option("--at", metavar="T1,T2,...",
              help="P(event by T) with its interval at these ticks instead.")
@click.option("--compare", metavar="KEY=A,B",
              help="P(event by T) at KEY=B minus at KEY=A, replicates paired by seed, "
                   "instead.")
def summarize(folder, by, fmt, at, compare):
    """Survival statistics per sweep point (or group) of an output FOLDER."""
    from substrate.commands import summarize_command

    click.echo(summarize_command(folder, list(by) or None, fmt, at=at, compare=compare))


@cli.command()
@click.argument("folder", type=click.Path())
@click.option("--kind", required=True,
              type=click.Choice(["survival", "phase", "muller", "traits", "price", "agents",
                                 "scaling"]),
              help="scaling: the defence needed of a 'substrate study' folder.")
@click.option("--out", type=click.Path(), help="Figure file [default: FOLDER/KIND.FORMAT].")
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default="png",
              show_default=True)
@click.option("--by", multiple=True, metavar="PARAM",
              help="Group curves by this column (phase: the x then y parameter).")
@click.option("--replicate", type=click.IntRange(0), default=0, show_default=True,
              help="muller: the replicate.")
@click.option("--agent", type=click.IntRange(0), default=0, show_default=True,
              help="muller: the agent.")
@click.option("--color", type=click.Choice(["drive", "lineage"]), default="drive",
              show_default=True, help="muller: colour clones by drive or by lineage.")
def plot(folder, kind, out, fmt, by, replicate, agent, color):
    """Draw a figure of an output FOLDER of 'run', 'sweep' or 'study'."""
    from substrate.commands import plot_command

    click.echo(plot_command(folder, kind, out=out, fmt=fmt, by=list(by),
                            replicate=replicate, agent=agent, color=color))


@cli.command()
@click.argument("folder", type=click.Path())
@click.option("--out", type=click.Path(), help="HTML file [default: FOLDER/report.html].")
def report(folder, out):
    """Write one self-contained HTML report of an output FOLDER."""
    from analysis.report import write_report

    click.echo(str(write_report(folder, out)))


@cli.command()
@click.option("--tier", type=click.Choice(["quick", "full"]), default="quick", show_default=True,
              help="quick: a few seconds; full: every check, ~4 minutes on 2 cores.")
@click.option("--out", type=click.Path(), help="Output folder [default: results/validation-TIER].")
def validate(tier, out):
    """Check the engine against population-genetics theory; exit 1 if a check fails."""
    from substrate.commands import validate_command

    text, ok = validate_command(tier, out, command=_command_line(), notify=note)
    click.echo(text)
    sys.exit(0 if ok else 1)


@cli.command()
@click.argument("scenario")
@click.option("--event", default="takeover", show_default=True, metavar="EVENT",
              help="takeover, fixation, convergence; types scenarios: type_fixation, "
              "type_loss, type_reached; with stop.size: size_reached.")
@click.option("--method", default="splitting", show_default=True, metavar="METHOD",
              help="splitting (adaptive multilevel splitting), direct (plain Monte Carlo) "
              "or importance (Monte Carlo at tilted copy-error rates, weighted).")
@click.option("--score", metavar="NAME", default=None,
              help="The splitting score: for takeover hazard (default), lineage, drive or "
              "fraction; for fixation share; for convergence mean_drive (the type and size "
              "events have one score each).")
@click.option("--tilt", type=float, metavar="FACTOR", default=None,
              help="Importance sampling: draw copy errors at FACTOR times their "
              "probability, each path weighted by its likelihood ratio (with --method "
              "importance, or splitting); 1: none. Default: splitting on takeover tilts "
              "the front's errors where copy errors are rarer than 3e-3 per birth.")
@click.option("--tilt-from", type=float, metavar="D", default=None,
              help="With --tilt: tilt only the births of the clones at the front (the "
              "largest sub-threshold drive) whose drive exceeds the reference by more "
              "than D [default: every birth].")
@click.option("--particles", type=int, default=100, show_default=True,
              help="Particles per repetition (direct: paths per repetition).")
@click.option("--repeats", type=int, default=20, show_default=True,
              help="Independent repetitions of the estimator (the interval comes from them).")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Run repetitions on a local Dask cluster of N processes [default: this process].")
@click.option("--scheduler", metavar="ADDRESS", help="Use the Dask scheduler at ADDRESS instead.")
@click.option("--out", type=click.Path(), help="Output folder [default: results/NAME-risk].")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override a scenario key (repeatable).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="Master seed.")
@click.option("--horizon", type=click.IntRange(1), help="T: the event is counted by tick T.")
@click.option("--solve", metavar="KEY", help="Find the value of KEY (e.g. immune.efficacy) "
              "at which P(event by T) meets --target.")
@click.option("--target", type=float, help="Target probability for --solve.")
@click.option("--steps", type=click.IntRange(1), default=8, show_default=True,
              help="Bisection steps of --solve.")
@click.option("--rel-error", type=float, metavar="E",
              help="Relative error target: --repeats repetitions are a pilot that sets how "
              "many independent repetitions give the estimate.")
@click.option("--resume", is_flag=True,
              help="Finish an interrupted estimate in --out (its repetitions are kept).")
def risk(scenario, event, method, score, tilt, tilt_from, particles, repeats, workers,
         scheduler, out, overrides, seed, horizon, solve, target, steps, rel_error, resume):
    """Estimate P(EVENT by T) for SCENARIO down to rare values (writes risk.json)."""
    from substrate.risk_command import risk_command

    if workers and scheduler:
        fail("--workers and --scheduler exclude each other")
    click.echo(risk_command(scenario, event=event, method=method, score=score, tilt=tilt,
                            tilt_from=tilt_from, particles=particles,
                            repeats=repeats, workers=workers, scheduler=scheduler,
                            out=out, overrides=list(overrides), seed=seed,
                            horizon=horizon, solve=solve, target=target, steps=steps,
                            rel_error=rel_error, resume=resume,
                            command=["substrate"] + sys.argv[1:], notify=note))


@cli.command()
@click.argument("scenario")
@click.option("--out", type=click.Path(), help="Output folder [default: results/NAME-study].")
@click.option("--resume", is_flag=True,
              help="Keep the sizes an interrupted study in --out already simulated.")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override a scenario key, e.g. --set study.simulate.paths=1000 (repeatable).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="Master seed.")
def study(scenario, out, resume, overrides, seed):
    """Run the scaling study of SCENARIO's study block: the defence needed
    against system size and horizon, theory and simulation (writes study.json)."""
    from substrate.study_command import study_command

    click.echo(study_command(scenario, out=out, resume=resume, overrides=list(overrides),
                             seed=seed, command=_command_line(), notify=note))


@cli.command()
@click.option("--tier", type=click.Choice(["quick", "full"]), default="quick", show_default=True,
              help="quick: every answer at lower precision (minutes on 2 cores); full: the "
                   "documentation's sizes (for a cluster).")
@click.option("--out", type=click.Path(), help="Output folder [default: results/findings-TIER].")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Worker processes of the local Dask cluster [default: this machine's cores].")
@click.option("--scheduler", metavar="ADDRESS",
              help="Use the Dask scheduler at ADDRESS (e.g. tcp://10.0.0.5:8786) instead.")
@click.option("--resume", is_flag=True, help="Finish an interrupted report in --out "
              "(finished jobs are kept, unfinished ones resumed).")
@click.option("--only", metavar="Q1,Q2,...", help="Only these questions (q1, 3, q7_drift_vs_cancer ...).")
def findings(tier, out, workers, scheduler, resume, only):
    """Answer the seven questions from the bundled studies (scenarios/findings/)
    and write the findings report (HTML and Markdown)."""
    from substrate.findings_command import findings_command

    if workers and scheduler:
        fail("--workers and --scheduler exclude each other: the scheduler's "
             "cluster has its own workers")
    chosen = [name.strip() for name in only.split(",") if name.strip()] if only else None
    click.echo(findings_command(tier, out=out, workers=workers, scheduler=scheduler,
                                resume=resume, only=chosen, command=_command_line(),
                                notify=note))


@cli.command()
@click.argument("scenario", required=False)
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True,
              help="Port of the page.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback: only this machine).")
@click.option("--out", type=click.Path(), help="Folder of the exports [default: results/explore].")
def explore(scenario, port, host, out):
    """Explore SCENARIO (file or bundled name) in the browser; needs the 'explore' extra."""
    from simulation.errors import SubstrateError
    from substrate.explore import serve

    try:
        serve(scenario, host=host, port=port, out=out, echo=click.echo)
    except SubstrateError as exc:
        fail(str(exc))


@cli.command()
def scenarios():
    """List the bundled scenarios and the question each asks."""
    import scenarios as bundled

    names = bundled.names()
    width = max(len(n) for n in names)
    for name in names:
        click.echo(f"{name:<{width}}  {bundled.question(name)}")


def main():
    signal.signal(signal.SIGTERM, _terminated)
    try:
        cli(standalone_mode=True)
    except (KeyboardInterrupt, Terminated) as exc:
        click.echo(NOTHING_WRITTEN, err=True)
        sys.exit(128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT))


if __name__ == "__main__":
    main()
