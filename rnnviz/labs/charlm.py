"""A character language model: a text task for `rnnviz.fit`, the trained model, sampling, and how far
back it looks (what its units track: rnnviz.labs.units).

    corpus = corpora.get_corpus("zen")               # or "stdlib", or ("upload", text_from_upload(data))
    task = CharTask(corpus)                          # vocabulary, training / held-out split
    result = rnnviz.fit(ModelSpec(cell="lstm", hidden_size=128), task, seq_len=100, steps=500, lr=3e-3)
    lm = CharLM.from_fit(result)
    lm.sample("Beautiful", 200, temperature=0.8, seed=0).text
    input_gradient(lm, corpus.text[:400], position=399)

Everything is per code point (a Python `str` character): emoji, CJK and combining marks are
characters like any other. The model reads one-hot characters and predicts the next one at every step;
its loss is cross-entropy in nats, shown in bits per character. Files are read by the upload sandbox.
"""
from __future__ import annotations

import copy
import io
import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..cells import NUM_BLOCKS, article_message
from ..files import torchfile
from ..files.intake import CHARLM_FORMAT, CHARLM_VERSION, MAX_MODEL_BYTES
from ..files.quote import describe, dtype_problem, holds, listing
from ..i18n import N_, Message, Untrusted
from ..inputs import MAX_VOCAB, Vocab, one_hot
from ..model import PARAM_NAMES, RecurrentModel
from ..spec import ACTIVATIONS, CELLS, KNOBS, ModelSpec
from ..tasks import CURRENT_INPUT, NOTHING, Baseline, Task
from ..trace import Trace, trace
from .corpora import CORPUS_TITLES, Corpus

LN2 = math.log(2.0)
MAX_SCORE = float(np.finfo(np.float32).max) / 4   # readout scores beyond this make float32 probabilities NaN
CLIP = 1.0                        # gradient clipping (by norm) while training
# What fit records while training a character model: a held-out test set of 16 windows every
# 25 steps; no gradient-reach checkpoints (the page measures the reach over characters instead).
FIT_RECORDS = dict(test_size=16, test_every=25, checkpoints=0)


def unigram_entropy(codes, size: int) -> float:
    """Entropy in nats of the characters' frequencies: the loss of the best model that ignores
    context (it always predicts these frequencies)."""
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=size).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def bigram_entropy(codes, size: int) -> float:
    """Conditional entropy in nats of a character given the one before it, over consecutive pairs:
    the loss of the best model without memory, which still reads the current character and
    predicts the next from how often each character follows it."""
    codes = np.asarray(codes, dtype=np.int64)
    pairs = np.bincount(codes[:-1] * size + codes[1:], minlength=size * size).reshape(size, size).astype(np.float64)
    rows = pairs.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = pairs / rows
        terms = np.where(pairs > 0, pairs * np.log(p), 0.0)
    return float(-terms.sum() / max(pairs.sum(), 1.0))


# ------------------------------------------------------------------------------------ the task
class CharTask(Task):
    """Predict the next character at every step (many-to-many) of a window of the corpus.

    Training batches are windows of the training text at random starts (from fit's generator);
    the test set is `batch_size` windows evenly spaced over the held-out text. A window longer than
    a text allows is shortened to fit (see `check`).
    """

    name = "text"
    title = "Character language model"
    loss_on = "all"
    classification = True
    min_seq_len = 1

    def __init__(self, corpus: Corpus, vocab: Vocab | None = None):
        self.corpus = corpus
        self.vocab = vocab if vocab is not None else Vocab.from_text(corpus.text)
        self.train_codes = torch.from_numpy(self.vocab.encode(corpus.train_text))
        self.held_out_codes = torch.from_numpy(self.vocab.encode(corpus.held_out_text))
        self._entropy = unigram_entropy(self.train_codes.numpy(), len(self.vocab))
        self._bigram = bigram_entropy(self.train_codes.numpy(), len(self.vocab))

    @property
    def input_size(self):
        return len(self.vocab)

    @property
    def output_size(self):
        return len(self.vocab)

    @property
    def description(self):
        return (f"Read {self.corpus.title} one character at a time (one-hot over {len(self.vocab)} characters) and "
                "predict the next character at every step. Loss: cross-entropy per character. Without memory "
                "a model still reads the current character: the best it can do is predict how often each "
                f"character follows it, {self._bigram / LN2:.2f} bits per character on the training text (the "
                f"bigram entropy; knowing nothing, the characters' frequencies give {self._entropy / LN2:.2f}).")

    def check(self, seq_len) -> int:
        """seq_len, shortened so that a window plus its next character fits in the training text."""
        seq_len = super().check(seq_len)
        return min(seq_len, len(self.train_codes) - 1)

    def _windows(self, codes: torch.Tensor, starts: torch.Tensor, seq_len: int):
        idx = starts[:, None] + torch.arange(seq_len + 1)
        chunk = codes[idx]
        return one_hot(chunk[:, :-1], len(self.vocab)), chunk[:, 1:]

    def batch(self, batch_size, seq_len, generator):
        L = min(seq_len, len(self.train_codes) - 1)
        starts = torch.randint(0, len(self.train_codes) - L, (batch_size,), generator=generator)
        return self._windows(self.train_codes, starts, L)

    def test_batch(self, batch_size, seq_len, generator):
        L = min(seq_len, len(self.held_out_codes) - 1)
        last = len(self.held_out_codes) - 1 - L
        starts = torch.from_numpy(np.linspace(0, last, batch_size).round().astype(np.int64))
        return self._windows(self.held_out_codes, starts, L)

    def baselines(self, seq_len):
        return (Baseline(self._bigram, CURRENT_INPUT, "predicts the next character from how often each follows the "
                                                      "current one (the bigram entropy of the training text)"),
                Baseline(self._entropy, NOTHING, "predicts the characters' frequencies (the unigram entropy)"))

    def __repr__(self):
        return f"CharTask({self.corpus.name!r}, {len(self.vocab)} characters)"


