"""The labs' shared page parts (Training Lab, Translation, Text Lab):

    metric_row       one row of st.metric, a column each (a lab's corpus, its trained model, one translation)
    train_buttons    a lab's Train and Stop buttons, Stop enabled only in the run Train started
    text_corpus      the Text Lab's text: a corpus, or the user's upload (read inertly), with its figures
    char_model       the Text Lab's trained or loaded model: what it scores, its training curves
    next_char_view   the Text Lab's one choice of a character: the candidates it was drawn from
    char_model_files the Text Lab's save / load of a model file
    run_notes, cell_metrics, open_trained_buttons   the Training Lab's results: what stopped early, the
                     trained cells' row of metrics, opening a trained cell on an explorer page
    translation_metrics, translation_run, translation_lengths   the trained translator: its figures, its
                     run's curve with them, how it copes with longer inputs
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from .. import cells, inputs, plots, stop_message
from ..files import intake
from ..i18n import N_, _
from ..labs import charlm, corpora, dates, training
from . import jobs
from .cache import session_memo
from .knobs import token
from .models import open_trained
from .page import chart
from .untrusted import Kept, inert, read_upload, say

BPC = N_("{bpc:.2f} bits/char")


def metric_row(*metrics: dict | None, where=st):
    """A row of `st.metric(**m)`, one column each; None leaves its column empty."""
    cols = where.columns(len(metrics))
    for col, m in zip(cols, metrics):
        if m is not None:
            col.metric(**m)
    return cols


def train_buttons(label: str, *, key: str, stop_key: str, widths: list, icon: str, stop_icon: str,
                  stop_help: str, job: str | None = None, disabled: bool = False, help: str | None = None,
                  running: bool | None = None, align: str = "center", where=st):
    """A lab's Train button and its Stop beside it: (Train's value, the row's other columns). Stop is
    enabled while `running` (default: in the run the Train click started); with `job`, it asks that
    job to stop, keeping what was learned."""
    b1, b2, *rest = where.columns(widths, vertical_alignment=align)
    clicked = b1.button(label, key=key, type="primary", icon=icon, use_container_width=True, disabled=disabled,
                        help=help)
    b2.button(_("Stop"), key=stop_key, icon=stop_icon, use_container_width=True,
              disabled=not (clicked if running is None else running), help=stop_help,
              **({"on_click": jobs.request_stop, "args": (job,)} if job else {}))
    return clicked, rest


# ---------------------------------------------------------------------------------------- Text Lab
def _read_text_upload():
    """on_change of the text uploader: decode the file (never run it) or keep a message."""
    ss = st.session_state
    f = ss.get("lm_text_file")
    ss.pop("lm_upload_error", None)
    text, error = read_upload(f, corpora.text_from_upload) if f is not None else (None, None)
    if text is not None:
        ss["lm_upload"] = {"name": f.name, "text": text}
    elif error:
        ss["lm_upload_error"] = error


def text_uploader():
    """The sidebar's uploader of a plain-text file to learn from."""
    st.file_uploader(_("A plain-text file (.txt, UTF-8, up to 1 MB)"), type=["txt"], key="lm_text_file",
                     on_change=_read_text_upload, max_upload_size=intake.MAX_TEXT_BYTES >> 20,
                     help=_("Read as text only. The last tenth is held out to measure generalisation."))


