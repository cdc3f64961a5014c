"""``substrate explore``: a scenario in the browser, on Mesa's SolaraViz.

This module needs no solara: it holds what the page shows and does, as
plain functions that the tests call directly:

- :data:`CONTROLS`, the scenario keys the page offers as sliders and
  selectors, :func:`settings_of` (their values in a scenario) and
  :func:`explorer_scenario` (a scenario rebuilt from changed values and
  validated: an invalid combination raises the one-line
  :class:`~simulation.errors.ScenarioError` that ``substrate run`` prints);
- :class:`ExplorerModel`, a :class:`simulation.model.SubstrateModel` that
  keeps a short history of clone counts for its Muller plot;
- the figures (:func:`figures`), drawn from the model's ``DataCollector``
  and ``AgentSet``, and the exports (:func:`export_scenario`,
  :func:`save_figures`);
- :func:`serve`, which starts the page's server (solara on uvicorn) on a
  loopback port. The page itself is :mod:`substrate.explore_page`.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import socket
import warnings
from pathlib import Path

import numpy as np

from simulation.errors import ScenarioError, SubstrateError
from simulation.model import SubstrateModel
from simulation.names import TRAITS
from simulation.scenario import point_scenario, to_yaml

#: Environment variables through which :func:`serve` tells the page what to show.
SCENARIO_ENV = "SUBSTRATE_EXPLORE_SCENARIO"
OUT_ENV = "SUBSTRATE_EXPLORE_OUT"
#: The scenario shown when none is named.
DEFAULT_SCENARIO = "singleton_baseline"
#: Records of clone counts the page keeps for its Muller plot.
HISTORY_RECORDS = 200


class ExploreError(SubstrateError):
    """The explorer cannot start (a port in use, the extra not installed)."""


@dataclasses.dataclass(frozen=True)
class Control:
    """One scenario key offered on the page.

    ``kind`` is ``log`` (a slider over log10 of the value), ``float``,
    ``int``, ``select`` (one of ``choices``) or ``bool``.
    """

    key: str
    label: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    step: float = 0.01
    choices: tuple = ()


#: The key path of the kernel's size for each kernel type (uniform has none).
KERNEL_SIZE_KEY = {"normal": "sd", "cauchy": "scale", "step": "size", "uniform": None}

CONTROLS = (
    Control("copy.error_rate", "copy error rate (log10)", "log", -7.0, -1.0, 0.1),
    Control("copy.redundancy", "redundancy r (copies voted)", "select",
            choices=(1, 3, 5, 7, 9)),
    Control("copy.error_correlation", "error correlation rho", "float", 0.0, 1.0, 0.01),
    Control("copy.kernel.type", "kernel type", "select",
            choices=("normal", "cauchy", "step", "uniform")),
    Control("kernel_size", "kernel size (sd, scale or step)", "float", 0.0, 0.5, 0.005),
    Control("immune.surveillance", "immune surveillance q", "float", 0.0, 1.0, 0.01),
    Control("immune.tolerance", "immune tolerance", "float", 0.0, 1.0, 0.01),
    Control("immune.efficacy", "immune efficacy", "float", 0.0, 1.0, 0.01),
    Control("immune.improvement", "immune improvement per tick", "float", 0.0, 0.01, 0.0001),
    Control("repair.rate", "repair rate", "float", 0.0, 1.0, 0.01),
    Control("world.agents", "number of agents", "int", 1, 50, 1),
    Control("world.transmission", "transmission", "float", 0.0, 0.1, 0.001),
    Control("world.takeover_kills", "takeover kills the agent", "bool"),
    Control("world.oversight", "oversight", "float", 0.0, 1.0, 0.01),
    Control("seed", "seed", "int", 0, 2**63 - 1, 1),
)


def _get(scenario, key: str):
    node = scenario
    for part in key.split("."):
        node = getattr(node, part)
    return node


def settings_of(scenario) -> dict:
    """The values of :data:`CONTROLS` in a scenario, by control key."""
    settings = {c.key: _get(scenario, c.key) for c in CONTROLS if c.key != "kernel_size"}
    size_key = KERNEL_SIZE_KEY[scenario.copy.kernel.type]
    settings["kernel_size"] = (getattr(scenario.copy.kernel, size_key)
                               if size_key else None)
    return settings


def explorer_scenario(base, settings: dict, source: str = "explorer"):
    """The scenario ``base`` with the page's ``settings``, validated.

    Parameters
    ----------
    base : Scenario
        The scenario the page started from (its other keys are kept).
    settings : dict
        Control key -> value (:func:`settings_of`); ``kernel_size`` sets the
        key the kernel type uses (``sd``, ``scale`` or ``size``).
    source : str
        Names the scenario in error messages.

    Returns
    -------
    Scenario
        With ``record_clones`` on (the Muller plot needs the lineage).

    Raises
    ------
    ScenarioError
        One line saying which value is wrong and what is allowed.
    """
    overrides = {k: v for k, v in settings.items() if k != "kernel_size"}
    size_key = KERNEL_SIZE_KEY.get(settings.get("copy.kernel.type",
                                                base.copy.kernel.type))
    if size_key and settings.get("kernel_size") is not None:
        overrides[f"copy.kernel.{size_key}"] = settings["kernel_size"]
    overrides["record_clones"] = True
    data = base.model_dump(mode="json")
    return point_scenario(data, overrides, source, "explorer")


class ExplorerModel(SubstrateModel):
    """A :class:`~simulation.model.SubstrateModel` that remembers the last
    :data:`HISTORY_RECORDS` records of clone counts (for the Muller plot)
    and the tick of each record.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario with its seed resolved and ``record_clones`` on.
    """

    def __init__(self, scenario):
        super().__init__(scenario)
        self.ticks = [self.tick]
        self.history = collections.deque(maxlen=HISTORY_RECORDS)
        self._remember()

    def step(self) -> None:
        """Advance to the next record and remember its clone counts."""
        super().step()
        self.ticks.append(self.tick)
        self._remember()

    def _remember(self) -> None:
        cl = self.world.clones
        alive = np.flatnonzero(cl.count[: cl.meta[0]] > 0)
        self.history.append((self.tick, cl.clone_id[alive].copy(), cl.count[alive].copy()))


# --- figures -------------------------------------------------------------------

def _figure(width=6.4, height=3.6):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def muller_figure(model: ExplorerModel, min_frequency: float = 0.01):
    """Muller plot of the world's clones over the remembered records."""
    import pandas as pd

    from analysis.plots import draw_muller, muller_layout

    fig = _figure()
    counts = pd.DataFrame({
        "tick": np.concatenate([np.full(len(ids), t) for t, ids, _ in model.history]),
        "clone": np.concatenate([ids for _, ids, _ in model.history]),
        "count": np.concatenate([n for _, _, n in model.history])})
    if counts.empty or len(model.history) < 2:
        ax = fig.subplots()
        ax.set(title="Muller plot: step to see clones", xlabel="tick")
        return fig
    ln = model.world.lineage
    n_ids = int(model.world.clones.meta[2])
    lineage = pd.DataFrame({"clone": np.arange(n_ids), "parent": ln.parent[:n_ids],
                            **{name: ln.traits[:n_ids, k] for k, name in enumerate(TRAITS)}})
    layout = muller_layout(lineage, counts, min_frequency)
    world = "the world" if model.world.n_agents > 1 else "the agent"
    takeover = int(model.world.status["takeover_tick"])
    draw_muller(fig, layout, ylabel=f"frequency in {world}",
                title=f"Muller plot ({len(layout[1])} clones of >= {min_frequency:.0%})",
                threshold=model.scenario.agent.escape_threshold,
                takeover=takeover if 0 <= takeover <= model.tick else None)
    return fig


