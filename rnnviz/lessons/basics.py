"""Lessons 1-5 of the lecture: a sequence and one cell reused over time; structures and where the loss
sits; backpropagation through time; one neuron with w < 1 and w > 1; activation functions and the
bounds of their derivatives. Each step's numbers come from the engine, for the step's knob values.
"""
from __future__ import annotations

import numpy as np

from .. import dynamics, inputs, memory, plots
from ..files.lessons import GRADIENT_PAGE, STEP_PAGE
from ..i18n import N_, _
from ..spec import Scenario
from .course import Lesson, Step, legend_below, pick, state

NEURON_PAGE = "pages/3_One_Neuron.py"
SENTENCE = "what time is it?"
SHORT_MEMORY = dict(cell="rnn", input_kind="text", text=SENTENCE, seq_len=len(SENTENCE))


def log10_sci(value: float) -> str:
    """A number given by its log10, as text: 0.0123 or 2.51 × 10⁻⁴⁷."""
    return plots.sci(float(value))


# ------------------------------------------------------------------------------ 1 · one cell, reused
def _reuse(v: dict) -> dict:
    sc = Scenario.from_values(v)
    tr = sc.trace()
    text = (sc.text * (-(-sc.seq_len // len(sc.text))))[:sc.seq_len]
    t1, t2 = [i for i, ch in enumerate(text) if ch == "t"][:2]
    distance = float(np.linalg.norm(tr.hidden[t2].astype(np.float64) - tr.hidden[t1]))
    return dict(tr=tr, t1=t1, t2=t2, distance=distance, size=float(np.linalg.norm(tr.hidden[t1])), T=tr.T,
                H=tr.hidden_size, params=sum(p.numel() for p in sc.model().parameters()),
                gain=v["recurrent_gain"], sentence=sc.text)


def _shares(v: dict) -> dict:
    shares = memory.compare(Scenario.from_values(v), ("rnn", "lstm"))
    rnn, lstm = shares["rnn"], shares["lstm"]
    top = int(np.argmax(rnn.share))
    return dict(shares=shares, words=rnn.words, **{f"w{i}": w for i, w in enumerate(rnn.words)},
                first=rnn.words[0], last=rnn.words[-1], top=rnn.words[top], rnn_top=float(rnn.share[top]),
                rnn_first=float(rnn.share[0]), lstm_first=float(lstm.share[0]), rnn_last=float(rnn.share[-1]),
                lstm_last=float(lstm.share[-1]), forget_bias=v["forget_bias"], sentence=rnn.text,
                method=memory.METHOD_TEXT, top_index=top)


def share_figure(live: dict, scale: float = 1.0):
    return plots.word_share_grid(live["words"], {"RNN": live["shares"]["rnn"].share,
                                                 "LSTM": live["shares"]["lstm"].share},
                                 method=live["method"], scale=scale, height=400,
                                 title=_("Each word's share of the final state"))


LESSON_1 = Lesson(1, N_("A sequence, and one cell reused over time"),
                  N_("An RNN reads a sequence one element at a time with the same weights at every step."), (
    Step(N_("The same cell at every step"), state("lesson-1-1", STEP_PAGE, **SHORT_MEMORY),
         N_("The RNN reads “{sentence}” one character at a time, with the same weights at every step. The letter "
         "“t” arrives at step {t1} and again at step {t2}. Is the hidden state after the two “t”s the same?"),
         (N_("Yes: the same input and the same weights give the same state"),
          N_("No: the state also carries everything read before")),
         N_("The hidden states after the two “t”s differ by ‖h_{t2} − h_{t1}‖ = {distance:.3g} (a state's size here is "
         "about {size:.3g}). Both steps apply the same cell to the same input, but "
         "h_t = tanh(W_ih·x_t + W_hh·h_(t−1) + b) also reads the previous state: the difference is the memory of "
         "what came before. Unrolled, the network is a chain of {T} copies of one cell: {params} parameters, "
         "whatever the length of the sequence."),
         _reuse, lambda live: 0 if live["distance"] <= 1e-6 * max(live["size"], 1.0) else 1,
         lambda live, scale=1.0: plots.heatmap(live["tr"].hidden, kind="state", cursor=live["t2"], scale=scale,
                                               height=380, colorbar_title="h",
                                               title=_("One cell at every step: the hidden state h"))),
    Step(N_("Short-term memory, word by word"), state("lesson-1-2", STEP_PAGE, **SHORT_MEMORY),
         N_("After reading “{sentence}”, which word contributes most to the RNN's final hidden state?"),
         (N_("“{w0}”"), N_("“{w1}”"), N_("“{w2}”"), N_("“{w3}”")),
         N_("Method: {method}. “{top}” holds "
         "{rnn_top:.0%} of the RNN's final state, the first word “{first}” only {rnn_first:.0%}. The RNN's memory "
         "is short: each step overwrites part of the state. The LSTM below (forget bias {forget_bias:g}) still "
         "owes {lstm_first:.0%} of its final state to “{first}”; lesson 6 explains why."),
         _shares, lambda live: live["top_index"], share_figure),
))


# ------------------------------------------------------------------------------ 2 · structures and the loss
def _loss_place(v: dict) -> dict:
    sc = Scenario.from_values(v)
    last, every = sc.replace(loss="last").trace(), sc.replace(loss="all").trace()
    tr = every if v["loss"] == "all" else last
    g = tr.log10_grad_norm
    return dict(tr=tr, last_tr=last, every_tr=every, T=tr.T, back=tr.T - 1, gain=v["recurrent_gain"],
                at_end=log10_sci(g[-1]), at_start=log10_sci(g[0]), peak=int(np.argmax(g)),
                spread=float(np.nanmax(g) - np.nanmin(g)), last0=float(last.log10_grad_norm[0]),
                every0=float(every.log10_grad_norm[0]), last_start=log10_sci(last.log10_grad_norm[0]),
                every_start=log10_sci(every.log10_grad_norm[0]))


def _where_largest(live: dict) -> int:
    if live["spread"] < 0.05:
        return 2
    return 0 if live["peak"] >= live["T"] / 2 else 1


def _every_vs_last(live: dict) -> int:
    diff = live["every0"] - live["last0"]
    return 2 if abs(diff) < 0.01 else 0 if diff > 0 else 1


def structures(highlight: str):
    """The four structures, `highlight` framed: the diagram that goes with a lesson 2 question."""
    return lambda scale=1.0: plots.structures_diagram(highlight, scale=scale,
                                                      title=_("Four structures, and where the loss sits"))


LOSS_STATE = dict(cell="rnn", recurrent_gain=0.9, seq_len=100)
LESSON_2 = Lesson(2, N_("Structures, and where the loss sits"),
                  N_("One-to-many, many-to-one, many-to-many and encoder-decoder differ in where inputs enter and "
                  "where the loss sits."), (
    Step(N_("Many-to-one: one loss at the end"), state("lesson-2-1", GRADIENT_PAGE, loss="last", **LOSS_STATE),
         N_("Many-to-one (say, a review read word by word, then one sentiment score): the loss sits on the last of "
         "{T} steps only. Where is the RNN's gradient ‖∂L/∂h_k‖ largest?"),
         (N_("At the last step, where the loss is"), N_("At the first step"), N_("About the same at every step")),
         N_("Only the last state feeds the loss; every earlier step reaches it through a chain of Jacobians. The "
         "gradient is {at_end} at the last step and {at_start} at the first, {back} steps back. The other "
         "structures: one-to-many (one input, an output at every step, e.g. a caption), many-to-many (an output "
         "and a loss at every step) and encoder-decoder (lesson 9)."),
         _loss_place, _where_largest,
         lambda live, scale=1.0: legend_below(plots.gradient_vs_lag(
             {"RNN": live["tr"]}, scale=scale, height=440, title=_("‖∂L/∂h_k‖ with the loss on the last step"))),
         structures("many_to_one")),
    Step(N_("Many-to-many: a loss at every step"), state("lesson-2-2", GRADIENT_PAGE, loss="all", **LOSS_STATE),
         N_("Many-to-many (say, tagging every word): now a loss sits on every step. Compared with one loss on the "
         "last step, is the gradient at the first step larger or smaller?"),
         (N_("Larger"), N_("Smaller"), N_("The same")),
         N_("With a loss at every step, ∂L/∂h_k gets a direct term from the loss at step k itself, on top of "
         "everything that comes back from later steps: at the first step it is {every_start} instead of "
         "{last_start}. Where the loss sits decides which steps get a usable gradient."),
         _loss_place, _every_vs_last,
         lambda live, scale=1.0: legend_below(plots.gradient_vs_lag(
             {"loss on every step": live["every_tr"], "loss on the last step": live["last_tr"]}, scale=scale,
             height=440, dotted=("loss on the last step",),
             title=_("‖∂L/∂h_k‖ for two places of the loss"))),
         structures("many_to_many")),
))


# ------------------------------------------------------------------------------ 3 · BPTT
def _chain(v: dict) -> dict:
    tr = Scenario.from_values(v).trace()
    n = min(60, tr.T - 1)
    steps, product = tr.step_jacobian_norms(n + 1), tr.jacobian_norms(n)
    recent = steps[tr.T - n:]
    bound = float(np.sum(recent))          # log10 of the product of the norms over n steps
    true = float(product[tr.T - 1 - n])    # log10 of the norm of the product over the same steps
    return dict(tr=tr, steps=steps, product=product, n=n, gain=v["recurrent_gain"],
                median=float(10 ** np.median(recent)), bound=bound, true=true, gap=bound - true,
                bound_sci=log10_sci(bound), true_sci=log10_sci(true))


def chain_figure(live: dict, scale: float = 1.0):
    return plots.jacobian_chain(live["tr"], step_norms=live["steps"], product=live["product"], last=live["n"],
                                scale=scale, height=460,
                                title=_("The last {n} Jacobians and their product").format(n=live["n"]))


CHAIN_STATE = dict(cell="rnn", recurrent_gain=0.9, input_kind="noise", seq_len=100)
LESSON_3 = Lesson(3, N_("Backpropagation through time"),
                  N_("The gradient flows back through the unrolled chain, one Jacobian per step."), (
    Step(N_("One Jacobian per step back"), state("lesson-3-1", GRADIENT_PAGE, **CHAIN_STATE),
         N_("Backpropagation through time multiplies the gradient by one Jacobian ∂h_k/∂h_(k−1) per step back. With "
         "recurrent gain {gain:g}, are the norms of these factors mostly below 1 or above 1?"),
         (N_("Below 1: each step back shrinks the gradient"), N_("About 1"),
          N_("Above 1: each step back stretches it")),
         N_("The median factor over the last {n} steps is {median:.3g}. The gradient that reaches a step {n} steps "
         "back is the product of {n} such factors: its norm is at most {bound_sci}, and the exact norm of the "
         "product is {true_sci}."),
         _chain, lambda live: pick(live["median"], 0.99, 1.01), chain_figure),
    Step(N_("The product of the factors"), state("lesson-3-2", GRADIENT_PAGE, **CHAIN_STATE),
         N_("Multiplying the {n} factors' norms gives {bound_sci}, an upper bound on the norm of their product. Is "
         "the exact norm of the product close to that bound (within a factor of 3) or far below it?"),
         (N_("Close to the bound"), N_("Far below it")),
         N_("The exact ‖∂h_(T−1)/∂h_(T−1−{n})‖ is {true_sci}, {gap:.2f} decades below the bound. The bound is reached "
         "only when every factor stretches the same direction; the factors of a noisy input point in different "
         "directions and partly cancel, so the true product is smaller (Pascanu et al. 2013)."),
         _chain, lambda live: 0 if live["gap"] < np.log10(3) else 1, chain_figure),
))


# ------------------------------------------------------------------------------ 4 · one neuron
def _neuron(v: dict) -> dict:
    run = dynamics.one_neuron(v["w"], v["u"], v["b"], v["activation"],
                              inputs.neuron_input(v["neuron_input"], v["steps"]), v["h0"])
    factors = run["log10_factor"]
    return dict(run=run, w=v["w"], T=v["steps"], activation=v["activation"], log10_grad=float(run["log10_grad"][0]),
                grad=log10_sci(run["log10_grad"][0]), last_factor=float(10 ** factors[-1]),
                max_factor=float(10 ** np.max(factors)), h_end=float(run["h"][-1]), bound=abs(v["w"]) * (
                    dynamics.gamma("rnn", v["activation"]) if v["activation"] != "linear" else 1.0))


def neuron_figure(live: dict, scale: float = 1.0):
    return plots.neuron_gradient(live["run"]["log10_factor"], live["run"]["log10_grad"], scale=scale, height=440,
                                 title=_("Factors and their product: w = {w:g}, {activation}").format(
                                     w=live["w"], activation=_(live["activation"])))


LESSON_4 = Lesson(4, N_("One neuron: w < 1 vanishes, w > 1 explodes"),
                  N_("One unit feeding itself, h_t = act(w·h_(t−1) + u·x_t + b): the gradient is a product of T "
                  "factors w·act′."), (
    Step(N_("w below 1"), state("lesson-4-1", NEURON_PAGE, w=0.9, activation="linear", steps=50),
         N_("A linear neuron with recurrent weight w = {w:g}. After {T} steps back, is the gradient ∂h_T/∂h_0 bigger "
         "or smaller than 1/100?"),
         (N_("Bigger than 1/100"), N_("Smaller than 1/100")),
         N_("Each step back multiplies the gradient by w = {w:g}, so after {T} steps it is {grad}: "
         "smaller than 1/100. An error at the end of the sequence barely reaches its start."),
         _neuron, lambda live: 0 if live["log10_grad"] > -2 else 1, neuron_figure),
    Step(N_("w above 1"), state("lesson-4-2", NEURON_PAGE, w=1.1, activation="linear", steps=50),
         N_("Now w = {w:g}, only a little above 1. After {T} steps back, is the gradient bigger or smaller than 100?"),
         (N_("Bigger than 100"), N_("Smaller than 100")),
         N_("{T} factors of {w:g} multiply to {grad}. A small excess over 1 compounds like interest: the gradient "
         "explodes, and one training step can throw the weights far away."),
         _neuron, lambda live: 0 if live["log10_grad"] > 2 else 1, neuron_figure),
    Step(N_("A saturating activation"), state("lesson-4-3", NEURON_PAGE, w=1.5, activation="tanh", steps=50),
         N_("The same neuron with tanh and w = {w:g}, kicked by one input at the first step. Does its gradient "
         "explode over {T} steps?"),
         (N_("Yes, it grows"), N_("No, it fades")),
         N_("The state settles at h = {h_end:.3f}, where tanh is flat: each factor is w·(1 − h²) = {last_factor:.3f}, "
         "below 1, and after {T} steps the gradient is {grad}. Saturation turns an exploding weight into a "
         "vanishing gradient."),
         _neuron, lambda live: 0 if live["log10_grad"] > 0 else 1, neuron_figure),
))


# ------------------------------------------------------------------------------ 5 · activations
ACTIVATION_COLORS = {"tanh": "#d62728", "sigmoid": "#9467bd", "relu": "#ff7f0e"}


def _activations(v: dict) -> dict:
    sc = Scenario.from_values(v)
    traces = {a: sc.replace(activation=a).trace() for a in ACTIVATION_COLORS}
    first = {a: float(tr.log10_grad_norm[0]) for a, tr in traces.items()}
    return dict(traces=traces, back=sc.seq_len - 1, gain=v["recurrent_gain"], winner=max(first, key=first.get),
                **{f"{a}_start": log10_sci(g) for a, g in first.items()},
                **{f"{a}_gamma": tr.gamma for a, tr in traces.items()})


LESSON_5 = Lesson(5, N_("Activation functions and their derivative bounds"),
                  N_("The slope of the activation is one factor of every step's Jacobian: at most 1 for tanh and "
                  "ReLU, 1/4 for the sigmoid."), (
    Step(N_("Three activations, one network"), state("lesson-5-1", GRADIENT_PAGE, cell="rnn", recurrent_gain=1.0,
                                                 seq_len=100),
         N_("The same RNN (recurrent gain {gain:g}, kicked once at the first step) with three activations: tanh, "
         "sigmoid and ReLU. {back} steps back, whose gradient is largest?"),
         (N_("tanh"), N_("sigmoid"), N_("ReLU")),
         N_("{back} steps back the gradient is {tanh_start} with tanh, {sigmoid_start} with the sigmoid and "
         "{relu_start} with ReLU. The sigmoid's slope is at most {sigmoid_gamma:g}, so every step multiplies "
         "the gradient by a factor at most a quarter of the weights' stretch; tanh's slope reaches {tanh_gamma:g} "
         "only at 0 and falls where units saturate; ReLU's slope is 1 on every active unit and 0 on every "
         "inactive one: it never saturates, but each unit that switches off cuts a path back."),
         _activations, lambda live: list(ACTIVATION_COLORS).index(live["winner"]),
         lambda live, scale=1.0: legend_below(plots.labelled_gradients(
             {a: tr.log10_grad_norm for a, tr in live["traces"].items()}, ACTIVATION_COLORS, scale=scale,
             height=440, title=_("‖∂L/∂h_k‖ of one RNN with three activations")))),
    Step(N_("The sigmoid's quarter"), state("lesson-5-2", NEURON_PAGE, w=3.0, activation="sigmoid", steps=40),
         N_("A sigmoid neuron with w = {w:g}: its factor w·σ′ is at most {bound:g}. Does its gradient stay above "
         "1/100 over {T} steps?"),
         (N_("Yes"), N_("No")),
         N_("The largest factor along the way is {max_factor:.3f} (the bound is w/4 = {bound:g}), and after {T} steps "
         "the gradient is {grad}. Even w = 3 cannot keep a sigmoid's gradient alive: the derivative bound 1/4 "
         "is why tanh replaced the sigmoid in recurrent layers."),
         _neuron, lambda live: 0 if live["log10_grad"] > -2 else 1, neuron_figure),
))
