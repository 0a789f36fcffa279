"""Recurrences after the LSTM: LRU, minGRU, minLSTM and a small selective state-space model.

All four are *diagonal linear* recurrences: the state is a vector s_t of S numbers and

    s_t = a_t * s_{t-1} + b_t        (elementwise; a_t and b_t depend on the input x_t, never on s)

so the step Jacobian ds_t/ds_{t-1} = diag(a_t) and its eigenvalues are the a_t themselves: fixed for
the LRU, chosen by the input at every step for the others. The equations, as in the papers:

LRU (Orvieto et al. 2023, "Resurrecting Recurrent Neural Networks for Long Sequences"), state x in C^N:
    lambda = exp(-exp(nu_log) + i exp(theta_log))     |lambda| < 1 for every value of the parameters
    x_t = lambda * x_t-1 + gamma * (B x_in_t)          B = B_re + i B_im  [N, I]
    y_t = Re(C x_t) + D x_in_t                         C = C_re + i C_im  [O, N], D real [O, I]
    gamma = exp(gamma_log), initialised to sqrt(1 - |lambda|^2) (the normalisation; `normalize=False`
    fixes gamma = 1 to show what it does: the state's size grows like 1/sqrt(1 - |lambda|^2)).
    Ring initialisation: |lambda|^2 uniform in [r_min^2, r_max^2] (uniform on the ring's area),
    arg lambda uniform in [0, max_phase]. B, C ~ complex normal / sqrt(2 I), / sqrt(N); D ~ N(0, 1) on
    the diagonal (O = I) or N(0, 1/I) (O != I).

minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"), state h in R^H, with the paper's
g(v) = v + 1/2 (v >= 0), sigmoid(v) (v < 0), which keeps the candidate positive (log-space scan):
    minGRU   z = sigmoid(W_z x + b_z)   h~ = g(W_h x + b_h)   h_t = (1 - z) h_t-1 + z h~
    minLSTM  f = sigmoid(W_f x + b_f)   i = sigmoid(W_i x + b_i)   h~ = g(W_h x + b_h)
             f' = f / (f + i)   i' = i / (f + i)            h_t = f' h_t-1 + i' h~

Selective SSM (Gu & Dao 2023, "Mamba", the S6 layer), D channels with N states each (S = D*N, layout
index d*N + n):
    u_t = W_in x_t                        [D]
    Delta_t = softplus(W_dt u_t + b_dt)   [D]   B_t = W_B u_t, C_t = W_C u_t   [N]
    A = -exp(A_log)  [D, N] (S4D-real init A[d, n] = -(n+1))
    A_bar = exp(Delta A)   B_bar = (Delta A)^-1 (exp(Delta A) - 1) Delta B   (zero-order hold, eq. 4)
            (`discretization="euler"`: B_bar = Delta B, as in the reference code)
    h_t[d, n] = A_bar[d, n] h_t-1[d, n] + B_bar[d, n] u_t[d]    y_t[d] = sum_n C_t[n] h_t[d, n] + D[d] u_t[d]
    Init as Mamba's: Delta's bias so that softplus(bias) is log-uniform in [dt_min, dt_max], D = 1.
    Simplified: W_dt is a full D x D matrix (Mamba: low rank, then broadcast), and the block around
    the layer (input convolution, SiLU, output gate) is left out.

Negative eigenvalues (Grazzi et al. 2024, "Unlocking State-Tracking in Linear RNNs Through Negative
Eigenvalues"), `negative=True` for the input-dependent cells: the transition in [0, 1] becomes
2 a - 1 in [-1, 1] (minGRU 1 - 2z, minLSTM 2f' - 1, S6 2 exp(Delta A) - 1, as in the authors' Mamba
code); the input term b_t is unchanged. The LRU's eigenvalues already cover the disc.

Each cell is a torch module: `forward(x, h0=None, mode="scan")` maps x [T, I] or [B, T, I] to
(y [.., T, O], s_T [.., S]) with `mode` "scan" (rnnviz.scan.linear_scan), "loop" (one step at a time)
or, for minGRU/minLSTM without negative eigenvalues, "log" (the papers' log-space scan). `diagonal(x)`
gives the same recurrence in float64 numpy with every transition as log|a_t| and a unit factor, the
form `rnnviz.modern_trace` needs to stay exact beyond float range.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import scan
from .cells import MODERN_CELLS
from .spec import KNOBS

CELLS = MODERN_CELLS
MODES = ("scan", "loop", "log")
# Which knobs of rnnviz.spec.KNOBS (group "modern") each cell reads.
CELL_KNOBS = {"lru": ("r_min", "r_max", "max_phase", "normalize"), "mingru": ("negative",),
              "minlstm": ("negative",), "s6": ("negative", "d_state", "discretization")}


# ----- tail-exact float64 functions of pre-activations (numpy) -----------------------------------------
def softplus(v):
    """log(1 + e^v) without overflow, exact in both tails (e^v for v << 0, v for v >> 0)."""
    v = np.asarray(v, dtype=np.float64)
    return np.maximum(v, 0.0) + np.log1p(np.exp(-np.abs(v)))


def sigmoid(v):
    """1 / (1 + e^-v) from e^-|v|: 1 - sigmoid(v) = sigmoid(-v) keeps full relative precision."""
    v = np.asarray(v, dtype=np.float64)
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def g(v):
    """Feng et al.'s g: v + 1/2 for v >= 0, sigmoid(v) below (positive, continuous)."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(v >= 0, v + 0.5, sigmoid(v))


