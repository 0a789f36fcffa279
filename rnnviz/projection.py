"""LSTM projections (torch's proj_size): h_t = W_hr m_t, with m_t = o_t * tanh(c_t) the LSTM's own output.

A projected LSTM is an ordinary LSTM in its unprojected state m_t (H wide): its gates read
W_hh h_{t-1} = (W_hh W_hr) m_{t-1}. rnnviz traces it so:
- the states come from torch's fused kernel (h_t, P wide, is what the next layer and the loss read), the
  pre-activations from [x_t, h_{t-1}] with torch's W_hh [4H, P], the gates and cell states as for any LSTM;
- each layer's Trace holds m_t as its hidden state [T, H], and its weights in m-space: W_hh W_hr [4H, H];
- the gradient sweep runs in m-space: the loss's own terms on the top layer's h become W_hr^T dL/dh, and
  the layer above reads layer l through W_ih^(l+1) blockdiag(W_hr^(l) forwards, W_hr^(l) backwards).
So every gradient, grid and factor of a projected model is at m_t, the LSTM's output before its projection.
"""
from __future__ import annotations

import numpy as np
import torch


def check_projection(cell: str, hidden_size: int, proj_size: int, residual: bool) -> None:
    """ValueError unless proj_size is one torch allows (0, or an LSTM's 0 < P < H without residual connections)."""
    if not proj_size:
        return
    if cell != "lstm":
        raise ValueError(f"only an LSTM has a projection (proj_size); this is {cell!r}")
    if not 0 < proj_size < hidden_size:
        raise ValueError(f"proj_size must be between 1 and hidden_size - 1 = {hidden_size - 1}; got {proj_size}")
    if residual:
        raise ValueError("a projected LSTM has no residual connections in rnnviz (torch has none either)")


def unprojected(gates: dict, c32: np.ndarray, w64: dict, weight_hr: torch.Tensor) -> tuple:
    """m_t = o_t * tanh(c_t) [T, H] float32 (read-only) and the layer's float64 weights in m-space (weight_hh
    the [4H, H] product W_hh W_hr; weight_hr kept)."""
    hr64 = weight_hr.detach().to(torch.float64).cpu().numpy()
    m = (gates["output"].astype(np.float64) * np.tanh(c32.astype(np.float64))).astype(np.float32)
    m.setflags(write=False)
    return m, dict(w64, weight_hh=w64["weight_hh"] @ hr64, weight_hr=hr64)


def to_m_space(v: np.ndarray, ctx: dict) -> np.ndarray:
    """A gradient on a layer's h [T, P] as one on its m: v W_hr [T, H] (v itself without a projection)."""
    hr = ctx["weights"].get("weight_hr")
    return v if hr is None else v @ hr


def input_matrix(w_ih: np.ndarray, below: list) -> np.ndarray:
    """What a layer's pre-activations read of the m of the layer below: W_ih blockdiag(W_hr of each direction
    below) [4H, D*H] (below: the contexts of the layer below, one per direction); W_ih itself when the layer
    below has no projection (or the layer reads the input)."""
    hrs = [ctx["weights"].get("weight_hr") for ctx in below]
    if not below or hrs[0] is None:
        return w_ih
    P = hrs[0].shape[0]
    return np.concatenate([w_ih[:, d * P:(d + 1) * P] @ hr for d, hr in enumerate(hrs)], axis=1)
