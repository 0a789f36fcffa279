"""The models of this session: trained in the Training Lab or uploaded on Your Model, offered by the
explorer pages next to the model their settings build. Each user's own (never in a shared cache):

    st.session_state[TRAINED_KEY] = {label: TrainedModel}

An uploaded model has no task: it reads the sequence uploaded with it (`x`).
"""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ..cells import LABELS
from ..i18n import N_, _
from ..model import RecurrentModel
from ..tasks import get_task
from ..trace import Trace, trace
from .knobs import carried_params, relabel
from .untrusted import say

TRAINED_KEY = "trained_models"
MODEL_SOURCE_KEY = "model_source"
_PICKED = "_model_source_picked"  # the last pick, kept outside the widget's own state
BUILT = N_("Built from the settings")


@dataclass
class TrainedModel:
    """A model trained in the Training Lab, as an explorer page receives it."""

    label: str
    model: RecurrentModel
    task: str | None
    seq_len: int
    settings: dict
    x: object = None  # an uploaded model's own input [T, I]

    @property
    def uploaded(self) -> bool:
        return self.task is None

    @property
    def short(self) -> str:
        """"Trained GRU" or "Your LSTM": a legend label."""
        return (_("Your {cell}") if self.uploaded else _("Trained {cell}")).format(cell=LABELS[self.model.cell])

    def reads(self, seed: int, T: int) -> str:
        """What its trace reads, in words: for a model from Your Model, the sequence given there
        (settings["reads"], a message kept: "the named sequence “sine” of Your Model"), in the page's language."""
        if self.uploaded:
            reads = self.settings.get("reads")
            return _("{sequence} ({T} steps)").format(sequence=say(reads) if reads else _("the sequence given with it"),
                                                      T=T)
        return _("sample {seed} of its task ({T} steps)").format(seed=seed, T=T)

    @property
    def title(self) -> str:
        """"the trained GRU (Adding problem, T=50)", or "your model (mine.pt)" for an upload."""
        if self.task is None:
            return _("your model ({name})").format(name=self.label.split(" · ")[0])
        return _("the trained {name} ({task}, T={T})").format(name=self.label.split(" · ")[0],
                                                                task=_(get_task(self.task).title), T=self.seq_len)


def model_source(container=None) -> TrainedModel | None:
    """On an explorer page: when this session has trained models, a selectbox "Model" offering
    "Built from the settings" or one of them. Returns the trained model picked, or None (use the
    page's own settings). Shows nothing and returns None when nothing has been trained."""
    models = st.session_state.get(TRAINED_KEY) or {}
    if not models:
        return None
    ss = st.session_state
    options = [BUILT, *models]
    if ss.get(MODEL_SOURCE_KEY) not in options:
        ss.pop(MODEL_SOURCE_KEY, None)
    if ss.get(_PICKED) in options and (ss.get("_first_run", True) or MODEL_SOURCE_KEY not in ss):
        # A page switch: the previous page's widget state does not carry to this page's widget
        # (another element), so set it, as check_url does for the knobs.
        ss[MODEL_SOURCE_KEY] = ss[_PICKED]
    c = container if container is not None else st
    relabel(MODEL_SOURCE_KEY)
    picked = c.selectbox(_("Model"), options, key=MODEL_SOURCE_KEY, persist_state="session", format_func=_,
                         help=_("A model trained in the Training Lab in this session, or the untrained one the "
                                "settings below build."))
    ss[_PICKED] = picked
    if picked not in models:
        return None
    return models[picked]


def trace_trained(picked: TrainedModel, seed: int = 0, loss: str | None = None) -> Trace:
    """Trace a trained model on sample `seed` of its own task, or an uploaded one on its sequence.
    Kept for this session (the model is this user's own): reruns reuse it and its Jacobian norms."""
    key = (picked.label, id(picked.model), id(picked.x), seed, loss)
    kept = st.session_state.setdefault("_trained_traces", {})
    if key not in kept:
        if picked.task is None:
            tr = trace(picked.model, picked.x, loss=loss or "last")
        else:
            task = get_task(picked.task)
            x, _target = task.sample(picked.seq_len, seed)
            tr = trace(picked.model, x, loss=loss or task.loss_on)
        while len(kept) >= 4:  # the last few, for switching back and forth
            kept.pop(next(iter(kept)))
        kept[key] = tr
    return kept[key]


def remember_trained(label: str, model: RecurrentModel, task: str | None, seq_len: int, settings: dict,
                     keep: int = 9, x=None) -> None:
    """Add a trained (or, with task None and its input `x`, uploaded) model to this session's list
    (the same label replaces the older one); at most `keep` models are kept, the oldest dropped first."""
    models = st.session_state.setdefault(TRAINED_KEY, {})
    if label in models and models[label].model is model and models[label].x is x:
        return
    models.pop(label, None)
    models[label] = TrainedModel(label, model, task, seq_len, settings, x)
    while len(models) > keep:
        models.pop(next(iter(models)))


def open_trained(label: str, page: str):
    """Switch to an explorer page with the trained model `label` picked (and the shared settings)."""
    st.session_state[MODEL_SOURCE_KEY] = st.session_state[_PICKED] = label
    st.switch_page(page, query_params=carried_params())
