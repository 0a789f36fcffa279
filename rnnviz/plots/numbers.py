"""Numbers as text for figures, captions and equations: 2.51 × 10⁻⁴⁷, 10⁻³⁰, LaTeX, percentages,
and user text made safe for Plotly's labels.
"""
from __future__ import annotations

import math

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_label(n: int) -> str:
    """10 to the n, as text with superscripts: 10⁻³⁰."""
    return "10" + str(int(n)).translate(_SUPERSCRIPT) if n not in (0, 1) else ("1" if n == 0 else "10")


def sci(log10_value: float, digits: int = 3) -> str:
    """A number given by its log10 as readable text: 0.0123, or 2.51 × 10⁻⁴⁷ (also beyond float64)."""
    if not math.isfinite(log10_value):
        return "0" if log10_value == -math.inf else ("∞" if log10_value == math.inf else "undefined")
    if -3 <= log10_value < 4:
        return f"{10 ** log10_value:.{digits}g}"
    e = math.floor(log10_value)
    m = 10 ** (log10_value - e)
    if round(m, 2) >= 10:
        m, e = m / 10, e + 1
    return f"{m:.2f} × {power_label(e)}"


def tex_number(value: float, sign: bool = False) -> str:
    """A number for a LaTeX equation: 0.123, 4.29 \\times 10^{37} when large or 4.50 \\times 10^{-5} when
    small (never 0.000 for a value that is not zero), \\infty beyond float
    range and "overflow" when undefined (∞ − ∞ after a state overflowed). `sign` writes "+" too."""
    v = float(value)
    plus = "+" if sign else ""
    if math.isnan(v):
        return (plus + " " if sign else "") + r"\text{overflow}"
    if math.isinf(v):
        return ("-" if v < 0 else plus) + r"\infty"
    if v == 0 or 1e-3 <= abs(v) < 1e4:
        return f"{v:+.3f}" if sign else f"{v:.3f}"
    e = math.floor(math.log10(abs(v)))
    m = abs(v) / 10 ** e
    if round(m, 2) >= 10:
        m, e = m / 10, e + 1
    return f"{'-' if v < 0 else plus}{m:.2f}\\times 10^{{{e}}}"

def plain(text: str) -> str:
    """User text for a Plotly title, label or hover text: Plotly reads a subset of HTML there (<b>,
    <a href=...>), so the text is escaped and shows as typed."""
    import html

    return html.escape(str(text), quote=False)


def percent(p: float) -> str:
    """A probability in percent: one decimal, or two significant digits below 0.1% (0.03%, not 0.0%)."""
    return f"{p:.1%}" if p >= 1e-3 or p == 0 else f"{100 * p:.2g}%"