def text_corpus(corpus_name: str):
    """The text to learn from, its task and its memoryless floor in bits per character, shown with
    its figures (an upload's failure said; until a file is uploaded, the Zen of Python)."""
    ss = st.session_state
    if ss.get("lm_upload_error"):
        st.error(say(ss["lm_upload_error"]), icon=":material/block:")
    if corpus_name == "upload" and "lm_upload" not in ss:
        st.info(_("Upload a .txt file in the sidebar to learn from your own text. Until then the page uses the Zen "
                  "of Python."), icon=":material/upload_file:")
        corpus_name = "zen"
    corpus = corpora.get_corpus(corpus_name, ss["lm_upload"]["text"] if corpus_name == "upload" else None)
    task = session_memo("lm_task", corpus.key, lambda: charlm.CharTask(corpus))
    baseline = charlm.bpc(task.baseline(0))

    title = _(corpus.title) + (f" ({inert(ss['lm_upload']['name'])})" if corpus_name == "upload" else "")
    st.markdown(_("**{title}**: {source}").format(title=title, source=_(corpus.source)))
    metric_row(
        {"label": _("Training characters"), "value": f"{len(corpus.train_text):,}"},
        {"label": _("Held-out characters"), "value": f"{len(corpus.held_out_text):,}",
         "help": _("The last tenth of the text is never trained on: it measures whether the model generalises.")},
        {"label": _("Distinct characters"), "value": len(task.vocab),
         "help": _("The model reads and predicts one-hot vectors of this size.")},
        {"label": _("Memoryless floor"), "value": _(BPC).format(bpc=baseline),
         "help": _("Bits per character of the best model without memory: it reads the current character and "
                   "predicts how often each character follows it (the bigram entropy of the training text): the "
                   "line to beat. Knowing nothing, the characters' frequencies give {bpc:.2f}.").format(
                       bpc=charlm.bpc(task.baselines(0)[1].value))})
    if task.vocab.unknown is not None:
        st.caption(_("The text has more than {n} distinct characters; the rarest are all read as '{unknown}'.").format(
            n=inputs.MAX_VOCAB, unknown=inputs.UNKNOWN))
    with st.expander(_("Read the text")):
        st.code(corpus.text[:3000] + ("\n…" if len(corpus.text) > 3000 else ""), language=None, wrap_lines=True)
    return corpus, task, baseline


def char_model(lm, here: dict, corpus, baseline: float, scale: float, figure=None) -> None:
    """What the model `lm` scores: trained here, its figures and the training curves of every model of
    this text (`here`, cell -> model), the curves in `figure` if given (a container); loaded from a file, its
    bits per character on the held-out text."""
    hist, floor = lm.history, {"label": _("Memoryless floor"), "value": _(BPC).format(bpc=baseline)}
    if hist is None:
        st.success(_("Loaded {a_cell} with H = {H} and {n} characters (trained on {text}).").format(
            a_cell=cells.article(lm.cell), H=lm.hidden_size, n=len(lm.vocab), text=_(lm.trained_on)),
            icon=":material/upload:")
        held = session_memo("lm_held_bpc", lm.uid, lambda: lm.bits_per_char(corpus.held_out_text))
        metric_row({"label": _("Held-out text"), "value": _(BPC).format(bpc=held), "help": _("Read in one pass.")},
                   floor)
        if not np.isfinite(held):
            st.warning(_("This model's next-character scores leave float32's range (its weights are huge), so every "
                         "probability is NaN: its bits per character cannot be computed, and its samples repeat one "
                         "character. Train a model here instead."), icon=":material/warning:")
        return
    if hist.stopped_early:
        st.warning(stop_message(hist) + " " + _("The {cell} keeps what it learned in {steps} steps.").format(
            cell=cells.LABELS[lm.cell], steps=hist.model_step), icon=":material/stop_circle:")
    metric_row(
        {"label": _("Steps trained"), "value": f"{hist.model_step:,}",
         "help": _("{s:.1f} s of training").format(s=hist.seconds)},
        {"label": _("Training text"), "value": _(BPC).format(bpc=charlm.bpc(float(np.mean(hist.loss[-20:])))),
         "help": _("Mean over the last 20 training batches.")},
        None if hist.final_test_loss is None else
        {"label": _("Held-out text"), "value": _(BPC).format(bpc=charlm.bpc(hist.final_test_loss)),
         "help": _("The last tenth of the text, never trained on.")},
        floor)
    runs = {cells.LABELS[c]: charlm.bpc_record(m.history) for c, m in here.items() if m.history is not None}
    chart(plots.bpc_curves(runs, baseline, scale=scale, title=_("Bits per character while training (lower is better)")),
          key="bpc", container=figure)
    (figure or st).caption(_(
        "Solid: the training text (mean of the last 20 batches). Dashed: the held-out text. When the "
        "dashed curve turns up while the solid one keeps falling, the model is memorising the "
        "training text rather than learning to write: on a text as short as the Zen of Python that "
        "happens within seconds. Train the other cells too: their curves appear here."))