def lm_spec(cell: str, hidden_size: int, seed: int = 0, activation: str = "tanh") -> ModelSpec:
    """The model the Text lab trains: orthogonal recurrent weights (gain 1) and a forget / update
    gate bias of 1 (Jozefowicz et al. 2015), which train quickly on text. The input size is set by fit."""
    return ModelSpec(cell=cell, hidden_size=hidden_size, activation=activation, init="orthogonal",
                     recurrent_gain=1.0, input_gain=1.0, forget_bias=1.0, seed=seed)


# ------------------------------------------------------------------------------------ the model
@dataclass
class Sample:
    """Generated text and, at each generated character, the distribution it was drawn from."""

    prompt: str
    text: str                   # the generated characters (after the prompt)
    codes: np.ndarray           # [n] their codes
    probs: np.ndarray           # [n, V] float32: the model's own next-character distribution (temperature 1)
    sampling_probs: np.ndarray  # [n, V] float32: what was sampled from (temperature and top-k applied)
    temperature: float
    top_k: int
    seed: int

    def top(self, i: int, k: int = 5) -> list[tuple[int, float, float]]:
        """The k most likely next characters at generated position i: (code, p model, p sampled)."""
        order = np.argsort(-self.probs[i], kind="stable")[:k]
        return [(int(c), float(self.probs[i, c]), float(self.sampling_probs[i, c])) for c in order]

    def rank(self, i: int) -> int:
        """Where the character written at position i stood among the model's candidates (1: the most
        likely; ties in the order of `top`)."""
        order = np.argsort(-self.probs[i], kind="stable")
        return int(np.flatnonzero(order == self.codes[i])[0]) + 1

    def choice(self, i: int, k: int = 8) -> list[tuple[int, float, float, int]]:
        """The k most likely next characters at position i and, when it is not among them, the one
        that was written (last): (code, p model, p sampled, rank), rank 1 for the most likely."""
        rows = [(c, p, q, r) for r, (c, p, q) in enumerate(self.top(i, k), 1)]
        wrote = int(self.codes[i])
        if wrote not in [c for c, *_ in rows]:
            rows.append((wrote, float(self.probs[i, wrote]), float(self.sampling_probs[i, wrote]), self.rank(i)))
        return rows

    @property
    def written_probs(self) -> np.ndarray:
        """[n] the model's probability of each character it wrote."""
        return self.probs[np.arange(len(self.codes)), self.codes]

    def tips(self, label) -> list[str]:
        """One line per written character: its probability and the 5 candidates it was drawn from
        (`label(code)` names a character)."""
        p = self.written_probs
        return [f"#{i}: '{label(self.codes[i])}' had p = {p[i]:.1%}. Candidates: "
                + " · ".join(f"{label(c)} {q:.0%}" for c, q, _ in self.top(i, 5)) for i in range(len(self.codes))]


_UIDS = itertools.count(1)


