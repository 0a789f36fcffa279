"""Text Lab: train a character language model, sample from it, and look at what its units learned."""
import numpy as np
import streamlit as st

import rnnviz
from rnnviz import cells, inputs, plots, ui
from rnnviz.i18n import _
from rnnviz.labs import charlm, corpora, training, units
from rnnviz.spec import KNOBS

ctx = ui.page_setup("Text Lab")
ss = st.session_state
FONT = int(18 * ctx.scale)   # coloured text, larger in presentation mode
st.title(_("Text lab: a character language model"))
figure = ctx.figure_slot()  # on a projector the training curves come right under the title
st.markdown(_(
    "A recurrent network reads a text one character at a time and, at every step, predicts the next "
    "character. Train one for a minute, let it write, and look at what its units respond to."
))

TRAIN = ["corpus", "cell", "lm_hidden", "seed", "lm_steps", "lm_seq_len", "lm_batch", "lm_lr"]
VIEW = ["temperature", "top_k", "sample_len", "sample_seed", "look_len", "lm_state", "lm_unit", "grad_pos"]
ui.show_notes(ui.check_url(TRAIN + VIEW))
models = ss.setdefault("lm_models", {})   # cell -> {"lm": CharLM, "corpus": corpus key}; this user's only


with ui.controls():
    st.subheader(_("Text"))
    corpus_name = ui.knob("corpus")
    if corpus_name == "upload":
        ui.labs.text_uploader()
    st.subheader(_("Model"))
    cell = ui.knob("cell", options=cells.CELLS)
    H = ui.knob("lm_hidden")
    seed = ui.knob("seed", number=True)
    st.subheader(_("Training"))
    steps = ui.knob("lm_steps")
    seq_len = ui.knob("lm_seq_len")
    batch = ui.knob("lm_batch")
    lr = ui.knob("lm_lr")
    st.caption(_("Adam, gradients clipped to norm 1; orthogonal recurrent weights, forget / update bias 1."))

# ---------------------------------------------------------------------------------- the text
corpus, task, baseline = ui.labs.text_corpus(corpus_name)

# ---------------------------------------------------------------------------------- training
st.header(_("1 · Train"))
too_long = training.refusal(steps * training.seconds_per_step(cell, H, seq_len, batch))  # bounded work per click
train_clicked, _space = ui.labs.train_buttons(
    _("Train {a_cell}").format(a_cell=cells.article(cell)), key="lm_train", stop_key="lm_stop", job="lm",
    widths=[1, 1, 4], align="bottom", icon=":material/model_training:", stop_icon=":material/stop_circle:",
    disabled=too_long is not None, stop_help=_("Stop training now and keep the model as it is."))
if too_long:
    st.warning(too_long, icon=":material/timer_off:")
ui.jobs.latest("lm", timeout=30)   # a click during training: the run stores the model it has on its way out


def work(report):
    def on_step(info: rnnviz.StepInfo):
        held = "" if info.test_loss is None else _(" · held-out {bpc:.2f}").format(bpc=charlm.bpc(info.test_loss))
        report(info.result, info.step / info.steps, final=info.step == info.steps,
               text=_("Step {step} of {steps} · {seconds:.0f} s · training {train:.2f}{held} bits/char").format(
                   step=info.step, steps=info.steps, seconds=info.elapsed, held=held,
                   train=charlm.bpc(float(np.mean(info.result.loss[-20:])))))

    rnnviz.fit(charlm.lm_spec(cell, H, seed), task, seq_len=seq_len, steps=steps, batch_size=batch, lr=lr,
               clip=charlm.CLIP, seed=seed, on_step=on_step, **charlm.FIT_RECORDS)


def keep(result):   # plain data only: after a click every Streamlit call of the interrupted run raises
    if result is not None:
        models[cell] = {"lm": charlm.CharLM.from_fit(result), "corpus": corpus.key}


if train_clicked:
    bar, live = st.progress(0.0, text=_("Starting…")), st.empty()
    ui.jobs.run(ui.jobs.start("lm", cell), work, bar=bar, live=live, finish=keep, chart_every=2.0,
                figure=lambda result: plots.bpc_curves({cells.LABELS[cell]: charlm.bpc_record(result)}, baseline,
                                                       scale=ctx.scale, title=_("Training… (Stop keeps the model)")))
    bar.empty()
    live.empty()