def log_abs_tanh(v):
    """log|tanh(v)|: tanh itself near 0, log1p(-2 sigmoid(-2|v|)) where tanh is close to 1."""
    t = np.abs(np.asarray(v, dtype=np.float64))
    with np.errstate(divide="ignore"):
        return np.where(t < 0.5, np.log(np.tanh(t)), np.log1p(-2.0 * sigmoid(-2.0 * t)))


def _softplus_difference(p, q):
    """softplus(p) - softplus(q) without cancelling large equal parts (both large: p - q + small terms)."""
    both = (p > 0) & (q > 0)
    tails = np.log1p(np.exp(-np.abs(p))) - np.log1p(np.exp(-np.abs(q)))
    return np.where(both, (p - q) + tails, softplus(p) - softplus(q))


def _negative(k):
    """2a - 1 for a = sigmoid(-k), i.e. -tanh(k/2), as (log|.|, sign)."""
    return log_abs_tanh(k / 2.0), -np.sign(k)


# ----- the float64 description a trace needs ---------------------------------------------------------
@dataclass
class Diagonal:
    """s_t = a_t s_t-1 + b_t on one sequence, float64. a_t = exp(log_abs) * unit, kept apart so that
    |a_t| far below float64's range stays exact. Rows of log_abs / unit: T, or 1 for a fixed transition."""

    log_abs: np.ndarray                  # [T or 1, S] natural log of |a_t| (-inf where a_t = 0)
    unit: np.ndarray                     # [T or 1, S] +-1 (real cells) or e^{i theta} (LRU)
    drive: np.ndarray                    # [T, S] b_t (complex for the LRU)
    pre: dict = field(default_factory=dict)      # pre-activations, [T, width] float64
    gates: dict = field(default_factory=dict)    # gate values in [0, 1], [T, width]
    extras: dict = field(default_factory=dict)   # other per-step values (candidate, Delta, B_t, C_t)
    output: object = None                # callable: states [T, S] -> outputs y [T, O]

    @property
    def transition(self) -> np.ndarray:
        """a_t as numbers (0 where |a_t| underflows float64)."""
        with np.errstate(under="ignore"):
            return np.exp(self.log_abs) * self.unit


def _linear(layer: nn.Linear, v: np.ndarray) -> np.ndarray:
    w = layer.weight.detach().double().numpy()
    out = v @ w.T
    if layer.bias is not None:
        out += layer.bias.detach().double().numpy()
    return out


def _uniform_(gen: torch.Generator, *tensors_and_bounds):
    with torch.no_grad():
        for t, k in tensors_and_bounds:
            t.copy_((torch.rand(t.shape, generator=gen, dtype=torch.float64) * 2 - 1) * k)


