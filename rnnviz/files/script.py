"""A short script, PyTorch only, that recomputes what rnnviz shows for a scenario or a model.

    reproduce_script(spec, seq_len, input_kind, loss)            -> str (runs with PyTorch alone)

Weights are rebuilt from the spec's seed (readable lines that draw what build_model draws) or embedded;
the input is rebuilt the way rnnviz.inputs makes it, or embedded.
"""
from __future__ import annotations

import base64
import io
import textwrap

import numpy as np
import torch

from .. import inputs as inputs_mod
from ..model import PARAM_NAMES, RecurrentModel, build_model
from ..spec import ModelSpec, Scenario, to_query


def reproduce_script(spec: Scenario | ModelSpec | None = None, seq_len: int | None = None,
                     input_kind: str = "impulse", loss: str = "last", *, text: str = inputs_mod.DEFAULT_TEXT,
                     model: RecurrentModel | None = None, x: np.ndarray | None = None, show: int = 25) -> str:
    """A short script, PyTorch only, that recomputes what rnnviz shows for these settings (a Scenario,
    or a spec and the view settings).

    Weights: rebuilt from `spec` (its seed and initialisation, a few readable lines) or, when
    `model` is given (uploaded or trained weights), embedded as a base64 blob. Input: the named
    `input_kind` of length `seq_len` (from the spec's seed), or `x` embedded. The script runs
    torch's fused module (float32, the states rnnviz shows) and then autograd through an
    explicit step-by-step float64 loop, pinned to those states, for ||dL/dh_k|| with the probe
    loss L = v.h (v = ones/sqrt(H)) on the last step or on all steps. It prints the final hidden
    state and, at `show` evenly spaced steps, ||h_k|| and ||dL/dh_k|| (LSTM: also ||dL/dc_k||).
    """
    if isinstance(spec, Scenario):
        spec, seq_len, input_kind, loss, text = spec.spec, spec.seq_len, spec.input_kind, spec.loss, spec.text
    if loss not in ("last", "all"):
        raise ValueError(f"loss must be 'last' or 'all'; got {loss!r}")
    if model is None and spec is None:
        raise ValueError("reproduce_script needs a spec or a model")
    source = model if model is not None else build_model(spec)
    cell, act, I, H = source.cell, source.activation, source.input_size, source.hidden_size
    if x is None:
        if seq_len is None:
            raise ValueError("reproduce_script needs seq_len (or x)")
        seed = spec.seed if spec is not None else 0
        x_code = _input_code(input_kind, int(seq_len), I, seed, text)
        what_input = f"{inputs_mod.KNOBS['input_kind'].label_of(input_kind)}, T = {seq_len}"
    else:
        x = np.asarray(x, dtype=np.float32)
        x_code = "x = load(X_BLOB)  # your input, [T, I] float32\n"
        what_input = f"your input, T = {x.shape[0]}"
    if model is None:
        w_code = _weights_code(spec)
        what_model = ", ".join(f"{k}={v}" for k, v in spec.to_dict().items())
    else:
        w_code = "W = load(W_BLOB)  # the model's float32 weights in torch's layout\n"
        what_model = f"{cell}, input_size={I}, hidden_size={H}" + (f", activation={act}" if cell == "rnn" else "")
    blobs = ""
    if model is not None:
        blobs += _blob("W_BLOB", {n: getattr(model, n).detach().float() for n in PARAM_NAMES})
    if x is not None:
        blobs += _blob("X_BLOB", torch.from_numpy(np.ascontiguousarray(x)))
    link = to_query({**(spec.to_dict() if spec is not None and model is None else {}),
                     **({"seq_len": seq_len, "input_kind": input_kind} if x is None else {}), "loss": loss})
    header = _HEADER.format(model=what_model, input=what_input, loss=loss,
                            link="&".join(f"{k}={v}" for k, v in link.items()) or "(defaults)",
                            torch=torch.__version__.split("+")[0])
    constants = _CONSTANTS.format(cell=cell, act=act, I=I, H=H, loss=loss)
    body = _BODY.format(show=int(show), module=_MODULE[cell].format(act=act))
    loader = _LOADER + blobs + "\n" if blobs else ""
    return header + constants + loader + w_code + x_code + "\n\n" + body


def _blob(name: str, obj) -> str:
    buf = io.BytesIO()
    torch.save(obj, buf)
    lines = textwrap.wrap(base64.b64encode(buf.getvalue()).decode("ascii"), 100)
    return f'{name} = """\n' + "\n".join(lines) + '\n"""\n'


