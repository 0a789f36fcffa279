"""rnnviz: see inside recurrent networks one time step at a time.

spec -> model -> trace -> figure -> page. Everything here runs without Streamlit
(except `rnnviz.ui`). Importing rnnviz changes no global state; `configure` does, when asked.
"""
import torch as _torch

from . import dynamics, inputs, tasks
from .model import RecurrentModel, build_model, from_torch
from .spec import KNOBS, ModelSpec
from .trace import Trace, trace, warm_up
from .train import FitResult, StepInfo, StopTraining, fit, stop_message


def configure(threads: int | None = None) -> None:
    """Process-wide settings, for an app or a script that owns its process.

    threads: torch's intra-op threads and the BLAS threads of numpy, scipy and the compiled loops.
    The app uses one per process: the models are small, several sessions share the cores, and
    torch's OpenMP pool spinning next to numpy's BLAS pool made a trace 3x slower on two cores; on
    a busy machine BLAS's own pool made a 512 x 512 eigen-decomposition 8x slower and an SVD of a
    256 x 256 matrix 100x slower. None leaves both choices alone."""
    if threads is not None:
        if int(threads) < 1:
            raise ValueError(f"threads must be at least 1; got {threads!r}")
        _torch.set_num_threads(int(threads))
        from scipy.linalg import lapack  # noqa: F401  (loads scipy's BLAS, which the compiled loops call)
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=int(threads), user_api="blas")


__all__ = ["KNOBS", "FitResult", "ModelSpec", "RecurrentModel", "StepInfo", "StopTraining", "Trace", "build_model",
           "configure", "dynamics", "fit", "from_torch", "inputs", "stop_message", "tasks", "trace", "warm_up"]