def _linear_layer(i: int, o: int, gen: torch.Generator, bias: bool = True) -> nn.Linear:
    """nn.Linear with torch's default U(-1/sqrt(i), 1/sqrt(i)) init, drawn from `gen`."""
    layer = nn.utils.skip_init(nn.Linear, i, o, bias=bias)
    k = 1.0 / math.sqrt(i)
    _uniform_(gen, (layer.weight, k), *(((layer.bias, k),) if bias else ()))
    return layer


class ModernCell(nn.Module):
    """What every cell here has: sizes, the torch forward in three modes, the float64 `diagonal`."""

    cell = ""
    negative = False
    mode = "scan"   # forward's default: set it to "loop" (or "log") to train with another form

    def __init__(self, input_size: int, state_size: int, output_size: int):
        super().__init__()
        self.input_size, self.state_size, self.output_size = int(input_size), int(state_size), int(output_size)

    @property
    def hidden_size(self) -> int:
        """Width of forward's output (what a readout sees)."""
        return self.output_size

    @property
    def modes(self) -> tuple:
        return ("scan", "loop")

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None, mode: str | None = None):
        mode = self.mode if mode is None else mode
        if mode not in self.modes:
            raise ValueError(f"mode must be one of {', '.join(self.modes)} for {self.cell}; got {mode!r}")
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(0)
        if mode == "log":
            log_a, log_b = self._log_coefficients(x)
            s = scan.log_scan(log_a, log_b, None if h0 is None else torch.log(h0.to(log_b)).expand_as(log_b[:, 0]))
        else:
            a, b, parts = self._coefficients(x)
            s = (scan.linear_scan if mode == "scan" else scan.linear_loop)(a, b, h0)
        y = self._output(s, x) if mode == "log" else self._output(s, x, parts)
        if unbatched:
            return y[0], s[0, -1]
        return y, s[:, -1]

    def _coefficients(self, x):
        """(a, b, parts): a and b [B, T, S], and what _output needs besides the states."""
        raise NotImplementedError

    def _output(self, s, x, parts=None):
        return s

    def diagonal(self, x: np.ndarray) -> Diagonal:
        """The recurrence on one sequence x [T, I] in float64 (see Diagonal)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        neg = ", negative=True" if self.negative else ""
        return f"input_size={self.input_size}, state_size={self.state_size}, output_size={self.output_size}{neg}"


# ----- LRU ---------------------------------------------------------------------------------------------
class LRU(ModernCell):
    cell = "lru"

    def __init__(self, input_size: int, state_size: int, output_size: int | None = None, *, r_min: float = 0.9,
                 r_max: float = 0.999, max_phase: float = 2 * math.pi, normalize: bool = True, seed: int = 0):
        output_size = input_size if output_size is None else output_size
        super().__init__(input_size, state_size, output_size)
        if not 0.0 <= r_min <= r_max < 1.0:
            raise ValueError(f"the LRU needs 0 <= r_min <= r_max < 1; got r_min={r_min}, r_max={r_max}")
        self.r_min, self.r_max, self.max_phase, self.normalize = float(r_min), float(r_max), float(max_phase), normalize
        N, I, O = self.state_size, self.input_size, self.output_size
        gen = torch.Generator().manual_seed(int(seed))
        u1 = torch.rand(N, generator=gen, dtype=torch.float64)
        u2 = torch.rand(N, generator=gen, dtype=torch.float64)
        # |lambda|^2 = u1 (r_max^2 - r_min^2) + r_min^2, and -log|lambda| = exp(nu_log)
        nu = -0.5 * torch.log(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2)
        with torch.no_grad():
            self.nu_log = nn.Parameter(torch.log(nu).float())
            self.theta_log = nn.Parameter(torch.log(max_phase * u2).float())
            self.B_re = nn.Parameter((torch.randn(N, I, generator=gen, dtype=torch.float64) / math.sqrt(2 * I)).float())
            self.B_im = nn.Parameter((torch.randn(N, I, generator=gen, dtype=torch.float64) / math.sqrt(2 * I)).float())
            self.C_re = nn.Parameter((torch.randn(O, N, generator=gen, dtype=torch.float64) / math.sqrt(N)).float())
            self.C_im = nn.Parameter((torch.randn(O, N, generator=gen, dtype=torch.float64) / math.sqrt(N)).float())
            d = torch.randn(O, generator=gen, dtype=torch.float64)
            D = torch.diag(d) if O == I else torch.randn(O, I, generator=gen, dtype=torch.float64) / math.sqrt(I)
            self.D = nn.Parameter(D.float())
            # gamma = sqrt(1 - |lambda|^2) = sqrt(-expm1(-2 exp(nu_log))): exact also for |lambda| -> 1
            gamma_log = 0.5 * torch.log(-torch.expm1(-2.0 * torch.exp(self.nu_log.double())))
        if normalize:
            self.gamma_log = nn.Parameter(gamma_log.float())
        else:
            self.register_buffer("gamma_log", torch.zeros(N))

    def _coefficients(self, x):
        lam = torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))
        B = torch.complex(self.B_re, self.B_im) * torch.exp(self.gamma_log)[:, None]
        b = torch.complex(x, torch.zeros_like(x)) @ B.T
        return lam.expand_as(b), b, None

    def _output(self, s, x, parts=None):
        C = torch.complex(self.C_re, self.C_im)
        return (s @ C.T).real + x @ self.D.T

    def diagonal(self, x):
        nu = np.exp(self.nu_log.detach().double().numpy())
        theta = np.exp(self.theta_log.detach().double().numpy())
        gamma = np.exp(self.gamma_log.detach().double().numpy())
        B = self.B_re.detach().double().numpy() + 1j * self.B_im.detach().double().numpy()
        C = self.C_re.detach().double().numpy() + 1j * self.C_im.detach().double().numpy()
        D = self.D.detach().double().numpy()
        return Diagonal(log_abs=-nu[None], unit=np.exp(1j * theta)[None], drive=(x @ B.T) * gamma,
                        output=lambda s: (s @ C.T).real + x @ D.T)

    @property
    def eigenvalues(self) -> np.ndarray:
        d = self.diagonal(np.zeros((1, self.input_size)))
        return d.transition[0]


# ----- minGRU and minLSTM -------------------------------------------------------------------------------
def _g_torch(v):
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def _log_g_torch(v):
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


class _MinimalGated(ModernCell):
    """minGRU and minLSTM are one recurrence with a different write-gate logit k:
    h_t = sigmoid(-k) h_t-1 + sigmoid(k) g(W_h x + b_h)   (minGRU: k = W_z x + b_z, so z = sigmoid(k);
    minLSTM: k = log(i / f), so f' = sigmoid(-k), i' = sigmoid(k)). Negative: sigmoid(-k) -> -tanh(k/2)."""

    gate_layers: tuple = ()

    def __init__(self, input_size: int, hidden_size: int, *, negative: bool = False, seed: int = 0):
        super().__init__(input_size, hidden_size, hidden_size)
        self.negative = bool(negative)
        gen = torch.Generator().manual_seed(int(seed))
        for name in self.gate_layers + ("h",):
            setattr(self, f"linear_{name}", _linear_layer(input_size, hidden_size, gen))

    @property
    def modes(self):
        return ("scan", "loop") if self.negative else MODES

    def _logit(self, x):
        raise NotImplementedError

    def _gates64(self, x) -> tuple:
        """(k, pre, gates, extras) in float64 numpy."""
        raise NotImplementedError

    def _coefficients(self, x):
        k = self._logit(x)
        a = -torch.tanh(k / 2) if self.negative else torch.sigmoid(-k)
        return a, torch.sigmoid(k) * _g_torch(self.linear_h(x)), None

    def _log_coefficients(self, x):
        k = self._logit(x)
        return -F.softplus(k), -F.softplus(-k) + _log_g_torch(self.linear_h(x))

    def diagonal(self, x):
        k, pre, gates, extras = self._gates64(x)
        kh = _linear(self.linear_h, x)
        cand = g(kh)
        log_abs, unit = _negative(k) if self.negative else (-softplus(k), np.ones_like(k))
        return Diagonal(log_abs=log_abs, unit=unit, drive=sigmoid(k) * cand, pre={**pre, "candidate": kh},
                        gates=gates, extras={"candidate": cand, **extras})


class MinGRU(_MinimalGated):
    cell = "mingru"
    gate_layers = ("z",)

    def _logit(self, x):
        return self.linear_z(x)

    def _gates64(self, x):
        k = _linear(self.linear_z, x)
        return k, {"update": k}, {"update": sigmoid(k)}, {}


class MinLSTM(_MinimalGated):
    cell = "minlstm"
    gate_layers = ("f", "i")

    def _logit(self, x):
        """log(i / f) = softplus(-k_f) - softplus(-k_i): f' = sigmoid(-it), i' = sigmoid(it)."""
        return F.softplus(-self.linear_f(x)) - F.softplus(-self.linear_i(x))

    def _gates64(self, x):
        kf, ki = _linear(self.linear_f, x), _linear(self.linear_i, x)
        k = _softplus_difference(-kf, -ki)
        return (k, {"forget": kf, "input": ki}, {"forget": sigmoid(-k), "input": sigmoid(k)},
                {"forget_raw": sigmoid(kf), "input_raw": sigmoid(ki)})


# ----- selective SSM (S6) ------------------------------------------------------------------------------
class SelectiveSSM(ModernCell):
    cell = "s6"

    def __init__(self, input_size: int, channels: int, d_state: int = 4, *, negative: bool = False,
                 discretization: str = "zoh", dt_min: float = 1e-3, dt_max: float = 0.1, seed: int = 0):
        super().__init__(input_size, channels * d_state, channels)
        if discretization not in ("zoh", "euler"):
            raise ValueError(f"discretization must be 'zoh' or 'euler'; got {discretization!r}")
        self.channels, self.d_state = int(channels), int(d_state)
        self.negative, self.discretization = bool(negative), discretization
        D, N = self.channels, self.d_state
        gen = torch.Generator().manual_seed(int(seed))
        self.in_proj = _linear_layer(input_size, D, gen)
        self.dt_proj = _linear_layer(D, D, gen)
        self.B_proj = _linear_layer(D, N, gen, bias=False)
        self.C_proj = _linear_layer(D, N, gen, bias=False)
        dt = torch.exp(torch.rand(D, generator=gen, dtype=torch.float64) * (math.log(dt_max) - math.log(dt_min))
                       + math.log(dt_min)).clamp(min=1e-4)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))   # softplus(bias) = dt
            self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(D, 1))
            self.D = nn.Parameter(torch.ones(D))

    def _parts(self, x):
        u = self.in_proj(x)
        delta = F.softplus(self.dt_proj(u))                       # [B, T, D]
        w = delta[..., None] * torch.exp(self.A_log)               # -Delta A >= 0, [B, T, D, N]
        return u, delta, w, self.B_proj(u), self.C_proj(u)

    def _coefficients(self, x):
        u, delta, w, B, C = self._parts(x)
        a = torch.exp(-w)
        if self.negative:
            a = 2 * a - 1
        scale = -torch.expm1(-w) / torch.exp(self.A_log) if self.discretization == "zoh" else delta[..., None]
        b = scale * B[..., None, :] * u[..., None]
        return a.flatten(-2), b.flatten(-2), (u, C)

    def _output(self, s, x, parts=None):
        u, C = parts
        h = s.unflatten(-1, (self.channels, self.d_state))
        return (h * C[..., None, :]).sum(-1) + self.D * u

    def diagonal(self, x):
        D, N = self.channels, self.d_state
        u = _linear(self.in_proj, x)
        s_dt = _linear(self.dt_proj, u)
        delta = softplus(s_dt)
        A_mag = np.exp(self.A_log.detach().double().numpy())      # -A
        w = delta[:, :, None] * A_mag[None]                        # -Delta A, [T, D, N]
        if self.negative:   # 2 e^-w - 1 = 1 + 2 expm1(-w) (> 0 for w < ln 2), = -(1 - 2 e^-w) beyond
            with np.errstate(divide="ignore", invalid="ignore"):
                pos = np.log1p(2.0 * np.expm1(-w))
                neg = np.log1p(-2.0 * np.exp(-w))
            log_abs = np.where(w < math.log(2.0), pos, neg)
            unit = np.sign(math.log(2.0) - w)
        else:
            log_abs, unit = -w, np.ones_like(w)
        B, C = _linear(self.B_proj, u), _linear(self.C_proj, u)
        scale = -np.expm1(-w) / A_mag[None] if self.discretization == "zoh" else np.repeat(delta[:, :, None], N, 2)
        drive = scale * B[:, None, :] * u[:, :, None]
        Dskip = self.D.detach().double().numpy()
        T = x.shape[0]
        return Diagonal(log_abs=log_abs.reshape(T, D * N), unit=unit.reshape(T, D * N),
                        drive=drive.reshape(T, D * N), pre={"delta": s_dt},
                        extras={"delta": delta, "B": B, "C": C, "u": u},
                        output=lambda s: (s.reshape(T, D, N) * C[:, None, :]).sum(-1) + Dskip * u)


# ----- building ----------------------------------------------------------------------------------------
def build(cell: str, input_size: int, hidden_size: int, seed: int = 0, **knobs) -> ModernCell:
    """A cell from knob values (see KNOBS): hidden_size is N for the LRU (output size = input size unless
    `output_size` is given), H for minGRU/minLSTM, the channels D for the selective SSM."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {cell!r}")
    unknown = set(knobs) - set(CELL_KNOBS[cell]) - ({"output_size"} if cell == "lru" else set())
    if unknown:
        raise ValueError(f"unknown knob(s) for {cell}: {', '.join(sorted(unknown))}; it reads "
                         f"{', '.join(CELL_KNOBS[cell])}")
    # Radii: any number in [0, 1) (the LRU checks them); KNOBS offers a grid of them to links and sliders.
    v = {name: float(value) if name in ("r_min", "r_max") else KNOBS[name].validate(value)
         for name, value in knobs.items() if name in KNOBS}
    if cell == "lru":
        return LRU(input_size, hidden_size, knobs.get("output_size"), r_min=v.get("r_min", 0.9),
                   r_max=v.get("r_max", 0.999), max_phase=v.get("max_phase", 2 * math.pi),
                   normalize=v.get("normalize", "on") == "on", seed=seed)
    negative = v.get("negative", "positive") == "negative"
    if cell == "mingru":
        return MinGRU(input_size, hidden_size, negative=negative, seed=seed)
    if cell == "minlstm":
        return MinLSTM(input_size, hidden_size, negative=negative, seed=seed)
    return SelectiveSSM(input_size, hidden_size, v.get("d_state", 4), negative=negative,
                        discretization=v.get("discretization", "zoh"), seed=seed)


