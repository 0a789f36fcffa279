"""Tasks that make memory matter, each with its loss and its memoryless baseline.

A task is a seeded generator of batches plus the loss to train on:

    x, target = task.batch(batch_size, seq_len, generator)   # x [B, T, input_size] float32
    loss = task.loss(output, target)                          # output: the readout's, see below
    task.baseline(seq_len)                                    # loss of the best predictor without memory
    task.baselines(seq_len)                                   # ... and the literature's, named by what they know

`task.loss_on` says where the loss sits: "last" (many-to-one: one prediction from the last
hidden state, output [B, output_size]) or "all" (many-to-many: one prediction per step, output
[B, T, output_size]). Classification tasks take logits and integer targets and use the
cross-entropy in nats averaged over every prediction; the adding problem uses the mean squared
error. All randomness comes from the `torch.Generator` passed in, never the global RNG.

Baselines are computed from each task's own generator, in closed form, and named by what the
predictor behind them knows. The memoryless baseline knows only the current input: it is the best
loss of a network whose state is reset every step (it still sees x_t). The literature often quotes
a predictor that also knows when to answer (the time step), or nothing at all; where that differs
it is the second entry of `baselines`.

    adding           Arjovsky et al. (2016)'s adding problem: sum the two marked values
    copy             Arjovsky et al. (2016)'s copy task: recall 10 symbols after a long gap
    binary_addition  add two binary numbers fed least-significant bit first (remember the carry)
    temporal_order   Hochreiter & Schmidhuber (1997)'s task 6a: in which order did X and Y appear?
    parity           is the number of ones in a bit string odd?
    sentiment        a toy review: one opinion word, maybe negated ("not good"), among filler words
    look_ahead       output the bit that arrives 5 steps later: only a bidirectional network can
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .i18n import N_, _
from .inputs import add_bits, one_hot
from .spec import KNOBS

LN2 = math.log(2.0)
CURRENT_INPUT = N_("only the current input")
TIME_STEP = N_("the current input and the time step (when to answer)")
NOTHING = N_("nothing (always the same answer)")
NO_FUTURE = N_("every input so far and the time step, nothing later (a forward network at its best)")


@dataclass(frozen=True)
class Baseline:
    """A loss reached without memory: its value and what the predictor behind it knows."""

    value: float
    knows: str      # CURRENT_INPUT, TIME_STEP or NOTHING
    how: str        # the predictor, in words

    @property
    def memoryless(self) -> bool:
        """The floor of a network without memory: it knows only the current input."""
        return self.knows == CURRENT_INPUT

    @property
    def label(self) -> str:
        return "memoryless: knows only the current input" if self.memoryless else f"knows {self.knows}"


class Task:
    """What every task has. Subclasses set the sizes and write `batch` and `baseline`."""

    name = ""
    title = ""
    description = ""
    input_size = 1
    output_size = 1
    loss_on = "last"          # "last" (many-to-one) or "all" (many-to-many)
    classification = True     # cross-entropy on logits; False: mean squared error
    min_seq_len = 1

    def length(self, seq_len: int) -> int:
        """Number of time steps of a sequence made with this seq_len."""
        return seq_len

    def check(self, seq_len) -> int:
        """seq_len as an int, or a ValueError saying what this task needs."""
        seq_len = KNOBS["seq_len"].validate(seq_len)
        if seq_len < self.min_seq_len:
            raise ValueError(f"the {self.title} task needs seq_len >= {self.min_seq_len}; got {seq_len}")
        return seq_len

    def batch(self, batch_size: int, seq_len: int, generator: torch.Generator):
        """(x [B, T, input_size] float32, target) drawn with `generator`."""
        raise NotImplementedError

    def baselines(self, seq_len: int) -> tuple:
        """(the memoryless Baseline, then the literature's where it differs): closed forms from the
        task's own generator."""
        raise NotImplementedError

    def baseline(self, seq_len: int) -> float:
        """The loss of the best predictor that remembers nothing: it knows only the current input."""
        return self.baselines(seq_len)[0].value

    def test_batch(self, batch_size: int, seq_len: int, generator: torch.Generator):
        """The fixed test set `fit` evaluates on. Drawn like training batches unless a task holds
        data out (the text task's held-out text)."""
        return self.batch(batch_size, seq_len, generator)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.classification:
            return F.cross_entropy(output.reshape(-1, self.output_size), target.reshape(-1))
        return F.mse_loss(output, target)

    def accuracy(self, output: torch.Tensor, target: torch.Tensor) -> float:
        """Fraction of predictions whose most likely class is the target."""
        return (output.argmax(-1) == target).float().mean().item()

    def sample(self, seq_len: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """One sequence as numpy: (x [T, input_size], its target), seeded."""
        x, target = self.batch(1, seq_len, torch.Generator().manual_seed(int(seed)))
        return x[0].numpy(), target[0].numpy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _entropy_nats(p) -> float:
    """Entropy in nats of a distribution (0 log 0 = 0)."""
    p = np.asarray(p, dtype=np.float64)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _binary_entropy(p: np.ndarray) -> np.ndarray:
    """H(p) in nats, with H(0) = H(1) = 0."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -p * np.log(p) - (1 - p) * np.log1p(-p)
    return np.where((p > 0) & (p < 1), h, 0.0)


# ------------------------------------------------------------------------------------------
class AddingProblem(Task):
    name = "adding"
    title = N_("Adding problem")
    description = (N_("Each step reads a value drawn from U[0, 1] and a marker. Exactly two steps are marked, "
                   "one in each half of the sequence; after the last step the network must output the sum "
                   "of the two marked values. Loss: mean squared error. Without memory a network still sees "
                   "the last step: when it is marked it answers 0.5 plus its value, else the mean 1, an error "
                   "of 1/6 − 1/(12⌈T/2⌉). The literature's baseline 1/6 is always answering 1."))
    input_size = 2            # (value, marker)
    output_size = 1
    loss_on = "last"
    classification = False
    min_seq_len = 2
    tolerance = 0.04          # Hochreiter & Schmidhuber's criterion for a correct answer

    def batch(self, batch_size, seq_len, generator):
        B, T = batch_size, seq_len
        values = torch.rand(B, T, generator=generator)
        first = torch.randint(0, T // 2, (B,), generator=generator)
        second = torch.randint(T // 2, T, (B,), generator=generator)
        rows = torch.arange(B)
        markers = torch.zeros(B, T)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        target = (values[rows, first] + values[rows, second])[:, None]
        return torch.stack([values, markers], -1), target

    def baselines(self, seq_len):
        """The second marker is uniform over the last ceil(T/2) steps. If it is the last one (chance
        1/n) the memoryless answer is 0.5 + x_{T-1}, error Var(X1) = 1/12; else 1, error 1/6."""
        n = seq_len - seq_len // 2
        return (Baseline(1 / 6 - 1 / (12 * n), CURRENT_INPUT,
                         f"answers 0.5 + the last value when the last step is marked (chance 1/{n}), else 1"),
                Baseline(1 / 6, NOTHING, N_("always answers 1, the mean of the sum (the literature's 1/6)")))

    def accuracy(self, output, target):
        """Fraction of answers within 0.04 of the sum."""
        return ((output - target).abs() < self.tolerance).float().mean().item()


@dataclass
class CopyTask(Task):
    """Symbols 0..n_symbols-1; `blank` = n_symbols; `delimiter` = n_symbols + 1 (input only)."""

    n_symbols: int = 8
    n_copy: int = 10

    name = "copy"
    title = N_("Copy")
    loss_on = "all"
    min_seq_len = 1

    @property
    def description(self):
        """In the current language (the other tasks' descriptions are marked to be translated where shown)."""
        return _("Read {k} symbols (out of {n}), then T - 1 blanks, then a delimiter; then output the {k} symbols in "
                 "order. Targets are blank until then. Loss: cross-entropy per step over all T + {k2} steps. Without "
                 "memory a network sees a blank both in the gap and where the symbols are due, so it hedges between "
                 "the two. The literature's baseline, {k} ln {n} / (T + {k2}) nats per step, also knows when to "
                 "answer: blanks, then a uniform guess.").format(k=self.n_copy, n=self.n_symbols, k2=2 * self.n_copy)

    @property
    def blank(self) -> int:
        return self.n_symbols

    @property
    def delimiter(self) -> int:
        return self.n_symbols + 1

    @property
    def input_size(self):
        return self.n_symbols + 2

    @property
    def output_size(self):
        return self.n_symbols + 1

    def length(self, seq_len):
        return seq_len + 2 * self.n_copy

    def batch(self, batch_size, seq_len, generator):
        B, T, K = batch_size, seq_len, self.n_copy
        symbols = torch.randint(0, self.n_symbols, (B, K), generator=generator)
        seq = torch.full((B, T + 2 * K), self.blank)
        seq[:, :K] = symbols
        seq[:, K + T - 1] = self.delimiter
        target = torch.full((B, T + 2 * K), self.blank)
        target[:, T + K:] = symbols
        return one_hot(seq, self.input_size), target

    def baselines(self, seq_len):
        """A blank input comes T - 1 times before the delimiter (target blank) and K times after it
        (target one of n symbols, uniform): knowing only the input, the best prediction on a blank is
        blank with p = (T - 1) / (T - 1 + K), each symbol with (1 - p) / n. Symbols and the delimiter
        are always followed by a blank target (loss 0)."""
        T, K, n = seq_len, self.n_copy, self.n_symbols
        p = (T - 1) / (T - 1 + K)
        blank = float(_entropy_nats([p] + [(1 - p) / n] * n))
        length = T + 2 * K
        return (Baseline((T - 1 + K) / length * blank, CURRENT_INPUT,
                         f"on a blank predicts blank with p = {p:.3g}, else a uniform symbol"),
                Baseline(K * math.log(n) / length, TIME_STEP,
                         f"blanks, then a uniform guess over the {n} symbols (the literature's)"))

    def accuracy(self, output, target):
        """Fraction of the recalled symbols (the last n_copy steps) that are right."""
        return super().accuracy(output[:, -self.n_copy:], target[:, -self.n_copy:])


class BinaryAddition(Task):
    name = "binary_addition"
    title = N_("Binary addition")
    description = (N_("Two random T-bit numbers arrive least-significant bit first, one bit of each per step; "
                   "at every step the network outputs that bit of their sum (mod 2^T). Bit t is "
                   "a_t xor b_t xor carry, so the carry must be remembered from one step to the next. Loss: "
                   "cross-entropy per step. Without memory a network can still xor the two bits it sees but "
                   "must guess the carry, 1 with probability (1 - 2^-t) / 2 at step t; not knowing t either it "
                   "guesses with the average of these. The literature's baseline also knows t (close to "
                   "ln 2 = 0.693 for long T either way)."))
    input_size = 2            # (bit of a, bit of b)
    output_size = 2
    loss_on = "all"
    min_seq_len = 1

    def batch(self, batch_size, seq_len, generator):
        bits = torch.randint(0, 2, (batch_size, seq_len, 2), generator=generator)
        total, _carry = add_bits(bits[..., 0].numpy(), bits[..., 1].numpy())
        return bits.to(torch.float32), torch.from_numpy(total)

    def baselines(self, seq_len):
        """The carry into step t is 1 with probability p_t = (1 - 2^-t) / 2, independent of the bits at
        step t. Knowing t: the mean of H(p_t); knowing only the bits: H(mean of p_t)."""
        p = (1 - 0.5 ** np.arange(seq_len)) / 2
        return (Baseline(float(_binary_entropy(p.mean())), CURRENT_INPUT,
                         N_("xors the two bits it sees and guesses the carry with its average probability")),
                Baseline(float(_binary_entropy(p).mean()), TIME_STEP,
                         N_("xors the two bits and guesses the carry with its probability at step t "
                            "(the literature's)")))

    @staticmethod
    def carries(x) -> np.ndarray:
        """The carry out of every step of one sequence x [T, 2] (what the network must remember)."""
        x = np.asarray(x)
        return add_bits(x[:, 0], x[:, 1])[1]

    @classmethod
    def carry_correlation(cls, x, hidden) -> np.ndarray:
        """Pearson correlation of each hidden unit h_t [T, H] with the carry out of step t: the units
        near +-1 are the ones that track the carry (0 for a unit or a carry that never changes)."""
        carry = cls.carries(x).astype(np.float64)
        h = np.asarray(hidden, dtype=np.float64)
        dc, dh = carry - carry.mean(), h - h.mean(0)
        varies = (np.ptp(h, axis=0) > 0) & (np.ptp(carry) > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = dc @ dh / np.sqrt((dc ** 2).sum() * (dh ** 2).sum(0))
        return np.where(varies, r, 0.0)


class TemporalOrder(Task):
    """Symbols: B (begin), E (end), distractors a b c d, and the relevant X and Y."""

    name = "temporal_order"
    title = N_("Temporal order")
    symbols = ("B", "E", "a", "b", "c", "d", "X", "Y")
    classes = ("XX", "XY", "YX", "YY")
    description = (N_("Hochreiter & Schmidhuber's task 6a. A sequence of random distractors a, b, c, d between a "
                   "begin and an end marker hides two relevant symbols, each X or Y: the first in the "
                   "10%-20% stretch of the sequence, the second in the 50%-60% stretch. After the last step "
                   "the network says in which order they came: XX, XY, YX or YY. Loss: cross-entropy. Without "
                   "memory all four are equally likely: ln 4 = 1.386 nats."))
    input_size = len(symbols)
    output_size = len(classes)
    loss_on = "last"
    min_seq_len = 8

    @staticmethod
    def windows(T: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """The (first, last) steps where the first and the second relevant symbol may stand."""
        lo1 = max(1, round(0.1 * T))
        hi1 = max(lo1, round(0.2 * T))
        lo2 = max(hi1 + 1, round(0.5 * T))
        hi2 = min(T - 2, max(lo2, round(0.6 * T)))
        return (lo1, hi1), (lo2, hi2)

    def batch(self, batch_size, seq_len, generator):
        B, T = batch_size, seq_len
        (lo1, hi1), (lo2, hi2) = self.windows(T)
        seq = torch.randint(2, 6, (B, T), generator=generator)   # distractors a..d
        seq[:, 0], seq[:, -1] = 0, 1
        which = torch.randint(0, 2, (B, 2), generator=generator)   # 0 = X, 1 = Y
        t1 = torch.randint(lo1, hi1 + 1, (B,), generator=generator)
        t2 = torch.randint(lo2, hi2 + 1, (B,), generator=generator)
        rows = torch.arange(B)
        seq[rows, t1] = 6 + which[:, 0]
        seq[rows, t2] = 6 + which[:, 1]
        return one_hot(seq, self.input_size), 2 * which[:, 0] + which[:, 1]

    def baselines(self, seq_len):
        return (Baseline(math.log(4.0), CURRENT_INPUT, N_("the last input is always the end marker: a guess among 4")),)


class Parity(Task):
    name = "parity"
    title = N_("Parity")
    description = (N_("Read a string of random bits; after the last one say whether the number of ones was odd. "
                   "Every bit matters equally, however far back. Loss: cross-entropy. Without memory the "
                   "answer is a coin flip, ln 2 = 0.693 nats (for a single bit the last input is the answer)."))
    input_size = 1
    output_size = 2
    loss_on = "last"
    min_seq_len = 1

    def batch(self, batch_size, seq_len, generator):
        bits = torch.randint(0, 2, (batch_size, seq_len), generator=generator)
        return bits[..., None].to(torch.float32), bits.sum(1) % 2

    def baselines(self, seq_len):
        if seq_len == 1:
            return (Baseline(0.0, CURRENT_INPUT, N_("the only bit is the answer")),)
        return (Baseline(LN2, CURRENT_INPUT, N_("the last bit says nothing about the others: a coin flip")),)


class Sentiment(Task):
    """Vocabulary: filler words, 'not', the intensifier 'very', positive and negative words."""

    name = "sentiment"
    title = N_("Sentiment with negation")
    fillers = ("the", "movie", "film", "was", "is", "it", "plot", "acting", "and", "this", "so", "really")
    positive = ("good", "great", "fun", "nice")
    negative = ("bad", "awful", "boring", "dull")
    vocab = fillers + ("not", "very") + positive + negative
    classes = ("negative", "positive")
    description = (N_("A toy review of T words: filler words and one opinion word (good, great, fun, nice or bad, "
                   "awful, boring, dull), negated half of the time by a 'not' just before it ('not good', "
                   "'not very good'). After the last word the network says positive or negative; 'not' flips "
                   "the opinion, and the opinion can be anywhere in the review, so both must be remembered. "
                   "Loss: cross-entropy. Without memory it is nearly a coin flip (ln 2 = 0.693 nats): only when "
                   "the review ends with its opinion word does the last word help, and even then it may be "
                   "negated."))
    input_size = len(vocab)
    output_size = 2
    loss_on = "last"
    min_seq_len = 3

    def batch(self, batch_size, seq_len, generator):
        B, T = batch_size, seq_len
        n_fill, n_pos = len(self.fillers), len(self.positive)
        not_id, very_id, first_opinion = n_fill, n_fill + 1, n_fill + 2
        seq = torch.randint(0, n_fill, (B, T), generator=generator)
        opinion = torch.randint(0, 2 * n_pos, (B,), generator=generator)   # < n_pos: positive word
        negated = torch.randint(0, 2, (B,), generator=generator)
        very = torch.randint(0, 2, (B,), generator=generator) * negated     # "not very good"
        phrase = 1 + negated + very
        start = (torch.rand(B, generator=generator) * (T - phrase + 1)).long()
        rows = torch.arange(B)
        seq[rows, start + phrase - 1] = first_opinion + opinion
        neg_rows = negated.bool()
        seq[rows[neg_rows], start[neg_rows]] = not_id
        very_rows = very.bool()
        seq[rows[very_rows], start[very_rows] + 1] = very_id
        is_positive = (opinion < n_pos).long()
        return one_hot(seq, self.input_size), is_positive ^ negated

    def baselines(self, seq_len):
        """The phrase is 1 word (chance 1/2), 'not' + word (1/4) or 'not very' + word (1/4), starting
        uniformly in 0..T - length. The last word is the opinion with chance sum P(L) / (T - L + 1);
        then the label is its polarity unless negated (chance q given that), else a coin flip."""
        T = seq_len
        ends = {1: 0.5 / T, 2: 0.25 / (T - 1), 3: 0.25 / (T - 2)}
        last = sum(ends.values())
        q = (ends[2] + ends[3]) / last
        value = last * float(_binary_entropy(q)) + (1 - last) * LN2
        return (Baseline(value, CURRENT_INPUT, f"reads the opinion when the review ends with it (chance {last:.3g}), "
                                               "else a coin flip"),)

    def words(self, x) -> list[str]:
        """The words of one sequence x [T, input_size]."""
        return [self.vocab[int(k)] for k in np.asarray(x).argmax(-1)]


class LookAhead(Task):
    name = "look_ahead"
    title = N_("Look ahead")
    ahead = 5
    description = N_("Random bits arrive one per step; at every step t the network outputs the bit that arrives "
                     "5 steps later, x_(t+5) (0 on the last 5 steps). The answer lies in the future: a "
                     "bidirectional network reads it with its backward direction and can reach zero loss, a "
                     "forward network can only guess, ln 2 = 0.693 nats on every step whose answer is still to "
                     "come. Loss: cross-entropy per step.")
    output_size = 2
    loss_on = "all"
    min_seq_len = 6

    def batch(self, batch_size, seq_len, generator):
        bits = torch.randint(0, 2, (batch_size, seq_len), generator=generator)
        target = torch.zeros_like(bits)
        target[:, :-self.ahead] = bits[:, self.ahead:]
        return bits[..., None].float(), target

    def baselines(self, seq_len):
        """Knowing only x_t: the target is 1 with probability (T - 5) / (2T) whatever x_t is (the last 5
        targets are 0). Knowing every input up to t and t itself but nothing later: the last 5 targets are
        sure, the others a fair coin."""
        T, d = seq_len, self.ahead
        p = (T - d) / (2 * T)
        return (Baseline(float(_binary_entropy(np.array(p))), CURRENT_INPUT,
                         f"always says 1 with p = {p:.3g}"),
                Baseline((T - d) / T * LN2, NO_FUTURE,
                         "a fair coin on every step whose answer is still to come, 0 on the last 5"))


TASKS: dict[str, Task] = {t.name: t for t in (AddingProblem(), CopyTask(), BinaryAddition(), TemporalOrder(),
                                                Parity(), LookAhead(), Sentiment())}


def get_task(task) -> Task:
    """A Task, given one or its name."""
    if isinstance(task, Task):
        return task
    if isinstance(task, str) and task in TASKS:
        return TASKS[task]
    raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