def next_char_view(lm, smp, prompt: str, scale: float) -> None:
    """One character of the sample `smp` (chosen with a slider): the candidates it was drawn from."""
    ss = st.session_state
    pos = 0
    if len(smp.codes) > 1:
        if ss.get("lm_sample_pos", 0) > len(smp.codes) - 1:   # a shorter sample than before
            ss["lm_sample_pos"] = len(smp.codes) - 1
        pos = st.slider(_("Look at the choice of character number"), 0, len(smp.codes) - 1, key="lm_sample_pos")
    rows = smp.choice(pos, 8)   # the 8 most likely, and the one it wrote if it is not among them
    codes = [c for c, *_rest in rows]
    wrote = int(smp.codes[pos])
    before = (prompt + smp.text[:pos])[-30:].replace("\n", "↵")
    chart(plots.next_char_bars([lm.vocab.label(c) for c in codes], [row[1] for row in rows],
                               [row[2] for row in rows], codes.index(wrote),
                               added_rank=rows[-1][3] if len(rows) > 8 else None, cell=lm.cell,
                               scale=scale, height=360 if len(rows) <= 8 else 395,
                               title=_("After “…{before}”: the next character (it wrote '{wrote}')").format(
                                   before=plots.plain(before), wrote=plots.plain(lm.vocab.label(wrote)))),
          key="next_char")
    if len(rows) > 8:
        st.caption(_("It wrote {char}, number {rank} of {n} in the model's ranking (p = {p}; {q} in the "
                     "distribution it was sampled from): not among the 8 most likely, so it is added at the "
                     "bottom. Sampling sometimes picks such an unlikely character, more often at a temperature "
                     "above 1, which flattens the distribution.").format(
                       char=inert(lm.vocab.label(wrote)), rank=rows[-1][3], n=len(lm.vocab),
                       p=plots.percent(rows[-1][1]), q=plots.percent(rows[-1][2])))


def _load_char_model(corpus, models: dict):
    """on_change of the model uploader: load the file (tensors only) or keep a message."""
    ss = st.session_state
    f = ss.get("lm_model_file")
    ss.pop("lm_model_message", None)
    loaded, error = read_upload(f, lambda data: charlm.CharLM.from_bytes(data).check_fits(corpus),
                                N_("was not loaded")) if f is not None else (None, None)
    if loaded is None:
        if error:
            ss["lm_model_message"] = ("error", error)
        return
    models[loaded.cell] = {"lm": loaded, "corpus": corpus.key}
    ss["cell"] = token("cell", loaded.cell)
    ss["lm_model_message"] = ("success", Kept(N_("Loaded {name}: {a_cell} with H = {H}."), f.name,
                                              {"a_cell": cells.article_message(loaded.cell),
                                               "H": loaded.hidden_size}))


def char_model_files(lm, corpus, models: dict) -> None:
    """Save the model `lm` (None: nothing to save yet) or load one into `models` (cell -> entry)."""
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
                         "`rnn.*` are the parameters of a `torch.nn.{cell}`, `readout.*` those of a "
                         "`torch.nn.Linear`, `vocab` the characters in order.").format(cell=cells.LABELS[lm.cell]))
        else:
            st.caption(_("Train a model to download it."))
    with f2:
        st.file_uploader(_("Load a model saved by this page (.pt)"), type=["pt", "pth"], key="lm_model_file",
                         on_change=_load_char_model, args=(corpus, models),
                         max_upload_size=intake.MAX_MODEL_BYTES >> 20,
                         help=_("Loaded with torch.load(weights_only=True): tensors and plain data only, no code "
                                "runs."))
        message = st.session_state.get("lm_model_message")
        if message:
            (st.error if message[0] == "error" else st.success)(say(message[1]))