class ModernNet(nn.Module):
    """Cells stacked as in the LRU and minGRU papers' models, for training: a linear encoder to `width`,
    then `layers` residual blocks  u <- u + GLU(W GELU(cell(LayerNorm(u)))),  output u [.., T, width].

    A single LRU is a linear filter of its input, so alone it cannot compute a product such as the
    adding problem's value x marker; the blocks' position-wise nonlinearity between recurrences can.
    """

    def __init__(self, cell: str, input_size: int, width: int, layers: int = 2, seed: int = 0, **knobs):
        super().__init__()
        self.cell = f"{cell}_net"
        self.input_size, self.hidden_size, self.layers = int(input_size), int(width), int(layers)
        gen = torch.Generator().manual_seed(int(seed))
        self.encoder = _linear_layer(input_size, width, gen)
        extra = {"output_size": width} if cell == "lru" else {}
        self.cells = nn.ModuleList(build(cell, width, width, seed=seed + 1 + k, **extra, **knobs)
                                   for k in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(layers))
        self.mixers = nn.ModuleList(_linear_layer(self.cells[k].output_size, 2 * width, gen) for k in range(layers))

    def forward(self, x: torch.Tensor, h0=None, mode: str | None = None):
        u = self.encoder(x)
        for cell, norm, mixer in zip(self.cells, self.norms, self.mixers):
            y, _ = cell(norm(u), mode=mode)
            u = u + F.glu(mixer(F.gelu(y)), dim=-1)
        return u, None
