"""Text Lab: train a character language model, sample from it, and look at what its units learned."""
import numpy as np
import streamlit as st

import rnnviz
from rnnviz import cells, inputs, plots, ui
from rnnviz.files import uploads
from rnnviz.i18n import N_, _
from rnnviz.labs import charlm, corpora, training, units
from rnnviz.spec import KNOBS

ctx = ui.page_setup("Text Lab")
ss = st.session_state
FONT = int(18 * ctx.scale)   # coloured text, larger in presentation mode
st.title(_("Text lab: a character language model"))
st.markdown(_(
    "A recurrent network reads a text one character at a time and, at every step, predicts the next "
    "character. Train one for a minute, let it write, and look at what its units respond to."
))

TRAIN = ["corpus", "cell", "lm_hidden", "seed", "lm_steps", "lm_seq_len", "lm_batch", "lm_lr"]
VIEW = ["temperature", "top_k", "sample_len", "sample_seed", "look_len", "lm_state", "lm_unit", "grad_pos"]
ui.show_notes(ui.check_url(TRAIN + VIEW))
models = ss.setdefault("lm_models", {})   # cell -> {"lm": CharLM, "corpus": corpus key}; this user's only


def _read_upload():
    """on_change of the text uploader: decode the file (never run it) or keep a message."""
    f = ss.get("lm_text_file")
    ss.pop("lm_upload_error", None)
    text, error = ui.read_upload(f, corpora.text_from_upload) if f is not None else (None, None)
    if text is not None:
        ss["lm_upload"] = {"name": f.name, "text": text}
    elif error:
        ss["lm_upload_error"] = error


with ui.controls():
    st.subheader(_("Text"))
    corpus_name = ui.knob("corpus")
    if corpus_name == "upload":
        st.file_uploader(_("A plain-text file (.txt, UTF-8, up to 1 MB)"), type=["txt"], key="lm_text_file",
                         on_change=_read_upload, max_upload_size=uploads.MAX_TEXT_BYTES >> 20,
                         help=_("Read as text only. The last tenth is held out to measure generalisation."))
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
if ss.get("lm_upload_error"):
    st.error(ss["lm_upload_error"], icon=":material/block:")
if corpus_name == "upload" and "lm_upload" not in ss:
    st.info(_("Upload a .txt file in the sidebar to learn from your own text. Until then the page uses the Zen of "
              "Python."), icon=":material/upload_file:")
    corpus_name = "zen"
corpus = corpora.get_corpus(corpus_name, ss["lm_upload"]["text"] if corpus_name == "upload" else None)
task = ui.session_memo("lm_task", corpus.key, lambda: charlm.CharTask(corpus))
baseline = charlm.bpc(task.baseline(0))

title = _(corpus.title) + (f" ({ui.inert(ss['lm_upload']['name'])})" if corpus_name == "upload" else "")
st.markdown(_("**{title}**: {source}").format(title=title, source=_(corpus.source)))
BPC = _("{bpc:.2f} bits/char")
c1, c2, c3, c4 = st.columns(4)
c1.metric(_("Training characters"), f"{len(corpus.train_text):,}")
c2.metric(_("Held-out characters"), f"{len(corpus.held_out_text):,}",
          help=_("The last tenth of the text is never trained on: it measures whether the model generalises."))
c3.metric(_("Distinct characters"), len(task.vocab), help=_("The model reads and predicts one-hot vectors of this "
                                                             "size."))
c4.metric(_("Memoryless floor"), BPC.format(bpc=baseline),
          help=_("Bits per character of the best model without memory: it reads the current character and predicts "
                 "how often each character follows it (the bigram entropy of the training text): the line to beat. "
                 "Knowing nothing, the characters' frequencies give {bpc:.2f}.").format(
                   bpc=charlm.bpc(task.baselines(0)[1].value)))
if task.vocab.unknown is not None:
    st.caption(_("The text has more than {n} distinct characters; the rarest are all read as '{unknown}'.").format(
        n=inputs.MAX_VOCAB, unknown=inputs.UNKNOWN))
with st.expander(_("Read the text")):
    st.code(corpus.text[:3000] + ("\n…" if len(corpus.text) > 3000 else ""), language=None, wrap_lines=True)

# ---------------------------------------------------------------------------------- training
st.header(_("1 · Train"))
too_long = training.refusal(steps * training.seconds_per_step(cell, H, seq_len, batch))  # bounded work per click
b1, b2, _space = st.columns([1, 1, 4], vertical_alignment="bottom")
train_clicked = b1.button(_("Train {a_cell}").format(a_cell=cells.article(cell)), type="primary", key="lm_train",
                          icon=":material/model_training:", use_container_width=True, disabled=too_long is not None)
if too_long:
    st.warning(too_long, icon=":material/timer_off:")