_HEADER = '''"""Recompute what rnnviz shows, with PyTorch alone.

Model: {model}
Input: {input}; loss on the {loss} step(s)
rnnviz settings: {link}
Made with torch {torch}: the same version draws the same random numbers.
"""
import base64
import io
import math

import torch

'''

_LOADER = '''

def load(blob):
    return torch.load(io.BytesIO(base64.b64decode(blob)), weights_only=True)


'''

_MODULE = {
    "rnn": "torch.nn.RNN(I, H, nonlinearity={act!r})",
    "lstm": "torch.nn.LSTM(I, H)",
    "gru": "torch.nn.GRU(I, H)",
}

_CONSTANTS = "CELL, ACTIVATION, I, H, LOSS = {cell!r}, {act!r}, {I}, {H}, {loss!r}\n"

_BODY = '''T = x.shape[0]


def step(x_t, h, c, W):
    """One step of the cell, exactly as torch.nn.RNN / LSTM / GRU compute it (gate rows i,f,g,o / r,z,n)."""
    gi = W["weight_ih"] @ x_t + W["bias_ih"]
    gh = W["weight_hh"] @ h + W["bias_hh"]
    if CELL == "lstm":
        i, f, g, o = (gi + gh).chunk(4)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    if CELL == "gru":
        (ir, iz, i_n), (hr, hz, hn) = gi.chunk(3), gh.chunk(3)
        r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
        return (1 - z) * torch.tanh(i_n + r * hn) + z * h, c
    act = {{"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "linear": lambda a: a}}[ACTIVATION]
    return act(gi + gh), c


# 1. The states, from torch's fused module in float32 (the numbers rnnviz shows).
pinned = CELL != "rnn" or ACTIVATION in ("tanh", "relu")  # torch has no sigmoid / linear RNN
if pinned:
    module = {module}
    module.load_state_dict({{name + "_l0": w for name, w in W.items()}})
    with torch.no_grad():
        states = module(x)[0]  # [T, H]
    pinned = bool(torch.isfinite(states).all())  # an overflowed float32 forward: use float64 below

# 2. The gradient: autograd through an explicit float64 loop. Each step is evaluated at the float32
#    states above (in a chaotic network float32 and float64 trajectories part ways).
W64 = {{name: w.double() for name, w in W.items()}}
x64 = x.double()
h = torch.zeros(H, dtype=torch.float64, requires_grad=True)  # h_0 = 0 (and c_0 = 0)
c = torch.zeros(H, dtype=torch.float64, requires_grad=True)
hs, cs = [], []
for t in range(T):
    h_new, c = step(x64[t], h, c, W64)
    if pinned:
        h_new = h_new + (states[t].double() - h_new).detach()  # value: torch's; gradient: this step's
    h_new.retain_grad()
    if CELL == "lstm":
        c.retain_grad()
    hs.append(h_new)
    cs.append(c)
    h = h_new
if not pinned:
    states = torch.stack(hs).detach()
v = torch.ones(H, dtype=torch.float64) / math.sqrt(H)  # the probe loss L = v . h
L = hs[-1] @ v if LOSS == "last" else sum(h_k @ v for h_k in hs)
L.backward()

print("final hidden state h_{{T-1}} (first 8 units):", " ".join(f"{{u:.7g}}" for u in states[-1, :8].tolist()))
print(f"{{'k':>6}} {{'||h_k||':>14}} {{'||dL/dh_k||':>14}}" + (f" {{'||dL/dc_k||':>14}}" if CELL == "lstm" else ""))
for k in sorted({{round(j * (T - 1) / max({show} - 1, 1)) for j in range({show})}}):
    row = f"{{k:>6}} {{states[k].double().norm().item():>14.6e}} {{hs[k].grad.norm().item():>14.6e}}"
    print(row + (f" {{cs[k].grad.norm().item():>14.6e}}" if CELL == "lstm" else ""))
'''