class CharLM:
    """A trained (or loaded) character model: recurrent cell + linear readout + vocabulary."""

    def __init__(self, vocab: Vocab, model: RecurrentModel, readout: nn.Linear, corpus: str = "",
                 history=None):
        if model.input_size != len(vocab) or readout.out_features != len(vocab):
            raise ValueError(f"the model reads {model.input_size} and predicts {readout.out_features} characters "
                             f"but the vocabulary has {len(vocab)}")
        if readout.in_features != model.hidden_size:
            raise ValueError("the readout does not match the hidden size")
        self.vocab, self.model, self.readout = vocab, model, readout
        self.corpus = corpus      # name of the corpus it was trained on ("" if unknown)
        self.history = history    # the FitResult that trained it (None for a loaded model)
        self.uid = next(_UIDS)    # unique in this process (unlike id()): a key for caches of its outputs
        self._double = None

    @classmethod
    def from_fit(cls, result) -> CharLM:
        """The model a `rnnviz.fit` run on a CharTask left behind (also a stopped run's)."""
        task = result.task
        if not isinstance(task, CharTask):
            raise ValueError(f"from_fit needs a run on a CharTask; got {task!r}")
        return cls(task.vocab, result.model, result.readout, task.corpus.name, result)

    @property
    def cell(self) -> str:
        return self.model.cell

    @property
    def hidden_size(self) -> int:
        return self.model.hidden_size

    @property
    def trained_on(self) -> str:
        """The title of the text it was trained on ("another text" when that is not one of the corpora),
        in English, marked: translated where shown."""
        return CORPUS_TITLES.get(self.corpus, N_("another text"))

    def check_fits(self, corpus: Corpus) -> CharLM:
        """This model if it reads this text, else a ValueError naming the characters it lacks."""
        missing = self.vocab.missing(corpus.text)
        if missing and self.vocab.unknown is None:
            raise ValueError(Message("Its vocabulary does not match this text: it lacks {n} of the text's characters "
                                     "({chars}). It was trained on {text}: choose that text, then load it again.",
                                     n=len(missing), chars=Untrusted(", ".join(map(repr, missing[:8]))),
                                     text=Message(self.trained_on)))
        return self

    # ----- evaluation ------------------------------------------------------------------------
    def logits(self, text: str) -> np.ndarray:
        """[len(text), V] float32: the next-character logits after each character of `text`."""
        x = torch.from_numpy(self.vocab.one_hot(text))
        with torch.no_grad():
            h, _ = self.model(x)
            return self.readout(h).numpy()

    def bits_per_char(self, text: str) -> float:
        """Mean -log2 p(next character) over `text` read as one sequence from the zero state."""
        codes = self.vocab.encode(text)
        if len(codes) < 2:
            raise ValueError("bits per character needs at least 2 characters")
        with torch.no_grad():
            h, _ = self.model(torch.from_numpy(self.vocab.one_hot(codes[:-1])))
            loss = F.cross_entropy(self.readout(h), torch.from_numpy(codes[1:]))
        return float(loss) / LN2

    def trace(self, text: str) -> Trace:
        """rnnviz.trace of the model reading `text` (states and gates after each character)."""
        return trace(self.model, self.vocab.one_hot(text), loss="all")

    # ----- sampling -------------------------------------------------------------------------
    def sample(self, prompt: str, length: int, temperature: float = 1.0, top_k: int = 0, seed: int = 0) -> Sample:
        """Read `prompt`, then generate `length` characters, each drawn from the next-character
        distribution softmax(logits / temperature), restricted to the `top_k` most likely ones
        (0: all). temperature 0 is greedy decoding (always the most likely character), which is
        also what temperatures near 0 give. The same seed gives the same text."""
        length = int(length)
        if length < 0:
            raise ValueError(f"length must be >= 0; got {length}")
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0):
            raise ValueError(f"temperature must be a number >= 0; got {temperature!r}")
        top_k = int(top_k or 0)
        if top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0: no limit); got {top_k}")
        seed = KNOBS["seed"].validate(seed)
        codes = self.vocab.encode(prompt)
        V = len(self.vocab)
        gen = torch.Generator().manual_seed(seed)
        out = np.empty(length, dtype=np.int64)
        probs = np.empty((length, V), dtype=np.float32)
        sprobs = np.empty((length, V), dtype=np.float32)
        with torch.no_grad():
            if len(codes):
                h, state = self.model(torch.from_numpy(self.vocab.one_hot(codes)))
                last = h[-1]
            else:
                state, last = None, torch.zeros(self.hidden_size)
            for i in range(length):
                logits = self.readout(last).double()
                p = torch.softmax(logits, -1)
                q = sampling_distribution(logits, temperature, top_k)
                u = torch.rand((), generator=gen, dtype=torch.float64)
                cdf = torch.cumsum(q, 0)
                k = int(torch.searchsorted(cdf, (u * cdf[-1]).reshape(1), right=True).clamp(max=V - 1))
                out[i], probs[i], sprobs[i] = k, p.numpy(), q.numpy()
                x = torch.zeros(1, V)
                x[0, k] = 1.0
                h, state = self.model(x, state)
                last = h[-1]
        return Sample(prompt, self.vocab.decode(out), out, probs, sprobs, float(temperature), top_k, seed)

    # ----- files ------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Weights and vocabulary, loadable with torch.load(weights_only=True). The tensors are named
        as in torch.nn.RNN / LSTM / GRU (`rnn.weight_ih_l0`, ...) and torch.nn.Linear (`readout.weight`),
        so plain torch modules can load them too."""
        sd = {"format": CHARLM_FORMAT, "version": CHARLM_VERSION, "cell": self.cell,
              "activation": self.model.activation, "hidden_size": self.hidden_size, "vocab": list(self.vocab.chars),
              "corpus": self.corpus}
        for name in PARAM_NAMES:
            sd[f"rnn.{name}_l0"] = getattr(self.model, name).detach().clone()
        sd["readout.weight"] = self.readout.weight.detach().clone()
        sd["readout.bias"] = self.readout.bias.detach().clone()
        return sd

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        torch.save(self.state_dict(), buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, max_bytes: int = MAX_MODEL_BYTES) -> CharLM:
        """Load a model file (untrusted, read by `rnnviz.files.sandbox`), every key and shape checked:
        a file that is not a compatible model is a ValueError saying why."""
        sd = torchfile.read_torch_file(data, max_bytes=max_bytes,  # as every other model upload
                                     advice=Message("Upload a .pt file saved by this page's download button."))
        return cls.from_state_dict(sd)

    @classmethod
    def from_state_dict(cls, sd) -> CharLM:
        """A CharLM from `state_dict()`'s layout, every key and shape checked (ValueError if wrong)."""
        if not isinstance(sd, dict):
            raise ValueError(Message("The file holds {what}, not a state dict (a dict of tensors).",
                                     what=describe(sd)))
        if sd.get("format") != CHARLM_FORMAT:
            raise ValueError(Message("This state dict is not an rnnviz character model: it has no format = "
                                     "'{format}' entry (its keys: {keys}). Upload a file saved by this page's "
                                     "download button.", format=CHARLM_FORMAT, keys=listing(sd) or Message("none")))
        cell, act = sd.get("cell"), sd.get("activation", "tanh")
        if not isinstance(cell, str) or cell not in CELLS:
            raise ValueError(Message("The file's cell must be one of {cells}; got {cell}.", cells=", ".join(CELLS),
                                     cell=describe(cell)))
        if not isinstance(act, str) or act not in ACTIVATIONS or (cell != "rnn" and act != "tanh"):
            raise ValueError(Message("The file's activation {activation} is not valid for {a_cell}.",
                                     activation=describe(act), a_cell=article_message(cell)))
        chars = sd.get("vocab")
        if not isinstance(chars, (list, tuple)) or not 1 <= len(chars) <= MAX_VOCAB:
            raise ValueError(Message("The file's vocabulary must be a list of 1 to {most} characters.",
                                     most=MAX_VOCAB))
        try:
            vocab = Vocab(chars)
        except ValueError as exc:
            raise ValueError(Message("The file's vocabulary is not valid: {why}.", why=exc.args[0] if exc.args
                                     and isinstance(exc.args[0], str) else str(exc))) from None
        V, G = len(vocab), NUM_BLOCKS[cell]
        w = sd.get("rnn.weight_hh_l0")
        H = w.shape[1] if isinstance(w, torch.Tensor) and w.dim() == 2 else None
        if H is None or not 1 <= H <= KNOBS["hidden_size"].max:
            raise ValueError(Message("The file has no valid 'rnn.weight_hh_l0' matrix (hidden size 1 to {most}).",
                                     most=KNOBS['hidden_size'].max))
        want = {"rnn.weight_hh_l0": (G * H, H), "rnn.weight_ih_l0": (G * H, V), "rnn.bias_ih_l0": (G * H,),
                "rnn.bias_hh_l0": (G * H,), "readout.weight": (V, H), "readout.bias": (V,)}
        vocab_axis = {"rnn.weight_ih_l0": 1, "readout.weight": 0, "readout.bias": 0}
        for key, shape in want.items():
            t = sd.get(key)
            if not isinstance(t, torch.Tensor):
                raise ValueError(Message("The file has no tensor '{key}'.", key=key))
            if tuple(t.shape) != shape:
                axis = vocab_axis.get(key)
                only_vocab = axis is not None and t.dim() == len(shape) and all(
                    n == m for k, (n, m) in enumerate(zip(t.shape, shape)) if k != axis)
                fields = dict(key=key, shape=list(t.shape), a_cell=article_message(cell), H=H, V=V, want=list(shape))
                raise ValueError(Message("'{key}' has shape {shape}; {a_cell} with H = {H} and {V} characters needs "
                                         "{want}. Its vocabulary has {V} characters but its weights are for {n}: "
                                         "they do not match.", n=t.shape[axis], **fields) if only_vocab else
                                 Message("'{key}' has shape {shape}; {a_cell} with H = {H} and {V} characters needs "
                                         "{want}.", **fields))
            if dtype_problem(t.dtype):
                raise ValueError(holds(f"'{key}'", dtype_problem(t.dtype)))
            if not torch.isfinite(t).all():
                raise ValueError(Message("'{key}' must hold finite floating-point numbers.", key=key))
        reach = float((sd["readout.weight"].double().abs().sum(1) + sd["readout.bias"].double().abs()).max())
        if reach > MAX_SCORE:   # |h| <= 1 (tanh, sigmoid, LSTM, GRU): no score exceeds `reach` (the file is damaged)
            raise ValueError(Message("The readout's weights are so large that the next-character scores reach "
                                     "{reach:.1e}, beyond float32 (3.4e+38): every probability and the bits per "
                                     "character would be NaN.", reach=reach))
        model = RecurrentModel(cell, V, H, act)
        readout = nn.Linear(H, V)
        with torch.no_grad():
            for name in PARAM_NAMES:
                getattr(model, name).copy_(sd[f"rnn.{name}_l0"].to(torch.float32))
            readout.weight.copy_(sd["readout.weight"].to(torch.float32))
            readout.bias.copy_(sd["readout.bias"].to(torch.float32))
        corpus = sd.get("corpus")   # a title, shown on the page: a long text is no title
        return cls(vocab, model, readout, corpus if isinstance(corpus, str) and len(corpus) <= 40 else "")

    # ----- gradients with respect to the input ---------------------------------------------------------
    def _float64(self):
        if self._double is None:
            self._double = (copy.deepcopy(self.model).double(), copy.deepcopy(self.readout).double())
        return self._double