here = {c: m["lm"] for c, m in models.items() if m["corpus"] == corpus.key}   # models of this text
# At the default settings, until this session trains its own: a model trained in advance.
stored = None if here.get(cell) or train_clicked else ui.pretrained_text_lab(ui.shown())
if stored is not None:
    models[cell] = {"lm": charlm.CharLM.from_fit(stored), "corpus": corpus.key, "pretrained": True}
    here[cell] = models[cell]["lm"]
if cell in here and models[cell].get("pretrained"):   # until this session trains its own
    st.info(_("**A model trained in advance at the default settings** (`python -m rnnviz pretrain`, same seed). "
              "Press **Train {a_cell}** to repeat the run live; change a setting to train something new.").format(
                a_cell=cells.article(cell)), icon=":material/history_edu:")
lm = here.get(cell)
if lm is None:
    st.info(_("No {cell} has been trained on this text yet. Press **Train {a_cell}** (about {steps} steps), or load a "
              "model file at the bottom of the page.").format(cell=cells.LABELS[cell], a_cell=cells.article(cell),
                                                              steps=steps), icon=":material/school:")
else:
    ui.labs.char_model(lm, here, corpus, baseline, ctx.scale, figure)

# ---------------------------------------------------------------------------------- sampling
if lm is not None:
    st.header(_("2 · Let it write"))
    p1, p2, p3, p4, p5 = st.columns([3, 2, 2, 2, 2])
    prompt = p1.text_input(_("Prompt"), value=corpora.default_prompt(corpus), max_chars=200,
                           key=f"lm_prompt_{corpus.key[0]}", help=_("The model reads this first, then writes on."))
    temperature = ui.knob("temperature", p2)
    top_k = ui.knob("top_k", p3, limits=(0, len(lm.vocab)))
    n = ui.knob("sample_len", p4)
    sample_seed = ui.knob("sample_seed", p5, number=True)
    missing = lm.vocab.missing(prompt)
    if missing and lm.vocab.unknown is None:
        st.warning(_("The model has never seen {chars}; those characters were left out of the prompt.").format(
            chars=", ".join(repr(c) for c in missing[:8])), icon=":material/warning:")
        prompt = "".join(c for c in prompt if c in lm.vocab)
    smp = ui.session_memo("lm_sample", (lm.uid, prompt, temperature, top_k, n, sample_seed),
                          lambda: lm.sample(prompt, n, temperature=temperature, top_k=top_k, seed=sample_seed))
    st.html(plots.colour_legend_html("gate", 0, 1, _("model's probability of each character it wrote"),
                                     ticks=["0", "50%", "100%"], scale=ctx.scale))
    st.html(plots.text_colour_html(prompt + smp.text, np.concatenate([np.full(len(prompt), np.nan), smp.written_probs]),
                                   kind="gate", tips=[_("your prompt")] * len(prompt) + smp.tips(lm.vocab.label),
                                   font_px=FONT))
    st.caption(_("Grey: your prompt. Coloured: what the model wrote, bright where it was sure and dark where it "
                 "took a less likely character. Hover a character to see the candidates it was drawn from. ")
               + _("Temperature {t:g}").format(t=temperature)
               + (_(" (greedy: always the most likely character)") if temperature == 0 else "")
               + (f", top-{top_k}" if top_k else "")
               + _(", seed {seed}: the same settings always write the same text.").format(seed=sample_seed))
    if len(smp.codes):
        ui.labs.next_char_view(lm, smp, prompt, ctx.scale)