# ---------------------------------------------------------------------------------------- Training Lab
def run_notes(results: dict, stop_requested: bool) -> None:
    """What ended each cell's run early (`results`, label -> FitResult): a number that left float
    range, or a stop (Stop pressed, or another click while it trained)."""
    for label, r in results.items():
        if r.stop_reason == "nonfinite":
            st.error(_("**{label}:** {why}").format(label=label, why=stop_message(r)), icon=":material/warning:")
        elif r.stop_reason in ("interrupted", "on_step"):
            text = (_("**{label}:** training was stopped at step {step} of {steps}. The model keeps what it learned "
                      "in those {step} steps.") if stop_requested else
                    _("**{label}:** training was stopped at step {step} of {steps} (by a change on the page while it "
                      "trained). The model keeps what it learned in those {step} steps."))
            st.warning(text.format(label=label, step=r.model_step, steps=r.steps), icon=":material/stop_circle:")


def cell_metrics(results: dict, task: str) -> None:
    """The trained cells' row (`results`, label -> FitResult): test loss against the baseline, accuracy, time."""
    cols = st.columns(max(3, len(results)))
    for col, (label, r) in zip(cols, results.items()):
        text, learned = training.against_baseline(r.final_test_loss, r.baseline)
        col.metric(_("{label} · test loss").format(label=label), f"{r.final_test_loss:.3g}", delta=text,
                   delta_color="green" if learned else "gray", delta_arrow="down" if learned else "off",
                   help=_("Loss on 1000 fixed test sequences after training. ")
                   + training.baselines_sentence(r.baselines))
        col.caption(f"{training.accuracy_label(task)}: {100 * r.test_accuracy[-1]:.1f}%  \n"
                    + _("{steps} steps in {seconds:.0f} s").format(steps=r.model_step, seconds=r.seconds))


def open_trained_buttons(trained, cell_names: list, columns: int) -> None:
    """For each trained cell of `cell_names` (run with the settings `trained`): open it in Step Through or
    Gradient Flow."""
    for col, cell in zip(st.columns(columns), cell_names):
        label, short = trained.model_label(cell), trained.cell_label(cell)
        if col.button(_("{cell} in Step Through").format(cell=short), key=f"open_st_{cell}",
                      icon=":material/footprint:", use_container_width=True):
            open_trained(label, "pages/1_Step_Through.py")
        if col.button(_("{cell} in Gradient Flow").format(cell=short), key=f"open_gf_{cell}",
                      icon=":material/trending_down:", use_container_width=True):
            open_trained(label, "pages/2_Gradient_Flow.py")


# ---------------------------------------------------------------------------------------- Translation
def translation_metrics(a, history, used) -> None:
    """The trained translator's figures, one above the other: held-out exact match (`a`, its
    assessment), training time and why it ended (`history`, with the settings `used`), 90% reached."""
    reasons = {"target": _("reached {share:.0%}").format(share=used.target_accuracy),
               "time": _("used its time budget"), "steps": _("reached its step limit"),
               "stopped": _("was stopped"), "interrupted": _("was stopped")}
    reach = history.seconds_to(0.9)
    st.metric(_("Held-out exact match"), f"{a.exact_match:.1%}",
              help=_("{n} held-out dates never used in training, in all 12 formats, with words around "
                     "some of them; a date counts only if all 10 characters are right.").format(n=a.n))
    st.metric(_("Training time"), _("{seconds:.0f} s").format(seconds=history.seconds[-1]),
              delta=_("{steps} steps; {why}").format(
                  steps=history.steps[-1], why=reasons.get(history.stop_reason, history.stop_reason)),
              delta_color="off", delta_arrow="off")
    st.metric(_("90% exact match after"),
              _("{seconds:.0f} s").format(seconds=reach) if reach is not None else _("not reached"),
              help=_("The first evaluation (every 100 steps) at which at least 90% of the 1000 held-out "
                     "dates used during training were translated exactly right."))


