"""An offline lesson: one HTML file with a preset's main figure and its main slider, for a course
site or an LMS, however many students open it. No server and no network: every position of the
slider is precomputed (Plotly frames) and plotly.js is inside the file.

    python -m rnnviz lesson --preset vanishing --out lesson.html [--lang zh]

plotly.js alone is 4.8 MB; it is stored gzip-compressed (base64) and unpacked by the browser's own
DecompressionStream when the page opens, so that a lesson stays near 2 MB.
"""
from __future__ import annotations

import base64
import functools
import gzip
import html
import json
from pathlib import Path

import plotly.graph_objects as go
import plotly.offline

from .. import i18n, plots
from ..cells import CELLS, LABELS
from ..i18n import _
from ..spec import KNOBS
from .lessons import Preset, get_preset
from .report import FIGURE_CONFIG, command_line, footer_html, in_language, page_head, settings_html, with_fonts

MAX_BYTES = 5_000_000  # what a course site or an LMS takes without complaint


def main_knob(preset: Preset) -> str:
    """The knob a preset is about: the one its comparison varies (the recurrent gain if it has none)."""
    changed = {name for _, changes in preset.compare for name in changes}
    return changed.pop() if len(changed) == 1 else "recurrent_gain"


def lesson_figure(preset: Preset, scale: float = 1.0) -> go.Figure:
    """The gradient's reach for an RNN, an LSTM and a GRU at the preset's settings, with a slider over
    every value of the preset's main knob (its grid and the preset's own value), in the current language."""
    knob = main_knob(preset)
    label = _(KNOBS[knob].label)
    active = preset.values()[knob]
    figures = {}
    for value in sorted({*KNOBS[knob].grid(), active}):
        traces = preset.scenario(**{knob: value}).traces(CELLS)
        figures[value] = plots.gradient_vs_lag(
            {LABELS[c]: tr for c, tr in traces.items()}, scale=scale, height=480, horizon_fraction=1e-3,
            title=_("How much of the loss at the last step reaches each earlier step ({knob} {value:g})").format(
                knob=lowercase(label), value=value))
    return plots.with_slider(figures, active, label=label, scale=scale)


def lowercase(label: str) -> str:
    """A knob's label inside a sentence: "recurrent gain" (a name such as "Bias b" or "RNN" keeps its capitals)."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


@functools.cache
def _plotly_gzip_base64() -> str:
    return base64.b64encode(gzip.compress(plotly.offline.get_plotlyjs().encode(), 9, mtime=0)).decode("ascii")


_LOADER = """
<script>
(async () => {
  const packed = document.getElementById("plotly-gz").textContent.trim();
  const bytes = Uint8Array.from(atob(packed), c => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const code = await new Response(stream).text();
  const script = document.createElement("script");
  script.textContent = code;
  document.head.appendChild(script);
  const figure = JSON.parse(document.getElementById("figure-data").textContent);
  await Plotly.newPlot("figure", {...figure, config: CONFIG});
  document.body.dataset.ready = "true";
})().catch(err => {
  document.getElementById("figure").textContent = FAILED + err;
});
</script>
"""


def build_lesson(preset: Preset | str, scale: float = 1.0, lang: str | None = None) -> str:
    """The complete HTML page (a str) of a preset's lesson, in `lang` ("en", "zh"; None: the current language)."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    with in_language(lang):
        lang = i18n.current()
        fig = with_fonts(lesson_figure(preset, scale=scale), lang)
        esc = html.escape
        knob = _(KNOBS[main_knob(preset)].label)
        figure_json = fig.to_json().replace("</", "<\\/")  # inert inside <script>
        height = int(fig.layout.height or 560)
        drag = esc(_("Drag the {knob}"), quote=False).format(knob=esc(lowercase(knob)))
        look = esc(_("{drag} under the chart. {look_for}"), quote=False).format(drag=f"<b>{drag}</b>",
                                                                               look_for=esc(_(preset.look_for)))
        curves = esc(_("Each curve is ‖∂L/∂h_k‖, the gradient of the loss with respect to the state k steps before "
                       "the last, on a log scale; diamonds mark the memory horizon (where it has fallen below 1/1000 "
                       "of its value at the last step); the LSTM's dashed curve is its cell path ‖∂L/∂c_k‖. Every "
                       "position of the slider was computed in advance by rnnviz."), quote=False)
        return "\n".join([
            *page_head(_(preset.title), lang),
            f'<p class="lede">{esc(_(preset.explanation))}</p>',
            '<section id="lesson">',
            f'<div id="figure" style="height:{height}px"></div>',
            f'<p class="look">{look}</p>',
            f'<p class="numbers">{curves}</p>',
            "</section>",
            settings_html(preset), footer_html(command_line("lesson", preset.name, lang)),
            f'<script type="application/json" id="figure-data">{figure_json}</script>',
            f'<script type="text/plain" id="plotly-gz">{_plotly_gzip_base64()}</script>',
            f"<script>const CONFIG = {json.dumps(FIGURE_CONFIG)}; "
            f"const FAILED = {json.dumps(_('This browser could not open the figure: '))};</script>",
            _LOADER,
            "</main></body></html>",
        ])


def write_lesson(preset: Preset | str, out: str | Path, scale: float = 1.0, lang: str | None = None) -> Path:
    """Write `build_lesson(preset, lang=lang)` to `out` (UTF-8) and return the path; refuses a page over MAX_BYTES."""
    text = build_lesson(preset, scale=scale, lang=lang).encode("utf-8")
    if len(text) > MAX_BYTES:
        raise ValueError(f"the lesson would be {len(text) / 1e6:.1f} MB, over {MAX_BYTES / 1e6:.0f} MB")
    path = Path(out)
    path.write_bytes(text)
    return path