# ---------------------------------------------------------------------------------- looking inside
if lm is not None:
    st.header(_("3 · Look inside: what does one unit respond to?"))
    size = len(corpus.text)
    look_len = ui.knob("look_len", limits=(min(100, size), min(5000, size)))
    look = corpus.text[:look_len]
    states, ranking = ui.session_memo("lm_look", (lm.uid, corpus.key, look_len), lambda: units.look_inside(lm, look))

    def _symbol(state: str) -> str:   # its letter in the equations: h, c, i f g o, r z n
        return cells.state_symbol(lm.cell, state)

    _label = KNOBS["lm_state"].label_of   # "forget gate f", in the page's language
    def _pick_from_ranking():
        rows = ss["lm_ranking"].selection.rows
        if rows:
            row = ranking[rows[0]]
            ss["lm_state"], ss["lm_unit"] = row.state, row.unit

    left, right = st.columns([11, 9])
    with left:
        s1, s2 = st.columns(2)
        state = ui.knob("lm_state", s1, options=list(states))
        unit = ui.knob("lm_unit", s2, limits=(0, lm.hidden_size - 1), number=True,
                       label=_("Unit (0 … {last})").format(last=lm.hidden_size - 1))
        kind, label = cells.gate_kind(state), {"cell": "tanh(c)"}.get(state, _label(state))
        st.html(plots.colour_legend_html(kind, *((0, 1) if kind == "gate" else (-1, 1)),
                                         _("{what} of unit {unit}").format(what=label, unit=unit),
                                         scale=ctx.scale))
        st.html(plots.signal_colour_html(look, states[state][:, unit], kind, squash=state == "cell", font_px=FONT))
        scored = [r for r in ranking if r.state == state and r.unit == unit]
        st.caption((_("Each character is coloured by the {what} of unit {unit} just after the model read it (the cell "
                      "state through tanh, so that it fits the same scale). ") if state == "cell" else
                    _("Each character is coloured by the {what} of unit {unit} just after the model read it. ")).format(
                       what=_label(state), unit=unit)
                   + (_("It tracks *{feature}*: r = {r:+.2f}. ").format(feature=_(scored[0].feature), r=scored[0].r)
                      if scored else "")
                   + _("Hover a character for the exact value."))
    with right:
        st.markdown(_("**Units that track a feature of the text** (select a row to colour the text by it)"))
        table = {_("feature"): [_(r.feature) for r in ranking],
                 _("unit"): [f"{_symbol(r.state)}[{r.unit}]" for r in ranking],
                 _("correlation"): [round(r.r, 3) for r in ranking]}
        st.dataframe(table, hide_index=True, key="lm_ranking", on_select=_pick_from_ranking,
                     selection_mode="single-row",
                     column_config={_("correlation"): st.column_config.NumberColumn(format="%+.2f")})
        present = [f"*{_(f)}*: {_(d)}" for f, d in units.FEATURES.items() if f in {r.feature for r in ranking}]
        absent = [_(f) for f in units.FEATURES if f not in {r.feature for r in ranking}]
        others = [f"{_symbol(g)} = {_label(g)}" for g in states if g != state]
        st.caption(_("{symbol}[{unit}]: unit {unit} of the {what}, the one colouring the text. ").format(
                       symbol=_symbol(state), unit=unit, what=_label(state))
                   + (_("Other letters: {which}. ").format(which=", ".join(others)) if others else "")
                   + _("Correlation: Pearson's r between the feature and the unit's activation over the text.")
                   + (f" {'; '.join(present)}." if present else "")
                   + (_(" Not in this text: {which}.").format(which=", ".join(absent)) if absent else ""))

    # ------------------------------------------------------------------------------ gradient reach
    st.header(_("4 · How far back does it look?"))
    pos = ui.knob("grad_pos", limits=(0, len(look) - 2))
    target = look[pos + 1]
    # every model here was trained or loaded on this text: it knows its characters
    grads = {c: ui.session_memo(f"lm_grad_{c}", (m.uid, corpus.key, look_len, pos),
                                lambda m=m: charlm.input_gradient(m, look, pos)) for c, m in here.items()}
    curves = {f"{cells.LABELS[c]} (H = {here[c].hidden_size})": (c, g) for c, g in grads.items()}
    ui.chart(plots.input_gradient_figure(curves, scale=ctx.scale, height=420,
                                         title=_("Gradient reaching each earlier character (predicting '{char}')")
                                         .format(char=plots.plain(inputs.display_char(target)))), key="reach")
    logs, lo, hi = plots.decades(grads, 6)
    st.html(plots.colour_legend_html("grad", lo, hi, _("gradient magnitude"),
                                     ticks=[plots.power_label(int(x)) for x in (lo, hi - 3, hi)], scale=ctx.scale))
    cols = st.columns(len(grads))
    for col, (c, v) in zip(cols, logs.items()):
        with col:
            st.markdown(_("**{cell}** → predicting {char}").format(cell=cells.LABELS[c],
                                                                    char=ui.inert(inputs.display_char(target))))
            st.html(plots.reach_colour_html(look, v, pos, lo, hi, font_px=int(FONT * 0.9)))
    missing_cells = [cells.LABELS[c] for c in ("rnn", "lstm", "gru") if c not in grads]
    st.caption(_("The gradient of the log-probability the model gives the next character with respect to each "
                 "input character (its one-hot vector): bright characters still move the prediction, dark ones have "
                 "been forgotten. Gradients shrink by a roughly constant factor per step back, so a straight line "
                 "on the log scale is exponential forgetting.")
               + (_(" Train {cells} on this text to compare them here.").format(cells=", ".join(missing_cells))
                  if missing_cells else ""))


ui.labs.char_model_files(lm, corpus, models)

ui.finish("pages/6_Text_Lab.py")