b2.button(_("Stop"), icon=":material/stop_circle:", key="lm_stop", disabled=not train_clicked, use_container_width=True,
          on_click=ui.jobs.request_stop, args=("lm",), help=_("Stop training now and keep the model as it is."))
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
    hist = lm.history
    if hist is not None:
        if hist.stopped_early:
            st.warning(rnnviz.stop_message(hist) + " " + _("The {cell} keeps what it learned in {steps} steps.").format(
                cell=cells.LABELS[cell], steps=hist.model_step),
                       icon=":material/stop_circle:")
        m1, m2, m3, m4 = st.columns(4)
        m1.metric(_("Steps trained"), f"{hist.model_step:,}", help=_("{s:.1f} s of training").format(s=hist.seconds))
        m2.metric(_("Training text"), BPC.format(bpc=charlm.bpc(float(np.mean(hist.loss[-20:])))),
                  help=_("Mean over the last 20 training batches."))
        if hist.final_test_loss is not None:
            m3.metric(_("Held-out text"), BPC.format(bpc=charlm.bpc(hist.final_test_loss)),
                      help=_("The last tenth of the text, never trained on."))
        m4.metric(_("Memoryless floor"), BPC.format(bpc=baseline))
        runs = {cells.LABELS[c]: charlm.bpc_record(m.history) for c, m in here.items() if m.history is not None}
        ui.chart(plots.bpc_curves(runs, baseline, scale=ctx.scale,
                                  title=_("Bits per character while training (lower is better)")), key="bpc")
        st.caption(_("Solid: the training text (mean of the last 20 batches). Dashed: the held-out text. When the "
                     "dashed curve turns up while the solid one keeps falling, the model is memorising the "
                     "training text rather than learning to write: on a text as short as the Zen of Python that "
                     "happens within seconds. Train the other cells too: their curves appear here."))
    else:
        st.success(_("Loaded {a_cell} with H = {H} and {n} characters (trained on {text}).").format(
            a_cell=cells.article(lm.cell), H=lm.hidden_size, n=len(lm.vocab), text=lm.trained_on),
            icon=":material/upload:")
        m1, m2 = st.columns(2)
        held = ui.session_memo("lm_held_bpc", lm.uid, lambda: lm.bits_per_char(corpus.held_out_text))
        m1.metric(_("Held-out text"), BPC.format(bpc=held), help=_("Read in one pass."))
        m2.metric(_("Memoryless floor"), BPC.format(bpc=baseline))
        if not np.isfinite(held):
            st.warning(_("This model's next-character scores leave float32's range (its weights are huge), so every "
                         "probability is NaN: its bits per character cannot be computed, and its samples repeat one "
                         "character. Train a model here instead."), icon=":material/warning:")

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
        pos = 0
        if len(smp.codes) > 1:
            if ss.get("lm_sample_pos", 0) > len(smp.codes) - 1:   # a shorter sample than before
                ss["lm_sample_pos"] = len(smp.codes) - 1
            pos = st.slider(_("Look at the choice of character number"), 0, len(smp.codes) - 1, key="lm_sample_pos")
        rows = smp.choice(pos, 8)   # the 8 most likely, and the one it wrote if it is not among them
        codes = [c for c, *_ in rows]
        wrote = int(smp.codes[pos])
        before = (prompt + smp.text[:pos])[-30:].replace("\n", "↵")
        ui.chart(plots.next_char_bars([lm.vocab.label(c) for c in codes], [p for _, p, _, _ in rows],
                                      [q for _, _, q, _ in rows], codes.index(wrote),
                                      added_rank=rows[-1][3] if len(rows) > 8 else None, cell=lm.cell,
                                      scale=ctx.scale, height=360 if len(rows) <= 8 else 395,
                                      title=_("After “…{before}”: the next character (it wrote '{wrote}')").format(
                                          before=plots.plain(before), wrote=plots.plain(lm.vocab.label(wrote)))),
                 key="next_char")
        if len(rows) > 8:
            st.caption(_("It wrote {char}, number {rank} of {n} in the model's ranking (p = {p}; {q} in the "
                         "distribution it was sampled from): not among the 8 most likely, so it is added at the "
                         "bottom. Sampling sometimes picks such an unlikely character, more often at a temperature "
                         "above 1, which flattens the distribution.").format(
                           char=ui.inert(lm.vocab.label(wrote)), rank=rows[-1][3], n=len(lm.vocab),
                           p=plots.percent(rows[-1][1]), q=plots.percent(rows[-1][2])))

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


# ---------------------------------------------------------------------------------- files
def _load_model():
    f = ss.get("lm_model_file")
    ss.pop("lm_model_message", None)
    loaded, error = ui.read_upload(f, lambda data: charlm.CharLM.from_bytes(data).check_fits(corpus),
                                   N_("was not loaded")) if f is not None else (None, None)
    if loaded is None:
        if error:
            ss["lm_model_message"] = ("error", error)
        return
    models[loaded.cell] = {"lm": loaded, "corpus": corpus.key}
    ss["cell"] = ui.token("cell", loaded.cell)
    ss["lm_model_message"] = ("success", _("Loaded {name}: {a_cell} with H = {H}.").format(
        name=ui.inert(f.name), a_cell=cells.article(loaded.cell), H=loaded.hidden_size))


st.header(_("Save or load the model"))
f1, f2 = st.columns(2)
with f1:
    if lm is not None:
        st.download_button(_("Download this {cell} (.pt state dict)").format(cell=cells.LABELS[lm.cell]),
                           data=lm.to_bytes,
                           file_name=f"rnnviz_charlm_{lm.cell}_h{lm.hidden_size}_{corpus.key[0]}.pt",
                           mime="application/octet-stream", icon=":material/download:", key="lm_download",
                           on_click="ignore")  # the file is written only when asked for
        st.caption(_("Weights and vocabulary. Load it in plain PyTorch with `torch.load(path, weights_only=True)`: "
                     "`rnn.*` are the parameters of a `torch.nn.{cell}`, `readout.*` those of a `torch.nn.Linear`, "
                     "`vocab` the characters in order.").format(cell=cells.LABELS[lm.cell]))
    else:
        st.caption(_("Train a model to download it."))
with f2:
    st.file_uploader(_("Load a model saved by this page (.pt)"), type=["pt", "pth"], key="lm_model_file",
                     on_change=_load_model, max_upload_size=uploads.MAX_MODEL_BYTES >> 20,
                     help=_("Loaded with torch.load(weights_only=True): tensors and plain data only, no code runs."))
    message = ss.get("lm_model_message")
    if message:
        (st.error if message[0] == "error" else st.success)(message[1])

ui.finish("pages/6_Text_Lab.py")
