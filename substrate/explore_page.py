"""The explorer page: Mesa's SolaraViz over an :class:`~substrate.explore.ExplorerModel`.

Served by :func:`substrate.explore.serve` (``substrate explore``), which names
the scenario and the export folder in environment variables. Mesa's sidebar
gives play/pause/step/reset and the play interval (the speed); this page adds
the scenario's main keys (:data:`substrate.explore.CONTROLS`), whose every
change rebuilds the model from a validated scenario (an invalid combination
shows the one-line message and changes nothing), the exports, and four live
figures with the event list, redrawn at every record.
"""

from __future__ import annotations

import os

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import force_update, update_counter

import scenarios
from simulation import load_scenario
from simulation.errors import SubstrateError
from substrate import explore as ex

SOURCE = os.environ.get(ex.SCENARIO_ENV) or str(scenarios.path(ex.DEFAULT_SCENARIO))
OUT = os.environ.get(ex.OUT_ENV) or "results/explore"
#: The scenario as the page starts (its seed resolved once per server).
START = ex.explorer_scenario(load_scenario(SOURCE), {}, SOURCE)

#: Per browser tab (solara keeps module-level reactives per connection).
current = solara.reactive(START)
message = solara.reactive("")
#: Bumped when a value is refused, so the sliders are drawn again at the kept values.
revision = solara.reactive(0)


class PageModel(ex.ExplorerModel):
    """The page's model; Mesa's Reset builds it with no argument: the
    current settings, from tick 0."""

    def __init__(self, scenario=None):
        super().__init__(scenario if scenario is not None else current.value)


def _apply(key, value, model: solara.Reactive) -> None:
    settings = ex.settings_of(current.value)
    if settings[key] == value:
        return
    settings[key] = value
    if key == "copy.kernel.type":
        settings["kernel_size"] = None  # the new type's own default
    try:
        scenario = ex.explorer_scenario(current.value, settings, SOURCE)
    except SubstrateError as exc:
        message.value = f"error: {exc}"
        revision.value += 1
        return
    # Mesa's controls keep Step and Play off once a run has ended, until its
    # own Reset (which builds the same world again from these settings).
    message.value = ("" if model.value.running else
                     "note: the run had ended; press Reset to run the new settings")
    current.value = scenario
    model.value = PageModel(scenario)
    force_update()


@solara.component
def Settings(model: solara.Reactive):
    """The scenario's main keys as sliders and selectors."""
    values = ex.settings_of(current.value)
    with solara.Card("Scenario", classes=["substrate-settings"]).key(f"settings-{revision.value}"):
        for control in ex.CONTROLS:
            key, value = control.key, values[control.key]

            def on_value(v, key=key, kind=control.kind):
                if kind == "log":
                    v = float(f"{10 ** v:.3g}")
                _apply(key, v, model)

            if control.kind == "log":
                solara.SliderFloat(f"{control.label}: rate {value:.3g}",
                                   value=round(ex.log_error_rate(value), 1),
                                   min=control.low, max=control.high, step=control.step,
                                   on_value=on_value)
            elif control.kind == "float":
                shown = f"{value:.4g}" if value is not None else "not used"
                solara.SliderFloat(f"{control.label}: {shown}",
                                   value=value if value is not None else 0.0,
                                   min=control.low, max=control.high, step=control.step,
                                   on_value=on_value, disabled=value is None)
            elif control.kind == "int" and key == "seed":
                solara.InputInt(control.label, value=value, on_value=on_value)
            elif control.kind == "int":
                solara.SliderInt(f"{control.label}: {value}", value=value, min=int(control.low),
                                 max=int(control.high), on_value=on_value)
            elif control.kind == "select":
                solara.Select(control.label, values=list(control.choices), value=value,
                              on_value=on_value)
            else:
                solara.Checkbox(label=control.label, value=value, on_value=on_value)
        if message.value.startswith("error: "):
            solara.Error(message.value, classes=["substrate-error"])
        elif message.value.startswith("note: "):
            solara.Info(message.value[len("note: "):], classes=["substrate-note"])


@solara.component
def Exports(model: solara.Reactive):
    """Buttons writing the settings as a scenario file and the figures."""
    def export_scenario():
        try:
            message.value = f"wrote {ex.export_scenario(current.value, OUT)}"
        except SubstrateError as exc:
            message.value = f"error: {exc}"

    def export_figures():
        try:
            paths = ex.save_figures(model.value, OUT)
            message.value = f"wrote {len(paths)} figures to {OUT}"
        except SubstrateError as exc:
            message.value = f"error: {exc}"

    with solara.Card("Export"):
        with solara.Row():
            solara.Button("Export scenario", on_click=export_scenario, outlined=True)
            solara.Button("Save figures", on_click=export_figures, outlined=True)
        if message.value.startswith("wrote"):
            solara.Success(message.value, classes=["substrate-exported"])


@solara.component
def FigureView(name: str, model):
    """One figure of :data:`substrate.explore.FIGURES`, redrawn at every record."""
    update_counter.get()
    with solara.Column(classes=[f"substrate-figure-{name}"]):
        solara.FigureMatplotlib(ex.FIGURES[name](model), format="png",
                                dependencies=[id(model), model.tick, update_counter.value])


@solara.component
def EventList(model):
    """Outcomes reached so far (takeover, convergence, ...) and agents lost."""
    update_counter.get()
    lines = ex.event_lines(model)
    with solara.Card(f"Events at tick {model.tick}", classes=["substrate-events"]):
        with solara.Column(gap="4px"):
            if not lines:
                solara.Text("no event yet")
            for line in lines:
                solara.Text(line)


def _view(name):
    def view(model):
        return FigureView(name, model)
    view.__name__ = f"{name}_view"
    return view


@solara.component
def Page():
    model = solara.use_reactive(solara.use_memo(PageModel, []))
    SolaraViz(model, components=[(_view(name), 0) for name in ex.FIGURES]
              + [(EventList, 0)],
              name=f"Substrate explorer: {current.value.name}", play_interval=150)
    Below(model)


@solara.component
def Below(model: solara.Reactive):
    # Solara orders sidebar parts by the depth of the component that adds
    # them: one level deeper than SolaraViz's puts these below Mesa's controls.
    SidebarCards(model)


@solara.component
def SidebarCards(model: solara.Reactive):
    """The settings and exports, below Mesa's controls (play, step, speed)."""
    with solara.Sidebar():
        Settings(model)
        Exports(model)
