"""A small encoder-decoder that translates human-readable dates into ISO dates, without attention
(the data: `rnnviz.labs.dates`).

    "22 Nov 2026", "Sunday, November 22, 2026", "11/22/26", "22.11.2026", ...  ->  "2026-11-22"

The encoder (a GRU or LSTM) reads the input one character at a time; its final state is the
single context vector the decoder starts from (Sutskever et al. 2014, no attention). The decoder
then writes the ten characters of the ISO date, each step reading the character it wrote before
(during training: the true one, "teacher forcing").

    model, history = train(TrainConfig(seconds=60))          # history: accuracy vs seconds
    translate(model, ["22 Nov 2026"])                        # -> ["2026-11-22"]
    look = look_inside(model, "Sunday, November 22, 2026")  # encoder states, context, decoder states,
                                                             # top candidates per output character
    accuracy_by_length(model, dates.held_out(...))           # exact match against input length
    accuracy_by_gap(model, dates.held_out(...), gaps=[0, 16, 64])  # ... against the characters after the date

All randomness comes from seeded torch.Generators; with a step budget (not a time budget) the same
seed gives the same model.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from ..cells import LABELS
from ..i18n import N_, _
from .dates import (
    BOS,
    GAPS,
    OUTPUT_LENGTH,
    SOURCE_VOCAB,
    TARGET_CHARS,
    Example,
    encode_batch,
    encode_targets,
    held_out,
    sample,
    split_dates,
    with_filler,
)


# =============================================================================== model
class DateTranslator(nn.Module):
    """Encoder and decoder: embedding -> torch.nn.GRU / LSTM (fused) -> linear readout."""

    def __init__(self, cell: str = "lstm", hidden_size: int = 128, embed_size: int = 32, seed: int = 0):
        super().__init__()
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm'; got {cell!r}")
        self.cell, self.hidden_size, self.embed_size = cell, int(hidden_size), int(embed_size)
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        E, H = self.embed_size, self.hidden_size
        # Built on the meta device (no global random draws), then initialised from a seeded generator.
        self.src_embed = nn.Embedding(len(SOURCE_VOCAB), E, device="meta")
        self.encoder = rnn(E, H, batch_first=True, device="meta")
        self.tgt_embed = nn.Embedding(len(TARGET_CHARS) + 1, E, device="meta")
        self.decoder = rnn(E, H, batch_first=True, device="meta")
        self.readout = nn.Linear(H, len(TARGET_CHARS), device="meta")
        self.to_empty(device="cpu")
        self._init(seed)

    def _init(self, seed: int):
        """PyTorch's default initialisation, drawn from a seeded generator (not the global one)."""
        gen = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            for name, p in self.named_parameters():
                if "embed" in name:
                    p.copy_(torch.randn(p.shape, generator=gen))
                else:  # recurrent layers and the readout: U(-1/sqrt(H), 1/sqrt(H))
                    k = 1.0 / math.sqrt(self.hidden_size)
                    p.copy_(torch.rand(p.shape, generator=gen) * 2 * k - k)
            # Keep the memory open at the start: the LSTM's forget-gate bias (Jozefowicz et al. 2015) or the
            # GRU's update-gate bias (rows H:2H in both) is 1, so the state is carried forward.
            H = self.hidden_size
            for rnn in (self.encoder, self.decoder):
                rnn.bias_ih_l0[H:2 * H] = 1.0
                rnn.bias_hh_l0[H:2 * H] = 0.0

    def encode(self, src: torch.Tensor, lengths: torch.Tensor):
        """The encoder's final state (the context): h [B, H], or (h, c) for LSTM, each [1, B, H]."""
        packed = pack_padded_sequence(self.src_embed(src), lengths, batch_first=True, enforce_sorted=False)
        _, state = self.encoder(packed)
        return state

    def forward(self, src: torch.Tensor, lengths: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits [B, 10, classes] for the target [B, 10]."""
        state = self.encode(src, lengths)
        bos = torch.full((tgt.shape[0], 1), BOS, dtype=torch.long)
        dec_in = self.tgt_embed(torch.cat([bos, tgt[:, :-1]], 1))
        out, _state = self.decoder(dec_in, state)
        return self.readout(out)

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, lengths: torch.Tensor, record: bool = False):
        """Write 10 characters, each step reading the one just written. Returns ids [B, 10]
        (and, with record, the decoder states [B, 10, H] (and cells) and probabilities [B, 10, classes])."""
        state = self.encode(src, lengths)
        prev = torch.full((src.shape[0], 1), BOS, dtype=torch.long)
        ids, states, cells, probs = [], [], [], []
        for _step in range(OUTPUT_LENGTH):
            out, state = self.decoder(self.tgt_embed(prev), state)
            logits = self.readout(out[:, 0])
            prev = logits.argmax(-1, keepdim=True)
            ids.append(prev[:, 0])
            if record:
                states.append(out[:, 0])
                probs.append(torch.softmax(logits, -1))
                if self.cell == "lstm":
                    cells.append(state[1][0])
        ids = torch.stack(ids, 1)
        if not record:
            return ids
        return ids, torch.stack(states, 1), (torch.stack(cells, 1) if cells else None), torch.stack(probs, 1)


def translate(model: DateTranslator, texts: Sequence[str], batch_size: int = 512) -> list[str]:
    """Greedy translations of `texts`."""
    model.eval()
    out = []
    for i in range(0, len(texts), batch_size):
        src, lengths = encode_batch(texts[i:i + batch_size])
        ids = model.greedy(src, lengths)
        out += ["".join(TARGET_CHARS[k] for k in row) for row in ids.tolist()]
    return out


def exact_match(model: DateTranslator, data: Sequence[Example]) -> float:
    """Fraction of examples whose whole ISO date is right."""
    predictions = translate(model, [e.text for e in data])
    return float(np.mean([p == e.target for p, e in zip(predictions, data)]))


@dataclass
class LengthAccuracy:
    lengths: np.ndarray    # input lengths in characters (the first length of each bin)
    accuracy: np.ndarray   # exact-match accuracy of the examples in that bin
    counts: np.ndarray     # how many examples are in that bin


def accuracy_by_length(model: DateTranslator, data: Sequence[Example], predictions: Sequence[str] | None = None,
                       bin_width: int = 1) -> LengthAccuracy:
    """Exact-match accuracy as a function of the input's length in characters, in bins of
    `bin_width` lengths (bins without examples are left out)."""
    predictions = translate(model, [e.text for e in data]) if predictions is None else predictions
    n = np.array([len(e.text) for e in data]) // bin_width * bin_width
    ok = np.array([p == e.target for p, e in zip(predictions, data)], dtype=float)
    lengths = np.unique(n)
    return LengthAccuracy(lengths, np.array([ok[n == L].mean() for L in lengths]),
                          np.array([(n == L).sum() for L in lengths]))


def accuracy_by_gap(model: DateTranslator, data: Sequence[Example], gaps: Sequence[int], where: str = "after",
                    seed: int = 0) -> np.ndarray:
    """Exact match when `gap` characters of filler follow (or, with where="before", precede) each
    input, for every gap in `gaps`. After the date, the encoder must carry it `gap` steps further
    to its final state; before it, the input is as long but the date is read last."""
    return np.array([exact_match(model, with_filler(data, int(g), where, seed)) for g in gaps])


@dataclass
class Assessment:
    """How good a trained model is, on dates it never saw."""

    exact_match: float          # on `n` fresh held-out examples (phrases as in training)
    n: int
    by_length: LengthAccuracy   # ... by input length
    gaps: np.ndarray            # filler characters
    after: np.ndarray           # exact match with that much filler after the date
    before: np.ndarray          # ... before it (same words)
    gap_n: int                  # examples per gap


def assess(model: DateTranslator, data_seed: int = 0, n: int = 2000, gap_n: int = 200, gaps: Sequence[int] = GAPS,
           bin_width: int = 10) -> Assessment:
    """Exact match on a fresh held-out set (overall and by input length) and against filler
    characters after / before the date (`gap_n` held-out dates without phrases per gap)."""
    fresh = held_out(n, data_seed, sample_seed=424242)
    predictions = translate(model, [e.text for e in fresh])
    by_length = accuracy_by_length(model, fresh, predictions, bin_width=bin_width)
    plain = held_out(gap_n, data_seed, phrases=False, sample_seed=99)
    return Assessment(exact_match=float(np.mean([p == e.target for p, e in zip(predictions, fresh)])), n=n,
                      by_length=by_length, gaps=np.asarray(gaps), after=accuracy_by_gap(model, plain, gaps, "after"),
                      before=accuracy_by_gap(model, plain, gaps, "before"), gap_n=gap_n)


# =============================================================================== training
@dataclass
class TrainConfig:
    cell: str = "lstm"
    hidden_size: int = 128
    embed_size: int = 32
    batch_size: int = 64
    lr: float = 1e-2
    clip: float = 1.0
    seconds: float | None = 60.0    # wall-clock budget (None: no limit)
    steps: int | None = None        # step budget (None: no limit); deterministic
    target_accuracy: float | None = None  # stop once held-out exact match reaches this
    eval_every: int = 100           # steps between held-out evaluations
    eval_size: int = 1000           # held-out examples used during training
    seed: int = 0                   # model initialisation and batches
    data_seed: int = 0              # which dates are held out
    phrases: bool = True            # words around the date ("due 22 Nov 2026, please confirm")

    @classmethod
    def from_knobs(cls, cell: str, hidden: int, seconds: int, target: int, steps: int, seed: int) -> TrainConfig:
        """What the Translation page trains with its knobs tr_cell, tr_hidden, ... (target in percent,
        steps 0: no step limit)."""
        return cls(cell=cell, hidden_size=hidden, seconds=float(seconds), steps=steps or None,
                   target_accuracy=target / 100, seed=seed)

    def describe(self) -> str:
        """"LSTM, H = 128, seed 0; 90 s budget, at most 500 steps, stop at 95%"."""
        text = (_("{cell}, H = {H}, seed {seed}; {seconds:g} s budget, at most {steps} steps, stop at {share:.0%}")
                if self.steps else _("{cell}, H = {H}, seed {seed}; {seconds:g} s budget, stop at {share:.0%}"))
        return text.format(cell=LABELS[self.cell], H=self.hidden_size, seed=self.seed, seconds=self.seconds,
                           steps=self.steps, share=self.target_accuracy)

    def changes_from(self, other: TrainConfig) -> list[str]:
        """The settings a user sets that differ from `other`'s, in words: ["hidden size", "seed"]."""
        return [_(name) for name, field in ((N_("cell"), "cell"), (N_("hidden size"), "hidden_size"),
                                            (N_("time budget"), "seconds"), (N_("stop level"), "target_accuracy"),
                                            (N_("step limit"), "steps"), (N_("seed"), "seed"))
                if getattr(self, field) != getattr(other, field)]

    def __post_init__(self):
        if self.seconds is None and self.steps is None:
            raise ValueError("give a time budget (seconds) or a step budget (steps)")
        if self.cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm'; got {self.cell!r}")


@dataclass
class Progress:
    """What `on_step` receives after every training step."""

    step: int
    seconds: float          # wall-clock since training started (evaluations included)
    loss: float             # this batch's mean cross-entropy per character
    accuracy: float | None  # the latest held-out exact match
    history: History


@dataclass
class History:
    """The record of a training run: one entry per held-out evaluation."""

    steps: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)       # held-out exact match
    char_accuracy: list = field(default_factory=list)  # held-out per-character accuracy
    loss: list = field(default_factory=list)           # mean training loss since the last evaluation
    by_length: list = field(default_factory=list)      # LengthAccuracy at each evaluation
    stop_reason: str = ""

    def seconds_to(self, accuracy: float) -> float | None:
        """Seconds until held-out exact match first reached `accuracy` (None: never)."""
        for s, a in zip(self.seconds, self.accuracy):
            if a >= accuracy:
                return s
        return None


