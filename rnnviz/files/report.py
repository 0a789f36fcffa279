"""A self-contained HTML page of a preset's figures, for classrooms without a server.

    python -m rnnviz report --preset vanishing --out report.html

The page inlines plotly.js (no CDN, no network needed to open it) and shows, with short
explanations and the numbers behind them: the gradient's reach for an RNN, an LSTM and a GRU
with the preset's settings, the preset's comparison of variants, the Jacobian product norms
with the Pascanu bound, and the eigenvalues of the recurrent weights.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline
import torch

from .. import plots
from ..cells import LABELS
from ..spec import KNOBS, query_string
from ..trace import Trace
from .lessons import Preset, get_preset

CELLS = ("rnn", "lstm", "gru")
FIGURE_CONFIG = {"displaylogo": False, "responsive": True,
                 "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "rnnviz"}}


@dataclass
class Section:
    title: str
    figure: go.Figure
    text: str            # what to look for, as plain text
    numbers: list        # short lines of measured numbers


def preset_sections(preset: Preset | str, scale: float = 1.0) -> list[Section]:
    """The report's figures with their explanations and numbers (also usable by a page)."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    scenario = preset.scenario()
    featured, T = scenario.cell, scenario.seq_len
    cells = {LABELS[c]: scenario.replace(cell=c).trace() for c in CELLS}
    main = cells[LABELS[featured]]
    sections = []

    fig = plots.gradient_vs_lag(cells, scale=scale, horizon_fraction=1e-3,
                                title="How much of the loss at the last step reaches each earlier step")
    sections.append(Section(
        "How far back the gradient reaches: RNN, LSTM and GRU",
        fig,
        "Each curve is ‖∂L/∂h_k‖, the gradient of the loss with respect to the state k steps before the "
        "last, on a log scale. A falling line means the gradient vanishes; a rising one, that it explodes. "
        "Diamonds mark the memory horizon: the lag where the gradient has fallen below 1/1000 of its value "
        "at the last step. The LSTM's dashed curve is its cell path ‖∂L/∂c_k‖.",
        [f"{label}: {_reach(tr)}" for label, tr in cells.items()],
    ))

    if preset.compare:
        variants = {label: preset.scenario(**changes).trace() for label, changes in preset.compare}
        fig = plots.gradient_vs_lag(variants, scale=scale, horizon_fraction=1e-3,
                                    title=f"{LABELS[featured]}: " + ", ".join(variants))
        _shade(fig, list(variants), plots.CELL_COLORS[featured])
        sections.append(Section(f"One knob changed: {LABELS[featured]}", fig, preset.look_for,
                                [f"{label}: {_reach(tr)}" for label, tr in variants.items()]))

    fig = plots.jacobian_vs_lag(cells, values={label: tr.log10_jacobian_norm for label, tr in cells.items()},
                                scale=scale,
                                title="‖∂h_T/∂h_k‖₂: the product of step Jacobians, with the Pascanu bound")
    rnn = cells["RNN"]
    bound = rnn.gamma * rnn.sigma_max
    sections.append(Section(
        "Why: the product of Jacobians and its bound",
        fig,
        "The gradient k steps back is multiplied by the product of k step Jacobians ∂h_t/∂h_{t−1}. Its norm "
        "(solid) can never exceed (γ·σ_max(W_hh))^k for a plain RNN (dashed; γ bounds the activation's "
        "slope: 1 for tanh and ReLU, 1/4 for sigmoid), so γ·σ_max < 1 guarantees vanishing (Pascanu, "
        "Mikolov & Bengio 2013). Above 1 the bound allows explosion but does not force it: saturated units "
        "have small slopes.",
        [f"RNN: γ·σ_max = {rnn.gamma:g} × {rnn.sigma_max:.4g} = {bound:.4g}, so the bound after {T - 1} steps is "
         f"{sci((T - 1) * math.log10(bound))}" if bound > 0 else "RNN: σ_max = 0",
         f"RNN: measured ‖∂h_T/∂h_0‖₂ = {sci(rnn.log10_jacobian_norm[0])}"],
    ))

    fig = plots.eigenvalue_plane(main, scale=scale,
                                 title=f"Eigenvalues of the {LABELS[featured]}'s recurrent weights")
    which = {"rnn": "W_hh", "lstm": "the candidate block W_hg of W_hh", "gru": "the candidate block W_hn of W_hh"}
    sections.append(Section(
        "The recurrent weights: eigenvalues and the unit circle",
        fig,
        f"The eigenvalues of {which[featured]} in the complex plane. In a linear network, eigenvalues inside "
        "the unit circle make every perturbation (and the gradient) decay, one outside makes it grow; the "
        "spectral radius ρ is the largest |λ|. Nonlinearities and gates change the picture, which is why the "
        "figures above are measured rather than predicted.",
        [f"spectral radius ρ = {main.spectral_radius:.4g}", f"largest singular value σ_max = {main.sigma_max:.4g}"],
    ))
    return sections


sci = plots.sci  # numbers read the same in the report as in the app: 3.16 × 10⁻²⁰


