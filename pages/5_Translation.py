"""Translation: an encoder-decoder without attention turns written dates into ISO dates."""
import streamlit as st

from rnnviz import cells, plots, ui
from rnnviz.i18n import _
from rnnviz.labs import dates, translator
from rnnviz.spec import KNOBS

ctx = ui.page_setup("Translation")
st.title(_("Translation: an encoder-decoder without attention"))
# On a projector (presentation mode) the run's chart comes right under the title, whole on a 1024 × 768
# screen; the introduction and the Train button follow it.
present = ctx.present
results = ctx.figure_slot()
st.markdown(_(
    "An **encoder** reads a date as people write it, *“Sunday, November 22, 2026”*, one character at a time. "
    "Its last hidden state, **one vector of H numbers** (the context), is all the **decoder** gets: from it alone "
    "the decoder writes *2026-11-22*, one character per step. Train the pair below, then look inside one "
    "translation and see where a single context vector stops being enough."
))

NAMES = ["tr_cell", "tr_hidden", "tr_seconds", "tr_target", "tr_steps", "tr_seed", "tr_text"]
ui.show_notes(ui.check_url(NAMES))
ss = st.session_state
training = bool(ss.get("tr_train"))  # this run was started by the Train button
with ui.controls():
    st.subheader(_("Model"))
    cell = ui.knob("tr_cell", disabled=training)
    H = ui.knob("tr_hidden", disabled=training)
    st.subheader(_("Training"))
    seconds = ui.knob("tr_seconds", disabled=training)
    target = ui.knob("tr_target", disabled=training)
    steps = ui.knob("tr_steps", number=True, disabled=training)
    seed = ui.knob("tr_seed", number=True, disabled=training)

config = translator.TrainConfig.from_knobs(cell, H, seconds, target, steps, seed)
LABEL = cells.LABELS


# ------------------------------------------------------------------------------------------ 1. train
st.header(_("1 · Train"), divider="gray")
_clicked, (b3,) = ui.labs.train_buttons(
    _("Train"), key="tr_train", stop_key="tr_stop", widths=[2, 2, 5] if present else [1, 1, 5],
    icon=":material/model_training:", stop_icon=":material/stop:", disabled=training, running=training,
    where=st.container(key="tr_buttons"),
    help=_("Train a new model: {settings}.").format(settings=config.describe()),
    stop_help=_("Stop training; the model learned so far is kept."))
b3.caption(_("Stops once {target}% of held-out dates come out exactly right (on this machine usually within a "
             "minute), or after {seconds} s. Each step shows the model 64 training dates; every 100 steps it "
             "translates 1000 held-out dates (dates it never trains on).").format(target=target, seconds=seconds))
results = results or st.container()

if training:  # the model is trained at the end of this run, into these placeholders
    job, model = ui.jobs.start("translation", config), translator.new_model(config)
    bar = results.progress(0.0, text=_("Starting: drawing the held-out dates…"))
    live = results.empty()
else:  # a Stop starts this run while the training run finishes its step: the model kept is then complete
    job = ui.jobs.latest("translation", timeout=30)
    if job is not None and job.record is None:  # stopped before the first step was done
        job = ui.jobs.forget("translation")
    stored = job is None and ui.pretrained_translation(config)   # at the defaults: a finished run, stored
    if stored:
        job, a = ui.jobs.Job("translation", config, record=stored[:2]), stored[2]
        job.done.set()
    elif job is not None:  # trained, or stopped: measured once
        with results:
            a = ui.session_memo("tr_assessment", job.uid,
                                lambda: translator.assess(job.record[0], job.settings.data_seed),
                                spinner=_("Measuring the model on fresh held-out dates and on longer inputs…"))
with results:
    if job is None:
        st.info(_("No model yet: press **Train** (about a minute). Until then the views below show what the "
                  "untrained network does with its random initial weights."), icon=":material/model_training:")
        model = translator.new_model(config)
    elif not training:
        model = job.record[0]
        ui.labs.translation_run(job, a, config, stored=bool(stored), present=present, scale=ctx.scale)

# ------------------------------------------------------------------------------------------ 2. look inside
st.header(_("2 · Look inside one translation"), divider="gray")
EXAMPLES = dates.showcase()
PICKS = {e.text: f"{e.text}   ({e.fmt})" for e in EXAMPLES}
ss.setdefault("tr_text", KNOBS["tr_text"].default)   # EXAMPLES[1], unless a link gave another


def _pick():
    if ss.get("tr_pick"):
        ss["tr_text"] = ss["tr_pick"]


c1, c2 = st.columns([1, 1])
c1.selectbox(_("Pick an example (a date held out from training)"), list(PICKS), format_func=PICKS.get,
             key="tr_pick", index=None, placeholder=_("Choose one of the 12 formats…"), on_change=_pick,
             disabled=training)
text = c2.text_input(_(KNOBS["tr_text"].label), key="tr_text", max_chars=400, disabled=training,
                     help=_(KNOBS["tr_text"].help))   # longer than allowed is said below, not cut off