def traits_figure(model: ExplorerModel):
    """Mean traits and the defector fraction at every record (DataCollector)."""
    data = model.datacollector.get_model_vars_dataframe()
    fig = _figure()
    ax = fig.subplots()
    for k, name in enumerate(TRAITS):
        ax.plot(model.ticks, data[f"mean_{name}"], color=f"C{k}", label=f"mean {name}")
    ax.plot(model.ticks, data["defector_fraction"], "k--", label="defector fraction")
    ax.axhline(model.scenario.agent.escape_threshold, color="C0", linewidth=0.6,
               linestyle=":", label="escape threshold")
    ax.set(xlabel="tick", ylabel="value", ylim=(-0.02, 1.02),
           title="Mean traits and defector fraction")
    ax.legend(fontsize="x-small", loc="upper left", ncols=2)
    return fig


def price_figure(model: ExplorerModel):
    """The Price terms of mean drive between records (DataCollector)."""
    import pandas as pd

    from analysis.plots import draw_price

    data = model.datacollector.get_model_vars_dataframe()
    table = pd.DataFrame({
        "tick": model.ticks, "between": data["price_between"].to_numpy(),
        "within": data["price_within"].to_numpy(),
        "transmission": data["price_transmission"].to_numpy(),
        "observed": data["mean_drive"].diff().to_numpy()}).iloc[1:]
    fig = _figure()
    ax = fig.subplots()
    draw_price(ax, table.fillna(0.0), "drive", width=0.8 * model.scenario.record_every)
    ax.set_title("Price decomposition of mean drive")
    return fig


