"""Lessons 6-9 of the lecture: the LSTM's gates and its cell state; the GRU; a language model and
sampling at a temperature; translation with an encoder-decoder.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from .. import plots
from ..cells import LABELS, sigmoid
from ..files.lessons import GRADIENT_PAGE, STEP_PAGE
from ..i18n import N_, Message, _
from ..labs import corpora, pretrained, translator
from ..labs.charlm import CharLM
from ..spec import Scenario
from .basics import SHORT_MEMORY, _shares, log10_sci, share_figure
from .course import Lesson, Step, legend_below, state

TEXT_PAGE = "pages/6_Text_Lab.py"
TRANSLATION_PAGE = "pages/5_Translation.py"


def _share_kept(mean: float) -> int:
    """Choices "about half", "about 95%", "almost none": which one a mean gate value is nearest."""
    return 2 if mean < 0.25 else 0 if mean < 0.75 else 1


# ------------------------------------------------------------------------------ 6 · LSTM
def _gates(v: dict) -> dict:
    tr = Scenario.from_values(v).trace()
    gate = "forget" if tr.cell_type == "lstm" else "update"
    means = {g: float(np.mean(tr.gates[g])) for g in tr.gate_names if g != "candidate"}
    return dict(tr=tr, gate=gate, mean=means[gate], bias=v["forget_bias"], sig=float(sigmoid(v["forget_bias"])),
                **{f"{g}_mean": m for g, m in means.items()}, T=tr.T)


def gate_figure(live: dict, scale: float = 1.0):
    tr, gate = live["tr"], live["gate"]
    return plots.heatmap(tr.gates[gate], kind="gate", scale=scale, height=380, zmax=1.0,
                         colorbar_title="f" if gate == "forget" else "z", title=plots.gate_title(tr.cell_type, gate))


def _paths(v: dict) -> dict:
    sc = Scenario.from_values(v)
    traces = sc.traces(("rnn", v["cell"]))
    rnn, gated = traces["rnn"], traces[v["cell"]]
    path = gated.log10_cell_grad_norm if gated.log10_cell_grad_norm is not None else gated.log10_grad_norm
    return dict(traces=traces, back=sc.seq_len - 1, bias=v["forget_bias"], rnn0=float(rnn.log10_grad_norm[0]),
                path0=float(path[0]), drop=float(path[0] - path[-1]), rnn_start=log10_sci(rnn.log10_grad_norm[0]),
                path_start=log10_sci(path[0]))


def paths_figure(live: dict, scale: float = 1.0):
    return legend_below(plots.gradient_vs_lag({LABELS[c]: tr for c, tr in live["traces"].items()}, scale=scale,
                                              height=440, title=_("How much of the loss reaches each step")))


LSTM_STATE = dict(cell="lstm", forget_bias=3.0, input_kind="noise", seq_len=100)
LESSON_6 = Lesson(6, N_("The LSTM: three gates and a highway for the cell state"),
                  N_("c_t = f_t·c_(t−1) + i_t·g_t, h_t = o_t·tanh(c_t): the input, forget and output gates decide what "
                  "enters, stays in and leaves the cell state."), (
    Step(N_("The forget gate"), state("lesson-6-1", STEP_PAGE, **LSTM_STATE),
         N_("The LSTM's forget gate starts with bias {bias:g}. On average, what share of the cell state does it pass "
         "on to the next step?"),
         (N_("About half"), N_("About 95%"), N_("Almost none")),
         N_("The forget gate averages f = {mean:.2f} over all units and steps (σ({bias:g}) = {sig:.2f}): the cell "
            "state "
         "c_t = f_t·c_(t−1) + i_t·g_t keeps most of itself from step to step. The input gate averages "
         "{input_mean:.2f} (how much new content is written), the output gate {output_mean:.2f} (how much of the "
         "cell is shown in h)."),
         _gates, lambda live: _share_kept(live["mean"]), gate_figure),
    Step(N_("The cell state is a highway"), state("lesson-6-2", GRADIENT_PAGE, **LSTM_STATE),
         N_("{back} steps back: which is larger, the plain RNN's gradient ‖∂L/∂h_k‖ or the LSTM's gradient along its "
         "cell state ‖∂L/∂c_k‖?"),
         (N_("The RNN's"), N_("The LSTM's cell path")),
         N_("{back} steps back the RNN's gradient is {rnn_start}, the LSTM's along the cell state {path_start}. On the "
         "cell path each step back multiplies the gradient only by the forget gate (∂c_t/∂c_(t−1) = f_t), with no "
         "weight matrix and no squashing slope in between: with f near 1 it is a highway through time."),
         _paths, lambda live: 0 if live["rnn0"] > live["path0"] else 1, paths_figure),
    Step(N_("Word by word: RNN against LSTM"), state("lesson-6-3", STEP_PAGE, **SHORT_MEMORY),
         N_("“{sentence}” once more. Who keeps more of the first word “{first}” in its final state: the RNN or "
         "the LSTM?"),
         (N_("The RNN"), N_("The LSTM"), N_("About the same")),
         N_("Method: {method}. “{first}” still holds {lstm_first:.0%} of "
         "the LSTM's final state and {rnn_first:.0%} of the RNN's. The LSTM's forget gate (bias {forget_bias:g}) "
         "lets the cell state carry the first word to the end; the RNN's state is mostly its last word "
         "“{last}” ({rnn_last:.0%})."),
         _shares, lambda live: (2 if 0.8 <= live["lstm_first"] / max(live["rnn_first"], 1e-12) <= 1.25
                                else 0 if live["rnn_first"] > live["lstm_first"] else 1), share_figure),
))


# ------------------------------------------------------------------------------ 7 · GRU
GRU_STATE = dict(cell="gru", forget_bias=3.0, input_kind="noise", seq_len=100)
LESSON_7 = Lesson(7, N_("The GRU"), N_("h_t = (1 − z_t)·n_t + z_t·h_(t−1): one update gate mixes the old state and a "
                                "candidate; a reset gate decides how much of the old state the candidate reads."), (
    Step(N_("The update gate"), state("lesson-7-1", STEP_PAGE, **GRU_STATE),
         N_("The GRU's update gate z starts with bias {bias:g}. On average, how much of its old state does the GRU "
         "keep at each step?"),
         (N_("About half"), N_("About 95%"), N_("Almost none")),
         N_("The update gate averages z = {mean:.2f} (σ({bias:g}) = {sig:.2f}), so each step keeps that share of the "
         "old state and takes the rest from the candidate n_t. The reset gate averages {reset_mean:.2f}. One gate "
         "does the work of the LSTM's input and forget gates, and there is no separate cell state."),
         _gates, lambda live: _share_kept(live["mean"]), gate_figure),
    Step(N_("The GRU's gradient"), state("lesson-7-2", GRADIENT_PAGE, **GRU_STATE),
         N_("{back} steps back, does the GRU's gradient stay above 1/1000 of its value at the last step?"),
         (N_("Yes"), N_("No")),
         N_("{back} steps back the GRU's gradient is {path_start} (the plain RNN's: {rnn_start}). Where z is near 1 "
         "the state is copied forward, and so is the gradient: the step Jacobian contains diag(z)."),
         _paths, lambda live: 0 if live["drop"] > -3 else 1, paths_figure),
))


# ------------------------------------------------------------------------------ 8 · language model
@functools.lru_cache(maxsize=1)
def _stored_text_model(settings: tuple) -> CharLM:
    result = pretrained.text_lab(dict(zip(pretrained.TEXT_LAB_KNOBS, settings)))
    if result is None:
        raise ValueError("lesson 8 reads the Text Lab's run trained in advance, at the Text Lab's default settings")
    return CharLM.from_fit(result)


def text_lab_model(v: dict) -> CharLM:
    """The character model the Text Lab shows for these knob values: its run trained in advance."""
    return _stored_text_model(tuple(v[name] for name in pretrained.TEXT_LAB_KNOBS))


def entropy_bits(q: np.ndarray) -> np.ndarray:
    """Entropy in bits of each row of a [n, V] array of distributions (0 · log 0 = 0)."""
    q = np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 0.0 - np.where(q > 0, q * np.log2(q), 0.0).sum(-1)   # a certain choice: 0 bits, not −0


def _sampling(v: dict) -> dict:
    """The Text Lab's model writing after its prompt, as the Text Lab does for these knobs: how often it wrote
    its most likely character, how uncertain the distributions it drew from were, how much of the text agrees
    with its training text (character by character, after the prompt)."""
    lm = text_lab_model(v)
    corpus = corpora.get_corpus(v["corpus"])
    prompt = corpora.default_prompt(corpus)
    smp = lm.sample(prompt, v["sample_len"], temperature=v["temperature"], top_k=v["top_k"], seed=v["sample_seed"])
    n, V, T = len(smp.codes), len(lm.vocab), v["temperature"]   # n >= 1 (sample_len's range)
    follows = corpus.train_text[corpus.train_text.index(prompt) + len(prompt):]   # what it was trained on
    sampled, model = entropy_bits(smp.sampling_probs), entropy_bits(smp.probs)
    return dict(sample=smp, sampled_bits=sampled, model_bits=model, prompt=prompt, n=n, V=V, cell=lm.cell,
                H=lm.hidden_size, temperature=T, inverse=1 / T if T else None,   # T = 0: greedy, no division
                share=float(np.mean(smp.codes == np.argmax(smp.probs, 1))), entropy=float(sampled.mean()),
                model_entropy=float(model.mean()), uniform=float(np.log2(V)), text=_inert(smp.text[:70]),
                agree=sum(a == b for a, b in zip(smp.text, follows)) / n,
                train_bpc=lm.bits_per_char(corpus.train_text), held_bpc=lm.bits_per_char(corpus.held_out_text))


def _share_choice(live: dict) -> int:
    """Choices "nearly all (over 90%)", "between half and 90%", "half or fewer"."""
    return 0 if live["share"] > 0.9 else 1 if live["share"] > 0.5 else 2


def _inert(text: str) -> str:
    """A generated text for a code span: line breaks shown as ↵, no backticks."""
    return text.replace("\n", "↵").replace("`", "'")


def sampling_figure(live: dict, scale: float = 1.0):
    title = (_("Entropy at each character written, T = 0 (greedy)") if live["temperature"] == 0 else
             _("Entropy at each character written, T = {t:g}").format(t=live["temperature"]))
    return plots.sampling_entropy(live["sampled_bits"], live["model_bits"], live["uniform"], cell=live["cell"],
                                  scale=scale, height=420, title=title)


# Lesson 8 asked for temperature 0 (its steps show 0.2 and 2): greedy decoding, the likeliest character every
# time, not a division by 0.
GREEDY_QUESTION = N_("The same model and prompt, now at temperature 0: greedy decoding, which writes its likeliest "
                     "character at every step. What share of the {n} characters it writes is its most likely "
                     "character?")
GREEDY_EXPLANATION = N_(
    "Temperature 0 is greedy decoding: the logits are not divided by 0, the likeliest character is written every "
    "time. {share:.0%} of the {n} characters written were the model's first choice, and the distributions it drew "
    "from held {entropy:.2f} bits of uncertainty on average (0: one character is certain; {uniform:.2f}: all {V} "
    "characters equally likely). It wrote `{text}…`: {agree:.0%} of its characters are those of its training text "
    "at the same place. A temperature near 0 writes the same text: dividing the logits by a small number "
    "multiplies their differences until the likeliest character takes all the probability.")


def _greedy_at_0(step: Step, greedy_question: bool = False) -> Step:
    """A lesson 8 step whose explanation (and with `greedy_question` its question) is the greedy one when its
    temperature is changed to 0."""
    def pick(text: str, greedy: str):
        return lambda live: greedy if live["temperature"] == 0 else text

    return dataclasses.replace(step, explanation=pick(step.explanation, GREEDY_EXPLANATION),
                               question=pick(step.question, GREEDY_QUESTION) if greedy_question else step.question)


SHARE_CHOICES = (N_("Nearly all (over 90%)"), N_("Between half and 90%"), N_("Half or fewer"))
LESSON_8 = Lesson(8, N_("A language model, and sampling at a temperature"),
                  N_("A language model gives a probability to every possible next character; writing text means "
                  "drawing from it, one character at a time, sharpened or flattened by a temperature."), (
    _greedy_at_0(Step(N_("Temperature below 1"), state("lesson-8-1", TEXT_PAGE, temperature=0.2),
         N_("The Text Lab's RNN ({H} units, trained in advance on the Zen of Python) reads “{prompt}”, the start of "
         "a line of its training text, and writes {n} characters at temperature {temperature:g}. What share of "
         "them is the character the model itself found most likely?"),
         SHARE_CHOICES,
         N_("Dividing the logits by {temperature:g} multiplies their differences by {inverse:g}: the likeliest "
         "character takes nearly all the probability. {share:.0%} of the {n} characters written were the model's "
         "first choice, and the distributions it drew from held {entropy:.2f} bits of uncertainty on average (0: "
         "one character is certain; {uniform:.2f}: all {V} characters equally likely). It wrote `{text}…`: "
         "{agree:.0%} of its characters are those of its training text at the same place. This model has "
         "memorised its training text: it predicts that text at {train_bpc:.2f} bits per character, but the last "
         "tenth of the Zen, which it never saw, at {held_bpc:.2f} bits (a uniform guess costs {uniform:.2f}). A "
         "low temperature makes it recite what it memorised."),
         _sampling, _share_choice, sampling_figure)),
    _greedy_at_0(Step(N_("Temperature above 1"), state("lesson-8-2", TEXT_PAGE, temperature=2.0),
         N_("The same model and prompt, now at temperature {temperature:g}: the logits are divided by "
         "{temperature:g} before the softmax. What share of the {n} characters it writes is now its most likely "
         "character?"),
         SHARE_CHOICES,
         N_("Dividing by {temperature:g} shrinks the differences between the logits, so less likely characters get "
         "drawn: {share:.0%} of the {n} characters were the model's first choice. The distributions it drew from "
         "held {entropy:.2f} bits on average, against {model_entropy:.2f} bits for the model's own distributions "
         "along the same text ({uniform:.2f} bits: all {V} characters equally likely). It wrote `{text}…`: only "
         "{agree:.0%} of its characters are those of its training text at the same place. Once it has written an "
         "unlikely character it is reading a text it never saw, where this memorising model is unsure, and the "
         "temperature flattens its guesses further: the chart's line rises where the text leaves the Zen. "
         "Temperature 1 samples the model's own distribution."),
         _sampling, _share_choice, sampling_figure), greedy_question=True),
))


# ------------------------------------------------------------------------------ 9 · translation
LONG_DATE = "On Wednesday, June 20, 2001, we finally met again after many long years"


def _translator(v: dict):
    """The Translation page's model for these settings: at its defaults the run trained in advance
    (model, assessment), else the untrained model it opens with (model, None)."""
    config = pretrained.translation_config(v)
    stored = pretrained.translation(config)
    if stored is not None:
        return stored[0], stored[2]
    return translator.new_model(config), None


def _encoder(v: dict) -> dict:
    model, assessment = _translator(v)
    look = translator.look_inside(model, v["tr_text"])
    longer = translator.look_inside(model, LONG_DATE)

    def size(inspection):
        return inspection.context.size + (inspection.context_cell.size if inspection.context_cell is not None
                                          else 0)
    chars, H = len(look.input_chars), model.hidden_size
    if assessment is None:
        writes = Message(N_("This model is untrained (the Translation page trains one in about a minute): from "
                            "these numbers its decoder writes {output}."), output=look.output)
        fades = Message(N_("This model is untrained, so it writes {output} here; the Translation page trains one "
                           "and measures how its accuracy falls as more text follows the date."), output=longer.output)
    else:
        writes = Message(N_("This is the model the Translation page trained in advance at its defaults: from these "
                            "numbers alone its decoder writes {output}."), output=look.output)
        gap = int(assessment.gaps[-1])
        fades = Message(N_("The trained model still writes {output} here. But on the Translation page's test of "
                           "{n} dates, with {gap} characters of text after the date only {after:.0%} come out "
                           "right, against {before:.0%} with none."), output=longer.output, n=assessment.gap_n,
                        gap=gap, after=float(assessment.after[-1]), before=float(assessment.after[0]))
    return dict(look=look, long_look=longer, text=v["tr_text"], chars=chars, H=H, context_size=size(look),
                long_size=size(longer), writes=writes, fades=fades,
                long_chars=len(LONG_DATE), all_states=chars * H, two_H=2 * H, c_size=size(look) - look.context.size,
                long_text=LONG_DATE)


def encoder_figure(live: dict, scale: float = 1.0, which: str = "look"):
    states = live[which].encoder_states
    return plots.heatmap(states, kind="state", cursor=len(states) - 1, scale=scale, height=420, colorbar_title="h",
                         title=_("Encoder states h; the last is the context"))


TRANSLATION_STATE = dict(tr_cell="lstm")   # the Translation page's defaults: its run trained in advance
LESSON_9 = Lesson(9, N_("Translation with an encoder-decoder"),
                  N_("An encoder reads the whole input; its final state is the only thing a decoder gets before it "
                  "writes the output one character at a time."), (
    Step(N_("What the decoder gets"), state("lesson-9-1", TRANSLATION_PAGE, **TRANSLATION_STATE),
         N_("The encoder reads “{text}”, {chars} characters, into states of {H} numbers each. How many numbers does "
         "it hand to the decoder?"),
         (N_("{H}: its last hidden state h"), N_("{two_H}: its last h and its cell state c"),
          N_("{all_states}: one state per character")),
         N_("The decoder starts from the encoder's final state and nothing else: the hidden state h ({H} numbers) "
         "and, for an LSTM, its cell state c ({c_size} numbers here), {context_size} in all, whatever the length "
         "of the input. {writes}"),
         _encoder, lambda live: [live["H"], live["two_H"], live["all_states"]].index(live["context_size"]),
         encoder_figure),
    Step(N_("A longer sentence"), state("lesson-9-2", TRANSLATION_PAGE, **TRANSLATION_STATE),
         N_("Now the date sits inside a sentence of {long_chars} characters. Does the context the decoder receives "
         "grow with it?"),
         (N_("No, it stays the same size"), N_("Yes, it grows with the sentence")),
         N_("For “{long_text}” the context is still {long_size} numbers, as for the {chars} characters of "
         "“{text}”. Everything the decoder needs must squeeze through this one fixed-size vector, and the "
         "earliest characters fade from it first. {fades} Attention (Bahdanau et al. 2015) lets the decoder look "
         "back at every encoder state instead."),
         _encoder, lambda live: 0 if live["long_size"] == live["context_size"] else 1,
         lambda live, scale=1.0: encoder_figure(live, scale, "long_look")),
))
