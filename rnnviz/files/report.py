"""A self-contained HTML page of a preset's figures, for classrooms without a server.

    python -m rnnviz report --preset vanishing --out report.html [--lang zh]

The page inlines plotly.js (no CDN, no network needed to open it) and shows, with short
explanations and the numbers behind them: the gradient's reach for an RNN, an LSTM and a GRU
with the preset's settings, the preset's comparison of variants, the Jacobian product norms
with the Pascanu bound, and the eigenvalues of the recurrent weights. Every word of it (headings,
explanations, numbers' captions, settings, figure titles and axes) is in the language asked for.
"""
from __future__ import annotations

import html
import math
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline
import torch

from .. import i18n, plots
from ..cells import LABELS
from ..i18n import N_, _
from ..spec import KNOBS, query_string
from ..trace import Trace
from .lessons import Preset, get_preset

CELLS = ("rnn", "lstm", "gru")
FIGURE_CONFIG = {"displaylogo": False, "responsive": True,
                 "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "rnnviz"}}
# Which weights the eigenvalue figure shows, by cell.
RECURRENT_BLOCK = {"rnn": "W_hh", "lstm": N_("the candidate block W_hg of W_hh"),
                   "gru": N_("the candidate block W_hn of W_hh")}


@dataclass
class Section:
    title: str
    figure: go.Figure
    text: str            # what to look for, as plain text
    numbers: list        # short lines of measured numbers


def in_language(lang: str | None):
    """A block whose strings are in `lang` ("en", "zh"); None: the current language (a page's)."""
    return i18n.language(lang) if lang else nullcontext()


def preset_sections(preset: Preset | str, scale: float = 1.0, lang: str | None = None) -> list[Section]:
    """The report's figures with their explanations and numbers (also usable by a page), in `lang`
    (None: the current language)."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    with in_language(lang):
        return _sections(preset, scale)


def _sections(preset: Preset, scale: float) -> list[Section]:
    scenario = preset.scenario()
    featured, T = scenario.cell, scenario.seq_len
    cells = {LABELS[c]: scenario.replace(cell=c).trace() for c in CELLS}
    main = cells[LABELS[featured]]
    sections = []

    fig = plots.gradient_vs_lag(cells, scale=scale, horizon_fraction=1e-3,
                                title=_("How much of the loss at the last step reaches each earlier step"))
    sections.append(Section(
        _("How far back the gradient reaches: RNN, LSTM and GRU"),
        fig,
        _("Each curve is ‖∂L/∂h_k‖, the gradient of the loss with respect to the state k steps before the "
          "last, on a log scale. A falling line means the gradient vanishes; a rising one, that it explodes. "
          "Diamonds mark the memory horizon: the lag where the gradient has fallen below 1/1000 of its value "
          "at the last step. The LSTM's dashed curve is its cell path ‖∂L/∂c_k‖."),
        [_reach(label, tr) for label, tr in cells.items()],
    ))

    if preset.compare:
        variants = {_(label): preset.scenario(**changes).trace() for label, changes in preset.compare}
        fig = plots.gradient_vs_lag(variants, scale=scale, horizon_fraction=1e-3,
                                    title=_("{cell}: {variants}").format(cell=LABELS[featured],
                                                                         variants=", ".join(variants)))
        _shade(fig, list(variants), plots.CELL_COLORS[featured])
        sections.append(Section(_("One knob changed: {cell}").format(cell=LABELS[featured]), fig,
                                _(preset.look_for), [_reach(label, tr) for label, tr in variants.items()]))

    fig = plots.jacobian_vs_lag(cells, values={label: tr.log10_jacobian_norm for label, tr in cells.items()},
                                scale=scale,
                                title=_("‖∂h_T/∂h_k‖₂: the product of step Jacobians, with the Pascanu bound"))
    rnn = cells["RNN"]
    bound = rnn.gamma * rnn.sigma_max
    sections.append(Section(
        _("Why: the product of Jacobians and its bound"),
        fig,
        _("The gradient k steps back is multiplied by the product of k step Jacobians ∂h_t/∂h_{{t−1}}. Its norm "
          "(solid) can never exceed (γ·σ_max(W_hh))^k for a plain RNN (dashed; γ bounds the activation's "
          "slope: 1 for tanh and ReLU, 1/4 for sigmoid), so γ·σ_max < 1 guarantees vanishing (Pascanu, "
          "Mikolov & Bengio 2013). Above 1 the bound allows explosion but does not force it: saturated units "
          "have small slopes.").format(),
        [_("RNN: γ·σ_max = {gamma:g} × {sigma:.4g} = {bound:.4g}, so the bound after {n} steps is {value}").format(
            gamma=rnn.gamma, sigma=rnn.sigma_max, bound=bound, n=T - 1, value=sci((T - 1) * math.log10(bound)))
         if bound > 0 else "RNN: σ_max = 0",
         _("RNN: measured ‖∂h_T/∂h_0‖₂ = {value}").format(value=sci(rnn.log10_jacobian_norm[0]))],
    ))

    fig = plots.eigenvalue_plane(main, scale=scale,
                                 title=_("Eigenvalues of the {cell}'s recurrent weights").format(cell=LABELS[featured]))
    sections.append(Section(
        _("The recurrent weights: eigenvalues and the unit circle"),
        fig,
        _("The eigenvalues of {which} in the complex plane. In a linear network, eigenvalues inside "
          "the unit circle make every perturbation (and the gradient) decay, one outside makes it grow; the "
          "spectral radius ρ is the largest |λ|. Nonlinearities and gates change the picture, which is why the "
          "figures above are measured rather than predicted.").format(which=_(RECURRENT_BLOCK[featured])),
        [_("spectral radius ρ = {rho:.4g}").format(rho=main.spectral_radius),
         _("largest singular value σ_max = {sigma:.4g}").format(sigma=main.sigma_max)],
    ))
    return sections


sci = plots.sci  # numbers read the same in the report as in the app: 3.16 × 10⁻²⁰


def _reach(label: str, tr: Trace) -> str:
    """One line of numbers: how far back a curve's gradient reaches."""
    h = tr.memory_horizon(1e-3)
    horizon = (_("memory horizon {h} steps").format(h=h) if h is not None else
               _("no memory horizon within {n} steps").format(n=tr.T - 1))
    return _("{label}: ‖∂L/∂h‖ {n} steps back = {value}; {horizon}").format(
        label=label, n=tr.T - 1, value=sci(tr.log10_grad_norm[0]), horizon=horizon)


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
# Latin text in the system's font; Chinese in a CJK font of whatever system opens the file.
FONTS = ('system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, "Noto Sans CJK SC", "Source Han Sans SC", '
         '"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", sans-serif')
_CSS = "body {font-family: " + FONTS + """; margin: 0;
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


def page_head(title: str, lang: str, *scripts: str) -> list[str]:
    """The start of a page up to its heading: its language, its title, the style and `scripts` (in <head>)."""
    tag = i18n.LOCALES.get(lang, lang).replace("_", "-")  # zh -> zh-CN
    return ["<!DOCTYPE html>", f'<html lang="{tag}">', "<head>", '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>rnnviz · {html.escape(title)}</title>", f"<style>{_CSS}</style>", *scripts, "</head>",
            "<body><main>", f"<h1>{html.escape(title)}</h1>"]


def with_fonts(fig: go.Figure, lang: str) -> go.Figure:
    """A figure in a language other than English draws its text in the page's font stack (CJK included)."""
    return fig if lang == i18n.DEFAULT else fig.update_layout(font_family=FONTS)


def build_report(preset: Preset | str, scale: float = 1.0, lang: str | None = None) -> str:
    """The complete HTML page (a str) for a preset, in `lang` ("en", "zh"; None: the current language);
    plotly.js is inlined once."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    with in_language(lang):
        lang = i18n.current()
        sections = _sections(preset, scale)
        esc = html.escape
        parts = page_head(_(preset.title), lang,
                          f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>')
        parts.append(f'<p class="lede">{esc(_(preset.explanation))}</p>')
        for n, sec in enumerate(sections, 1):
            fig = with_fonts(sec.figure, lang)
            div = pio.to_html(fig, include_plotlyjs=False, full_html=False, config=FIGURE_CONFIG,
                              div_id=f"figure-{n}", default_height=f"{int(fig.layout.height or 450)}px")
            numbers = "".join(f"<li>{esc(line)}</li>" for line in sec.numbers)
            parts += [f'<section id="section-{n}"><h2>{n}. {esc(sec.title)}</h2>', div,
                      f'<p class="look">{esc(sec.text)}</p>' if sec.text else "",
                      f'<ul class="numbers">{numbers}</ul>' if numbers else "", "</section>"]
        parts += [settings_html(preset), footer_html(command_line("report", preset.name, lang)),
                  "</main></body></html>"]
    return "\n".join(p for p in parts if p)


def command_line(name: str, preset: str, lang: str) -> str:
    """The command line that writes a page of `preset` in `lang`."""
    return f"python -m rnnviz {name} --preset {preset}" + (f" --lang {lang}" if lang != i18n.DEFAULT else "")


def settings_html(preset: Preset) -> str:
    """The preset's settings as a table, and the app page and query that show them (current language)."""
    esc = html.escape
    params = preset.query()
    values = {k: v for k, v in preset.values().items() if k in params}  # the settings a link sets
    rows = "".join(f"<tr><th>{esc(_(KNOBS[k].label))}</th><td>{esc(_shown(k, v))}</td></tr>" for k, v in values.items())
    page = _(Path(preset.page).stem.split("_", 1)[-1].replace("_", " "))  # a page's name, as the app's menu says it
    where = esc(_("In the app: the page {page} with the query {query}"), quote=False).format(
        page=f"<b>{esc(page)}</b>", query=f"<code>?{esc(query_string(params))}</code>")
    return f'<section id="settings"><h2>{esc(_("Settings"))}</h2><table>{rows}</table><p>{where}</p></section>'


def _shown(name: str, value) -> str:
    """A knob's value as the settings table shows it, in the current language."""
    knob = KNOBS[name]
    if knob.kind == "choice":  # its description, or the token its widget shows ("LSTM", "gaussian")
        return knob.label_of(value) if (knob.labels or {}).get(value, value) != value else _(knob.token(value))
    if knob.kind == "bool":
        return _("true") if value else _("false")
    return knob.format(value)


def footer_html(command: str) -> str:
    """How the page was made and how its numbers are computed (current language)."""
    esc = html.escape
    text = esc(_("Made by rnnviz ({command}, torch {version}). States come from torch's fused kernels; gradients "
                 "from an exact backward sweep through time in float64, kept as mantissa and exponent so values far "
                 "beyond float64's range are drawn where they belong. The probe loss is L = v·h with "
                 "v = (1, …, 1)/√H. Everything on this page works offline."), quote=False)
    code = {"command": command, "version": torch.__version__}  # code spans: the same in every language
    return f"<footer>{text.format(**{k: f'<code>{esc(v)}</code>' for k, v in code.items()})}</footer>"


def write_report(preset: Preset | str, out: str | Path, scale: float = 1.0, lang: str | None = None) -> Path:
    """Write `build_report(preset, lang=lang)` to `out` (UTF-8) and return the path."""
    path = Path(out)
    path.write_text(build_report(preset, scale=scale, lang=lang), encoding="utf-8")
    return path