def sampling_distribution(logits: torch.Tensor, temperature: float, top_k: int = 0) -> torch.Tensor:
    """softmax(logits / temperature) over the top_k largest logits (0: all), float64. Temperature 0
    puts all the mass on the most likely character (the first one of a tie)."""
    logits = logits.double()
    V = logits.shape[-1]
    keep = torch.ones(V, dtype=torch.bool)
    if 0 < top_k < V:
        keep[:] = False
        keep[torch.argsort(-logits, stable=True)[:top_k]] = True
    if temperature == 0:
        q = torch.zeros(V, dtype=torch.float64)
        q[int(torch.argmax(logits))] = 1.0
        return q
    z = torch.where(keep, logits / temperature, torch.tensor(-math.inf, dtype=torch.float64))
    return torch.softmax(z, -1)


def input_gradient(lm: CharLM, text: str, position: int) -> np.ndarray:
    """How far back does the model look? After reading text[0..position] the model predicts
    text[position + 1]; returns ||d log p(text[position+1]) / d x_s||_2 for s = 0..position
    (x_s the one-hot input vector of character s), float64 throughout so that tiny values do not
    round to zero."""
    codes = lm.vocab.encode(text)
    if not 0 <= position < len(codes) - 1:
        raise ValueError(f"position must be in [0, {len(codes) - 2}] (the next character must exist); got {position}")
    model, readout = lm._float64()
    x = torch.from_numpy(lm.vocab.one_hot(codes[:position + 1])).double().requires_grad_(True)
    h, _ = model(x)
    logp = torch.log_softmax(readout(h[-1]), -1)[int(codes[position + 1])]
    (grad,) = torch.autograd.grad(logp, x)
    return grad.norm(dim=1).numpy()


def bpc_record(result) -> dict:
    """A training run (a FitResult on a CharTask) in bits per character, as plots.bpc_curves draws it."""
    return {"cell": result.spec.cell, "steps": np.arange(1, result.steps_done + 1), "train": bpc(result.loss),
            "test_steps": result.test_steps, "test": bpc(result.test_loss)}


def bpc(nats):
    """Nats per character to bits per character (a number or an array)."""
    return nats / LN2 if isinstance(nats, (int, float)) else np.asarray(nats, dtype=np.float64) / LN2