def _input_code(kind: str, T: int, I: int, seed: int, text: str) -> str:
    """Lines that build the named input exactly as rnnviz.inputs.make does, as float32 [T, I]."""
    if kind == "impulse":
        return f"x = torch.zeros({T}, {I})\nx[0] = 1.0  # an impulse at t = 0\n"
    if kind == "noise":
        return (f"gen = torch.Generator().manual_seed({seed})\n"
                f"x = torch.randn({T}, {I}, generator=gen, dtype=torch.float64).float()  # Gaussian noise\n")
    if kind == "sine":
        return (f"t = torch.arange({T}, dtype=torch.float64)[:, None]\n"
                f"phase = torch.arange({I}, dtype=torch.float64)[None, :] * (2 * math.pi / {max(I, 1)})\n"
                f"x = torch.sin(2 * math.pi * t / 20.0 + phase).float()  # a sine of period 20 per input\n")
    if kind == "binary":
        return (f"gen = torch.Generator().manual_seed({seed})\n"
                f"x = torch.randint(0, 2, ({T}, 2), generator=gen).float()  # bits of two numbers, LSB first\n")
    if kind == "text":
        if not text:
            raise ValueError("text input needs at least one character")
        return (f"text = {text!r}\n"
                f"vocab = sorted(set(text))\n"
                f"text = (text * -(-{T} // len(text)))[:{T}]  # repeated or cut to T characters\n"
                f"x = torch.zeros({T}, len(vocab))\n"
                f"x[torch.arange({T}), torch.tensor([vocab.index(ch) for ch in text])] = 1.0  # one-hot characters\n")
    raise ValueError(f"input_kind must be one of {', '.join(inputs_mod.INPUT_KINDS)}; got {kind!r}")


_INIT_CODE = {
    "orthogonal": '''def recurrent_block():  # gain x a Haar-random orthogonal matrix
    q, r = torch.linalg.qr(torch.randn(H, H, generator=gen, dtype=torch.float64))
    d = torch.diagonal(r)
    return {gain!r} * (q * torch.sign(d).where(d != 0, torch.ones(())))
''',
    "gaussian": '''def recurrent_block():  # N(0, 1/H) rescaled to spectral radius = gain
    a = torch.randn(H, H, generator=gen, dtype=torch.float64) / math.sqrt(H)
    rho = torch.linalg.eigvals(a).abs().max()
    return {gain!r} * a / rho if rho > 0 else a * 0
''',
    "identity": '''def recurrent_block():  # gain x identity
    return {gain!r} * torch.eye(H, dtype=torch.float64)
''',
    "torch": '''def recurrent_block():  # gain x PyTorch's default U(-1/sqrt(H), 1/sqrt(H))
    k = 1.0 / math.sqrt(H)
    return {gain!r} * (torch.rand(H, H, generator=gen, dtype=torch.float64) * 2 * k - k)
''',
}


def _weights_code(spec: ModelSpec) -> str:
    """Lines that rebuild rnnviz.build_model(spec)'s weights (same generator, same order of draws)."""
    G = {"rnn": 1, "lstm": 4, "gru": 3}[spec.cell]
    lines = [f"G = {G}  # gate blocks: " + {"rnn": "one", "lstm": "i, f, g, o", "gru": "r, z, n"}[spec.cell],
             f"gen = torch.Generator().manual_seed({spec.seed})", "",
             _INIT_CODE[spec.init].format(gain=spec.recurrent_gain),
             "",
             "weight_hh = torch.cat([recurrent_block() for _ in range(G)])  # [G*H, H]"]
    if spec.init == "torch":
        lines += ["k = 1.0 / math.sqrt(H)",
                  f"weight_ih = (torch.rand(G * H, I, generator=gen, dtype=torch.float64) * 2 * k - k) * "
                  f"{spec.input_gain!r}",
                  "bias_ih = torch.rand(G * H, generator=gen, dtype=torch.float64) * 2 * k - k",
                  "bias_hh = torch.rand(G * H, generator=gen, dtype=torch.float64) * 2 * k - k"]
    else:
        lines += [f"weight_ih = torch.randn(G * H, I, generator=gen, dtype=torch.float64) / math.sqrt(I) * "
                  f"{spec.input_gain!r}",
                  "bias_ih = torch.zeros(G * H, dtype=torch.float64)",
                  "bias_hh = torch.zeros(G * H, dtype=torch.float64)"]
    if spec.cell != "rnn":
        gate = "forget" if spec.cell == "lstm" else "update"
        lines += [f"bias_ih[H:2 * H], bias_hh[H:2 * H] = {spec.forget_bias!r}, 0.0  # the {gate} gate's bias"]
    lines += ["W = {name: w.float() for name, w in dict(weight_ih=weight_ih, weight_hh=weight_hh, "
              "bias_ih=bias_ih, bias_hh=bias_hh).items()}  # stored as float32", ""]
    return "\n".join(lines) + "\n"