def translation_run(job, a, config, *, stored: bool, present: bool, scale: float) -> None:
    """A trained (or stored, `stored`) translator's run: its held-out accuracy over training beside its
    figures (`a`, its assessment), with a warning when the settings changed since (`config`)."""
    (_model, history), used = job.record, job.settings
    note = st.container() if stored and not present else None   # on a projector: under the chart
    if used != config:
        st.warning(_("The settings changed after training ({changes}). Everything on this page still shows the "
                     "model trained with: {settings}. Press **Train** to train one with the new settings.").format(
                       changes=", ".join(config.changes_from(used)), settings=used.describe()),
                   icon=":material/sync_problem:")
    left, right = st.columns([2, 1])
    with left:
        chart(plots.accuracy_over_time(history.seconds, history.accuracy,
                                          char_accuracy=history.char_accuracy, cell=used.cell,
                                          budget=history.seconds[-1], scale=scale,
                                          title=_("Held-out dates translated right ({cell}, H = {H})").format(
                                              cell=cells.LABELS[used.cell], H=used.hidden_size)), key="tr_curve")
    with right:
        translation_metrics(a, history, used)
    if stored:
        (note or st.container()).info(_(
            "**A finished run, trained in advance at the default settings** (`python -m rnnviz pretrain`): "
            "{steps} steps, {seconds:.0f} s on the machine that trained it, {share:.1%} of the 1000 held-out "
            "dates right at its last evaluation. Press **Train** to repeat it live: the same seed and batches "
            "give the same model at the same step wherever that step comes within the {budget} s budget. "
            "Change a setting to train something new.").format(
                steps=history.steps[-1], seconds=history.seconds[-1], share=history.accuracy[-1],
                budget=f"{config.seconds:g}"),
            icon=":material/history_edu:")


def translation_lengths(a, used, *, scale: float) -> None:
    """How the trained translator copes with longer inputs: exact match by input length, and with
    filler words after / before the date (`a`, its assessment; `used`, its settings)."""
    far = int(a.gaps[-1])
    left, right = st.columns([1, 1.7])
    with left:
        bl = a.by_length
        chart(plots.accuracy_by_length_bars(bl.lengths, bl.accuracy, bl.counts, width=10, cell=used.cell,
                                               scale=scale, title=_("Inputs like those in training")),
                 key="tr_length")
    with right:
        chart(plots.accuracy_by_gap(a.gaps, a.after, a.before, trained_max=dates.TRAINED_GAP, cell=used.cell,
                                       scale=scale,
                                       title=_("The same dates with filler words added after / before them")),
                 key="tr_gap")
    st.markdown(_(
        "**Left:** on inputs like those it was trained on, exact match does not fall as the text gets longer: a "
        "date carries the same information however long it is written (the shortest, “11/22/26”, are if anything "
        "the hardest: a two-digit year needs the 1969 rule). **Right:** the same held-out dates with filler words "
        "the model never saw (“…and then we will meet our friends…”). "
        "With {far} characters of filler **after** the date, which the encoder must carry the date through to its "
        "last state, this model gets **{after:.0%}** right (**{clean:.0%}** without filler). With the "
        "same words **before** the date, an input just as long whose date is read last: **{before:.0%}**."
    ).format(far=far, after=a.after[-1], clean=a.after[0], before=a.before[-1]))
    st.info(_(
        "**What the class should see:** without attention, everything the decoder knows has to pass through the "
        "one vector the encoder ends with. The length of the text alone does not matter (left); inputs longer "
        "than any in training (right of the grey band) do, and it matters where the extra characters stand. In "
        "our runs (three seeds per cell, `benchmarks/bench_seq2seq.py`) LSTMs lost the date steadily with every "
        "character that followed it (1–20% right after 96 characters) and did less badly with the filler in "
        "front (32–79%). GRUs did the opposite: they carried the date past filler after it (57–96%) but failed "
        "when the filler came first (4–26%), probably because the date is then read from a state unlike any "
        "that starts a training input. Attention (Bahdanau et al. 2015) lets the decoder look back at every "
        "encoder state instead of only the last."),
        icon=":material/visibility:")
    st.caption(_("Each point: {gap_n} held-out dates in all 12 formats, without the training phrases, each with its "
                 "own random filler words (the same words before and after). Left: {n} fresh held-out dates with "
                 "phrases as in training, grouped by length (n = dates per bar).").format(gap_n=a.gap_n, n=a.n))
