"""rnnviz: see inside recurrent networks one time step at a time.

spec -> model -> trace -> figure -> page. Everything here runs without Streamlit
(except `rnnviz.ui`).
"""
import os as _os

import torch as _torch

# One intra-op thread: the models are small, several sessions share the cores, and torch's
# OpenMP pool spinning next to numpy's BLAS pool made a trace 3x slower on two cores.
_torch.set_num_threads(int(_os.environ.get("RNNVIZ_TORCH_THREADS", "1")))

from . import dynamics, inputs, tasks  # noqa: E402
from .model import RecurrentModel, build_model, from_torch  # noqa: E402
from .spec import KNOBS, ModelSpec  # noqa: E402
from .trace import Trace, trace, warm_up  # noqa: E402
from .train import FitResult, StepInfo, StopTraining, fit  # noqa: E402

__all__ = ["KNOBS", "FitResult", "ModelSpec", "RecurrentModel", "StepInfo", "StopTraining", "Trace", "build_model",
           "dynamics", "fit", "from_torch", "inputs", "tasks", "trace", "warm_up"]