def new_model(config: TrainConfig) -> DateTranslator:
    return DateTranslator(config.cell, config.hidden_size, config.embed_size, seed=config.seed)


def train(config: TrainConfig | None = None, on_step: Callable[[Progress], bool | None] | None = None,
          model: DateTranslator | None = None) -> tuple[DateTranslator, History]:
    """Train with teacher forcing and Adam on fresh random batches of training dates.

    Stops at the first of: the step budget, the time budget, the target accuracy, or `on_step`
    returning False (what was learned so far is kept: pass `model` to train one you hold on to).
    An exception raised by `on_step` (Streamlit's rerun when a Stop button is clicked, a
    KeyboardInterrupt) propagates after the history that `on_step` saw as `progress.history` has
    been finished like a stopped run (a last evaluation, stop_reason "interrupted").
    Evaluates greedy exact match on `eval_size` held-out dates every `eval_every` steps and at
    the end.
    """
    config = TrainConfig() if config is None else config
    model = new_model(config) if model is None else model
    train_days, held_days = split_dates(config.data_seed)
    evaluation = held_out(config.eval_size, config.data_seed, config.phrases)
    eval_src, eval_len = encode_batch([e.text for e in evaluation])
    eval_tgt = encode_targets([e.target for e in evaluation])
    gen = torch.Generator().manual_seed(int(config.seed) + 7919)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = nn.CrossEntropyLoss()
    history = History()
    start = time.perf_counter()
    losses: list[float] = []

    def evaluate(step: int) -> float:
        model.eval()
        ids = model.greedy(eval_src, eval_len)
        correct = ids == eval_tgt
        predictions = ["".join(TARGET_CHARS[k] for k in row) for row in ids.tolist()]
        history.steps.append(step)
        history.seconds.append(time.perf_counter() - start)
        history.accuracy.append(float(correct.all(1).float().mean()))
        history.char_accuracy.append(float(correct.float().mean()))
        history.loss.append(float(np.mean(losses)) if losses else float("nan"))
        history.by_length.append(accuracy_by_length(model, evaluation, predictions))
        losses.clear()
        model.train()
        return history.accuracy[-1]

    accuracy = evaluate(0)
    step = 0
    while True:
        if config.steps is not None and step >= config.steps:
            history.stop_reason = "steps"
            break
        if config.seconds is not None and time.perf_counter() - start >= config.seconds:
            history.stop_reason = "time"
            break
        batch = sample(train_days, config.batch_size, gen, phrases=config.phrases)
        src, lengths = encode_batch([e.text for e in batch])
        tgt = encode_targets([e.target for e in batch])
        model.train()
        logits = model(src, lengths, tgt)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimizer.step()
        step += 1
        losses.append(float(loss.detach()))
        if step % config.eval_every == 0:
            accuracy = evaluate(step)
            if config.target_accuracy is not None and accuracy >= config.target_accuracy:
                history.stop_reason = "target"
                break
        progress = Progress(step, time.perf_counter() - start, float(loss.detach()), accuracy, history)
        try:
            go_on = on_step is None or on_step(progress) is not False
        except BaseException:
            # e.g. Streamlit's rerun when a Stop button is clicked: leave a finished record behind
            history.stop_reason = "interrupted"
            if history.steps[-1] != step:
                evaluate(step)
            model.eval()
            raise
        if not go_on:
            history.stop_reason = "stopped"
            break
    if history.steps[-1] != step:
        evaluate(step)
    model.eval()
    return model, history


