"""Export widgets: a page's numbers as files. Built only when a button is clicked.

    ui.scenario_export_box(tr, scenario)          # a trace built from the settings: they rebuild it
    ui.model_export_box(tr, model, "mine.pt")      # a trained or uploaded model: its weights go along
"""
from __future__ import annotations

import streamlit as st

from ..deep import StackedModel, StackedTrace
from ..files import export
from ..files.script import reproduce_script
from ..i18n import _
from ..model import RecurrentModel
from ..spec import Scenario
from ..trace import Trace


def scenario_export_box(tr: Trace | StackedTrace, scenario: Scenario, *, key: str = "export", container=None):
    """export_box for a trace built from a scenario: the files carry its settings, the script rebuilds a
    one-layer model (the files of a stacked one hold every layer and direction)."""
    stacked = isinstance(tr, StackedTrace)
    export_box(tr, f"rnnviz_{scenario.cell}_T{scenario.seq_len}", meta=scenario, key=key, container=container,
               script=None if stacked else lambda: reproduce_script(scenario))


def export_box(tr: Trace, name: str, *, meta=None, script=None, model=None, key: str = "export",
               container=None, **settings):
    """Download buttons for a trace: CSV and NPZ (every array, with the settings as metadata), and
    optionally the model's weights and a PyTorch script reproducing the numbers. Files are built
    only when a button is clicked. `script` is a callable returning the script's text."""
    c = container if container is not None else st.expander(_("Export these numbers"), icon=":material/download:")
    cols = c.columns(4 if model is not None else 3)

    def csv():
        try:
            return export.trace_to_csv(tr, meta, **settings)
        except ValueError as exc:  # too large for a CSV: say so inside the file rather than fail
            return f"# {exc}\n# Use the NPZ export for this size.\n".encode()

    cols[0].download_button(_("Trace as CSV"), csv, file_name=f"{name}.csv", mime="text/csv", key=f"{key}_csv",
                            icon=":material/table:", on_click="ignore")
    cols[1].download_button(_("Trace as NPZ"), lambda: export.trace_to_npz(tr, meta, **settings),
                            file_name=f"{name}.npz", mime="application/octet-stream", key=f"{key}_npz",
                            icon=":material/data_array:", on_click="ignore")
    if script is not None:
        cols[2].download_button(_("PyTorch script"), lambda: script().encode(), file_name=f"{name}.py",
                                mime="text/x-python", key=f"{key}_py", icon=":material/code:", on_click="ignore",
                                help=_("A short script using only PyTorch that recomputes these numbers."))
    if model is not None:
        cols[-1].download_button(_("Model weights (.pt)"), lambda: export.model_to_bytes(model, meta),
                                 file_name=f"{name}.pt", mime="application/octet-stream", key=f"{key}_pt",
                                 icon=":material/save:", on_click="ignore",
                                 help=_("A state dict (weights only): torch.load(..., weights_only=True) reads it."))
    c.caption(_("Figures: the camera icon in each chart's toolbar saves a PNG."))


def model_export_box(tr: Trace | StackedTrace, model: RecurrentModel | StackedModel, title: str, *,
                     key: str = "export", container=None):
    """export_box for a trained or uploaded model: the files carry its weights and input (every layer and
    direction of a stacked model, whose trace `tr` is then the StackedTrace)."""
    stem = "".join(ch if ch.isalnum() else "_" for ch in title)[:40].strip("_") or "model"
    if isinstance(tr, StackedTrace):  # the script rebuilds one-layer models only
        return export_box(tr, f"rnnviz_{stem}", meta={"source": title}, model=model, key=key, container=container)
    export_box(tr, f"rnnviz_{stem}", meta={"source": title}, model=model, key=key, container=container,
               script=lambda: reproduce_script(model=model, x=tr.inputs, loss=tr.loss))