ui.url_value("tr_text", text)   # a link to this view opens this example
errors, warnings = dates.check_example(text)
if training:
    errors, warnings = [], []
    st.info(_("Training: this view shows the model when training ends."), icon=":material/hourglass_top:")
for note in errors:
    st.error(note, icon=":material/error:")
for note in warnings:
    st.warning(note, icon=":material/help:")
if not errors and not training:
    look = translator.look_inside(model, text, top_k=3)
    correct = dates.read_date(text)
    right_chars = sum(p == c for p, c in zip(look.output, correct.isoformat())) if correct else None
    ui.labs.metric_row(
        {"label": _("The model writes"), "value": look.output},
        {"label": _("Correct ISO date"), "value": correct.isoformat() if correct else _("unknown"),
         "help": _("Read from the text by the same rules the data was made with.") if correct else
         _("The text holds no date from 1969–2068 in one of the 12 formats, so there is no right answer.")},
        None if right_chars is None else
        {"label": _("Characters right"), "value": _("{n} of 10").format(n=right_chars), "delta_arrow": "off",
         "delta": _("the whole date is right") if right_chars == 10 else _("wrong"),
         "delta_color": "normal" if right_chars == 10 else "inverse"})
    states = plots.translation_states(look.encoder_states, look.input_chars, look.context, look.decoder_states,
                                      look.output, context_cell=look.context_cell, unknown=look.unknown,
                                      scale=ctx.scale, height=480 if model.hidden_size > 32 else 380)
    ui.chart(states, key="tr_states")
    passed = _("h and its cell state c") if look.context_cell is not None else "h"
    st.caption(_("Rows are the {H} units, sorted by their value in the context. The encoder's last column *is* the "
                 "context: the decoder starts from it ({passed}) and from nothing else. Then each decoder step reads "
                 "the character it has just written. Red is negative, blue positive.").format(
                   H=model.hidden_size, passed=passed))
    ui.chart(plots.top_candidates(look.top, target=correct.isoformat() if correct else None, scale=ctx.scale,
                                  title=_("What the decoder considered for each character (its 3 best guesses)")),
             key="tr_top")
    st.caption(_("Each column is one output character: its three most likely characters with their probabilities "
                 "(the softmax over 0–9 and “-”); the top one is written. ")
               + (_("The correct character is framed: green when it was the top guess, red when it lost (no frame: "
                    "not even among the three).") if correct else ""))

# ------------------------------------------------------------------------------------------ 3. longer inputs
st.header(_("3 · Longer inputs without attention"), divider="gray")
if job is None or training:
    st.info(_("Train a model first: this section measures how it copes with longer inputs.") if job is None else
            _("Training: this section measures the model when training ends."), icon=":material/model_training:")
else:
    ui.labs.translation_lengths(a, job.settings, scale=ctx.scale)

with st.expander(_("What am I looking at?")):
    st.markdown(_(
        """
- **The task.** Dates from 1969 to 2068 written in 12 formats (“22 Nov 2026”, “11/22/26”,
  “Sunday the 22nd of November, 2026”, …), sometimes with words around them (“deadline: …, please
  confirm”), translated to ISO “2026-11-22”. One date in ten is held out: the model never trains on it in
  any format, so held-out exact match measures generalisation, not memory.
- **The model** (Sutskever et al. 2014, no attention). Encoder: a character embedding (32 numbers) and an
  {cell} with H units, reading left to right. Decoder: another {cell} that starts
  from the encoder's final state and writes 10 characters, each step reading the character written before.
  Trained with Adam and teacher forcing (during training the decoder reads the true previous character).
- **Exact match.** A translation counts only if all 10 characters are right; the dotted curve counts single
  characters, which are easier.
- **Determinism.** Training is seeded. A run that ends at its step limit or at its stop level inside the time
  budget is the same model each time the same settings are trained (the run shown before Train is pressed
  is one); a run that the time budget ends has done more steps on a faster machine.
""").format(cell=LABEL[config.cell])
    )

ui.finish("pages/5_Translation.py")

if training:
    seen = {"evaluations": 0}

    def work(report):
        def on_step(p: translator.Progress):
            done = max(p.seconds / config.seconds, p.step / config.steps if config.steps else 0.0)
            new = len(p.history.steps) != seen["evaluations"]
            seen["evaluations"] = len(p.history.steps)
            report((model, p.history), min(1.0, done), chart=new,
                   text=_("Step {step} · {seconds:.0f} s of {budget} s · held-out exact match {share:.0%} "
                          "(last evaluation)").format(step=p.step, seconds=p.seconds, budget=seconds,
                                                      share=p.accuracy))

        job.record = translator.train(config, on_step=on_step, model=model)  # (model, history), also when stopped

    ui.jobs.run(job, work, bar=bar, live=live, chart_every=None,
                figure=lambda record: plots.accuracy_over_time(
                    record[1].seconds, record[1].accuracy, char_accuracy=record[1].char_accuracy, cell=cell,
                    budget=config.seconds, scale=ctx.scale, title=_("Held-out dates translated right, while training")))
    st.rerun()  # measure the model and draw the page again with everything enabled