def agents_figure(model: ExplorerModel):
    """Every agent ever alive (AgentSet and the dead): size, defector
    fraction and reserve; taken over in red, dead in grey."""
    systems = sorted(model.systems.values(), key=lambda s: s.index)
    fig = _figure()
    ax_size, ax_frac = fig.subplots(2, 1, sharex=True)
    index = [s.index for s in systems]
    colors = ["0.7" if s.death_tick >= 0 else ("C3" if s.taken_over else "C0")
              for s in systems]
    ax_size.bar(index, [s.size if s.death_tick < 0 else 0 for s in systems], color=colors)
    ax_size.set(ylabel="size", title=f"Agents: {len(model.agents)} alive of "
                f"{len(systems)} (red: taken over, grey: dead)")
    if model.scenario.world.income is not None:
        twin = ax_size.twinx()
        twin.plot(index, [s.reserve for s in systems], "k.", label="reserve")
        twin.set_ylabel("reserve")
    ax_frac.bar(index, [s.defector_fraction for s in systems], color=colors)
    ax_frac.axhline(model.scenario.agent.takeover_fraction, color="C3", linewidth=0.6,
                    linestyle=":")
    ax_frac.set(xlabel="agent", ylabel="defector fraction", ylim=(0, 1), xticks=index
                if len(index) <= 20 else ax_frac.get_xticks())
    return fig


#: The page's figures, by name.
FIGURES = {"muller": muller_figure, "traits": traits_figure, "price": price_figure,
           "agents": agents_figure}


def figures(model: ExplorerModel) -> dict:
    """Every figure of the page, by name (:data:`FIGURES`)."""
    return {name: draw(model) for name, draw in FIGURES.items()}


def event_lines(model: ExplorerModel) -> list[str]:
    """The outcomes reached so far and the agents lost, one line each,
    in order of tick."""
    rows = [(tick, f"tick {tick}: {name.removesuffix('_tick').replace('_', ' ')}")
            for name, tick in model.events.items()]
    rows += [(s.death_tick, f"tick {s.death_tick}: agent {s.index} died "
              f"({s.death_cause})") for s in model.systems.values() if s.death_tick >= 0]
    return [line for _, line in sorted(rows)]


# --- exports -------------------------------------------------------------------