# =============================================================================== looking inside
@dataclass
class Inspection:
    """What happens inside the model on one input. Arrays are numpy, time first."""

    text: str
    input_chars: list             # the characters the encoder read
    unknown: list                 # characters outside the vocabulary (read as "unknown")
    encoder_states: np.ndarray    # [len(text), H] hidden state after each input character
    encoder_cells: np.ndarray | None   # LSTM cell states [len(text), H]
    context: np.ndarray           # [H] the encoder's final hidden state: all the decoder gets
    context_cell: np.ndarray | None    # LSTM: the final cell state, passed on too
    decoder_states: np.ndarray    # [10, H] decoder hidden state after writing each character
    decoder_cells: np.ndarray | None
    output: str                   # the greedy translation
    probabilities: np.ndarray     # [10, len(TARGET_CHARS)] softmax over output characters per step
    top: list                     # per output step: [(char, probability), ...] best first


def look_inside(model: DateTranslator, text: str, top_k: int = 3) -> Inspection:
    """Run one input through the model and keep every state and prediction."""
    if not text:
        raise ValueError("the input text is empty")
    model.eval()
    src, lengths = encode_batch([text])
    with torch.no_grad():
        enc_out, state = model.encoder(model.src_embed(src))
        ids, dec_states, dec_cells, probs = model.greedy(src, lengths, record=True)
    h_n = state[0] if model.cell == "lstm" else state
    enc_cells = None
    if model.cell == "lstm":
        enc_cells = encoder_cell_states(model, text)
    p = probs[0].numpy().astype(np.float32)
    order = np.argsort(-p, axis=1, kind="stable")[:, :top_k]
    top = [[(TARGET_CHARS[k], float(p[t, k])) for k in order[t]] for t in range(OUTPUT_LENGTH)]
    return Inspection(
        text=text, input_chars=list(text), unknown=SOURCE_VOCAB.missing(text),
        encoder_states=enc_out[0].numpy().astype(np.float32), encoder_cells=enc_cells,
        context=h_n[0, 0].numpy().astype(np.float32),
        context_cell=state[1][0, 0].numpy().astype(np.float32) if model.cell == "lstm" else None,
        decoder_states=dec_states[0].numpy().astype(np.float32),
        decoder_cells=None if dec_cells is None else dec_cells[0].numpy().astype(np.float32),
        output="".join(TARGET_CHARS[k] for k in ids[0].tolist()), probabilities=p, top=top,
    )


def encoder_as_recurrent(model: DateTranslator):
    """The encoder as an rnnviz RecurrentModel, so every gradient view can look at it."""
    from ..model import from_torch

    return from_torch(model.encoder)


def embed(model: DateTranslator, text: str) -> np.ndarray:
    """The encoder's input for `text`: its character embeddings, [len(text), embed_size] float32."""
    src, _lengths = encode_batch([text])
    with torch.no_grad():
        return model.src_embed(src)[0].numpy().astype(np.float32)


def encoder_cell_states(model: DateTranslator, text: str) -> np.ndarray:
    """LSTM encoder: the cell state after each character, [len(text), H] (the module, one step at a time)."""
    if model.cell != "lstm":
        raise ValueError("only an LSTM encoder has cell states")
    x = torch.from_numpy(embed(model, text))[None]
    state = None
    cells = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            _, state = model.encoder(x[:, t:t + 1], state)
            cells.append(state[1][0, 0])
    return torch.stack(cells).numpy().astype(np.float32)