def _reach(tr: Trace) -> str:
    h = tr.memory_horizon(1e-3)
    horizon = f"memory horizon {h} steps" if h is not None else f"no memory horizon within {tr.T - 1} steps"
    return f"‖∂L/∂h‖ {tr.T - 1} steps back = {sci(tr.log10_grad_norm[0])}; {horizon}"


def _shade(fig: go.Figure, labels: list, color: str) -> None:
    """Give each variant its own shade of the cell's colour (light to full), lines and markers."""
    rgb = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
    n = len(labels)
    for k, label in enumerate(labels):
        mix = 0.6 * (n - 1 - k) / max(n - 1, 1)  # 0 for the last variant: the cell's own colour
        r, g, b = (rgb + (255 - rgb) * mix).round().astype(int)
        shade = f"#{r:02x}{g:02x}{b:02x}"
        for tr in fig.data:  # the variant's lines are named "label  ...", its markers hover "label: ..."
            if (tr.name or "").startswith(label + "  "):
                tr.line.color = shade
            elif (tr.hovertemplate or "").startswith(label + ":"):
                tr.marker.color = shade


# --------------------------------------------------------------------------------- HTML
_CSS = """
body {font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0;
      color: #1d1d1f; background: #fafafa; font-size: 18px; line-height: 1.5;}
main {max-width: 1100px; margin: 0 auto; padding: 2rem 1.5rem 4rem;}
h1 {font-size: 2.3rem; margin: 0 0 0.5rem;} h2 {font-size: 1.5rem; margin: 0.3rem 0 0.5rem;}
.lede {font-size: 1.15rem; max-width: 60rem;}
section {background: white; border: 1px solid #e3e3e3; border-radius: 10px; padding: 1rem 1.25rem; margin: 1.5rem 0;}
table {border-collapse: collapse; font-size: 0.95rem;} td, th {padding: 0.2rem 0.9rem 0.2rem 0; text-align: left;}
th {font-weight: 600; color: #555;}
code {background: #f1f1f1; padding: 0.1rem 0.3rem; border-radius: 4px; overflow-wrap: anywhere;}
.numbers {color: #333; font-size: 0.95rem;} .look {border-left: 4px solid #1f77b4; padding-left: 0.8rem;}
footer {color: #666; font-size: 0.85rem; margin-top: 3rem;}
@media print {section {break-inside: avoid;} body {background: white;}}
"""


def build_report(preset: Preset | str, scale: float = 1.0) -> str:
    """The complete HTML page (a str) for a preset; plotly.js is inlined once."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    sections = preset_sections(preset, scale=scale)
    esc = html.escape
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>rnnviz · {esc(preset.title)}</title>", f"<style>{_CSS}</style>",
        f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>', "</head>", "<body><main>",
        f"<h1>{esc(preset.title)}</h1>", f'<p class="lede">{esc(preset.explanation)}</p>',
    ]
    for n, sec in enumerate(sections, 1):
        div = pio.to_html(sec.figure, include_plotlyjs=False, full_html=False, config=FIGURE_CONFIG,
                          div_id=f"figure-{n}", default_height=f"{int(sec.figure.layout.height or 450)}px")
        numbers = "".join(f"<li>{esc(line)}</li>" for line in sec.numbers)
        parts += [f'<section id="section-{n}"><h2>{n}. {esc(sec.title)}</h2>', div,
                  f'<p class="look">{esc(sec.text)}</p>' if sec.text else "",
                  f'<ul class="numbers">{numbers}</ul>' if numbers else "", "</section>"]
    parts += [settings_html(preset), footer_html(f"python -m rnnviz report --preset {preset.name}"),
              "</main></body></html>"]
    return "\n".join(p for p in parts if p)


def settings_html(preset: Preset) -> str:
    """The preset's settings as a table, and the app page and query that show them."""
    esc = html.escape
    params = preset.query()
    values = {k: v for k, v in preset.values().items() if k in params}  # the settings a link sets
    shown = {k: KNOBS[k].label_of(v) if KNOBS[k].kind == "choice" else KNOBS[k].format(v) for k, v in values.items()}
    rows = "".join(f"<tr><th>{esc(KNOBS[k].label)}</th><td>{esc(v)}</td></tr>" for k, v in shown.items())
    page = Path(preset.page).stem.split("_", 1)[-1]
    return (f'<section id="settings"><h2>Settings</h2><table>{rows}</table>'
            f"<p>In the app: the page <b>{esc(page.replace('_', ' '))}</b> with the query "
            f"<code>?{esc(query_string(params))}</code></p></section>")


def footer_html(command: str) -> str:
    """How the page was made and how its numbers are computed."""
    return (f"<footer>Made by rnnviz (<code>{html.escape(command)}</code>, torch {html.escape(torch.__version__)}). "
            "States come from torch's fused kernels; gradients from an exact backward sweep through time in float64, "
            "kept as mantissa and exponent so values far beyond float64's range are drawn where they belong. The "
            "probe loss is L = v·h with v = (1, …, 1)/√H. Everything on this page works offline.</footer>")


def write_report(preset: Preset | str, out: str | Path, scale: float = 1.0) -> Path:
    """Write `build_report(preset)` to `out` (UTF-8) and return the path."""
    path = Path(out)
    path.write_text(build_report(preset, scale=scale), encoding="utf-8")
    return path