def export_scenario(scenario, folder) -> Path:
    """Write ``scenario`` (resolved: every key, its seed) to
    ``folder/NAME-explore.yaml``; ``substrate run`` of that file runs the
    page's world as its replicate 0."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{scenario.name}-explore.yaml"
        path.write_text(to_yaml(scenario), encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{folder}: cannot write the scenario "
                            f"({exc.strerror or exc})") from None
    return path


def save_figures(model: ExplorerModel, folder) -> list[Path]:
    """Write every figure of the page as ``folder/NAME-tickT-KIND.png``."""
    from analysis.plots import save

    folder = Path(folder)
    paths = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, fig in figures(model).items():
            path = folder / f"{model.scenario.name}-tick{model.tick}-{name}.png"
            save(fig, path)
            paths.append(path)
    except OSError as exc:
        raise ScenarioError(f"{folder}: cannot write the figures "
                            f"({exc.strerror or exc})") from None
    return paths


# --- the server ----------------------------------------------------------------

def check_port(host: str, port: int) -> None:
    """Raise :class:`ExploreError` when ``host:port`` cannot be listened on."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ExploreError(f"--host {host}: not an address of this machine ({exc})") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ExploreError(f"port {port} on {host} is not free ({exc.strerror or exc}); "
                               "give another with --port") from None


def missing_module(modules) -> str | None:
    """The first of ``modules`` that cannot be imported (not importing any)."""
    import importlib.util

    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        if not found:
            return module
    return None


def serve(scenario: str | None, host: str = "127.0.0.1", port: int = 8765,
          out=None, echo=print) -> None:
    """Serve the explorer page of a scenario until Ctrl-C.

    Parameters
    ----------
    scenario : str or None
        A scenario file or a bundled scenario's name (default
        :data:`DEFAULT_SCENARIO`); validated before the server starts.
    host, port : str, int
        Where to listen (loopback by default: the page runs code on the
        machine, so it is not for other machines).
    out : path-like, optional
        Folder of the exports [default: results/explore].
    echo : callable
        Prints the page's address.

    Raises
    ------
    ScenarioError
        The scenario is invalid.
    ExploreError
        The port is in use, or the ``explore`` extra is not installed.
    """
    from simulation import load_scenario
    from substrate.commands import resolve_scenario
    from substrate.notice import compile_notice

    path = resolve_scenario(scenario or DEFAULT_SCENARIO)
    scenario = explorer_scenario(load_scenario(path), {}, str(path))  # fail here, not on the page
    module = missing_module(("solara", "uvicorn", "mesa.visualization"))
    if module:
        raise ExploreError(f"the explorer needs the 'explore' extra ({module} is "
                           "missing): pip install 'substrate[explore]'")
    check_port(host, port)
    # Build the world once, so that numba's first compilation (minutes on a
    # fresh install) happens before the address is printed, not while the
    # page waits.
    compile_notice(scenario=scenario)
    ExplorerModel(scenario)
    os.environ[SCENARIO_ENV] = str(Path(path).resolve())
    os.environ[OUT_ENV] = str(Path(out if out is not None else "results/explore").resolve())
    os.environ["SOLARA_APP"] = "substrate.explore_page"
    os.environ["SERVER_NAME"], os.environ["SERVER_PORT"] = host, str(port)
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    import uvicorn  # after the settings above: solara reads them when imported

    # Notes for solara's developers, not for our users: a hook-order check in
    # Mesa's page and a cookie note about plain http on loopback.
    warnings.filterwarnings("ignore", message=".*found despite early return")
    warnings.filterwarnings("ignore", message="Cookies with samesite=none")
    shown = f"[{host}]" if ":" in host else host
    address = f"Substrate explorer of {path}: http://{shown}:{port}/  (Ctrl-C stops)"

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            if self.started:  # listening: the address works from now on
                echo(address)

    config = uvicorn.Config("solara.server.starlette:app", host=host, port=port,
                            log_level="warning", timeout_graceful_shutdown=2)
    try:
        Server(config).run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it has handled
        pass
    echo("explorer stopped")


def log_error_rate(value: float) -> float:
    """log10 of an error rate for the slider (0 shows as its lowest end)."""
    return math.log10(value) if value > 0 else CONTROLS[0].low
