"""Training Lab: train RNN, LSTM and GRU side by side on a task that needs memory, and watch
them learn, or fail to. Results live in this session's state, so changing a view keeps them."""
import streamlit as st

from rnnviz import plots, ui
from rnnviz.cells import CELLS as CLASSIC_CELLS
from rnnviz.i18n import _
from rnnviz.labs import training
from rnnviz.spec import KNOBS
from rnnviz.tasks import get_task

ctx = ui.page_setup("Training Lab")
ss = st.session_state
st.title(_("Training lab: watch RNN, LSTM and GRU learn, or fail to"))
figure = ctx.figure_slot()  # on a projector the loss curves come right under the title
st.markdown(_(
    "Each cell starts from the same seed and sees the same batches. A task that needs memory shows the "
    "difference: the plain RNN's loss stays at the **baseline**, the best a network that sees only the current "
    "input can do, "
    "while the gated LSTM and GRU break through. The gradient figures below show why."
))

NAMES = ["task", "cells", "rnn_activation", "train_steps", "batch_size", "lr", "clip", "clip_threshold",
         "train_hidden", "train_seed", "num_layers", "bidirectional"]
notes = ui.check_url(NAMES)
T_MAX = int(KNOBS["train_seq_len"].max)


def _set(values: dict):
    for name, value in values.items():
        ss[name] = ui.widget_value(name, value)


with ui.controls():
    st.subheader(_("Task"))
    task_name = ui.knob("task")
    task = get_task(task_name)
    st.button(_("Use the suggested settings"), key="suggest", on_click=_set,
              args=(training.suggested(task_name).values,),
              icon=":material/auto_fix:", help=_("Sequence length, size and training settings that show what this "
                                                 "task teaches within about a minute."))
    st.subheader(_("Cells"))
    cells = ui.knob("cells")
    rnn_activation = ui.knob("rnn_activation", disabled="rnn" not in cells)
    st.subheader(_("Data"))
    notes += ui.check_url(["train_seq_len"], {"train_seq_len": (task.min_seq_len, T_MAX)})
    seq_len = ui.knob("train_seq_len", limits=(task.min_seq_len, T_MAX))
    seed = ui.knob("train_seed", number=True)
    st.subheader(_("Training"))
    steps = ui.knob("train_steps")
    batch_size = ui.knob("batch_size")
    lr = ui.knob("lr")
    clip = ui.knob("clip")
    clip_threshold = ui.knob("clip_threshold", disabled=clip == "off")
    st.subheader(_("Model"))
    hidden = ui.knob("train_hidden")
    ui.knob("num_layers")
    ui.knob("bidirectional")
    st.caption(_("Every cell starts from PyTorch's default initialisation and trains with Adam."))
ui.show_notes(notes)

settings = training.Settings.from_values(ui.shown())
suggestion = training.suggested(task_name)
with st.container(border=True):
    st.markdown(_("**{title}.** {description}").format(title=_(task.title), description=_(task.description)))
    st.caption(_("With the suggested settings: {expect}").format(expect=_(suggestion.expect)))
with st.expander(_("After the LSTM: the LRU, minGRU, minLSTM and S6 on long sequences and on parity"),
                 icon=":material/all_inclusive:"):
    for title, (values, expect) in training.AFTER_LSTM.items():
        st.button(_(title), key=f"after_{values['task']}", on_click=_set, args=(values,), icon=":material/tune:")
        st.caption(_(expect))

# ---- train
refusal = None if cells else _("Choose at least one cell to train.")
refusal = refusal or training.over_budget(settings)
estimate = training.estimate_seconds(settings) if cells else 0.0
train, (info,) = ui.labs.train_buttons(_("Train"), key="train", stop_key="stop", job="lab", widths=[1.4, 1.4, 4.2],
                                       icon=":material/play_arrow:", stop_icon=":material/stop:",
                                       disabled=refusal is not None,
                                       stop_help=_("Stop training; every cell keeps what it has learned so far."))
if refusal:
    info.warning(refusal, icon=":material/block:")
else:
    names = _(", ").join(settings.cell_label(c) for c in cells)
    info.markdown(_("{cells}: {steps} steps each, one after another · about **{time}** on this machine").format(
        cells=names, steps=steps, time=training.format_seconds(estimate)))
progress_slot = st.empty()
live_slot = st.empty()


def work(report):
    """Every cell one after another; the record so far goes to the job at every step (Stop keeps it)."""
    total = len(settings.cells) * settings.steps

    def on_step(results, n, info):
        report(results, (n * settings.steps + info.step) / total, final=info.step == info.steps,
               text=_("Training {cell} ({n} of {count}): step {step} of {steps} · batch loss {loss:.4g} · "
                      "{seconds:.0f} s").format(cell=settings.cell_label(settings.cells[n]), n=n + 1,
                                                 count=len(settings.cells), step=info.step, steps=info.steps,
                                                 loss=info.loss, seconds=info.elapsed))

    return training.fit_cells(settings, on_step)


if train:
    bar = progress_slot.progress(0.0, text=_("Starting…"))
    done = ui.jobs.run(ui.jobs.start("lab", settings), work, bar=bar, live=live_slot, bar_every=0.2,
                       figure=lambda results: plots.loss_curves(settings.by_label(results), scale=ctx.scale,
                                                                height=380, title=_("Loss so far")))
    bar.progress(1.0, text=_("Done: {count} × {steps} steps in {seconds:.0f} s").format(
        count=len(settings.cells), steps=settings.steps, seconds=sum(r.seconds for r in done.values())))
    live_slot.empty()

job = ui.jobs.latest("lab", waiting=_("Stopping the training…"))  # an interrupted run finishes its record first
pretrained_run = job is None and ui.pretrained_training_lab(settings)   # at the defaults: a finished run, stored
if pretrained_run:
    job = ui.jobs.Job("lab", settings, record=pretrained_run)
    job.done.set()
    st.info(_("**A finished run, trained in advance at the default settings** (`python -m rnnviz pretrain`, same "
              "seed and batches). Press **Train** to repeat it live and watch the curves grow; change a setting to "
              "train something new."), icon=":material/history_edu:")
if job is None:
    st.info(_("Press **Train** to train the chosen cells. With the defaults this takes about a minute; the loss "
              "curves appear here while they learn."), icon=":material/school:")
    ui.finish("pages/4_Training_Lab.py")
    st.stop()

# ---- results (of the last run; they survive reruns and page switches)
trained, by_cell = job.settings, job.record or {}
results = trained.by_label(by_cell)
for cell, r in by_cell.items():  # the explorer pages show trained RNN, LSTM and GRU models
    if cell in CLASSIC_CELLS:
        ui.remember_trained(trained.model_label(cell), r.model, trained.task, trained.seq_len,
                            {**trained.to_dict(), "cell": cell, "steps_done": r.model_step})
changes = settings.changes_from(trained)
if changes:  # above the results, on a projector too
    (figure or st).info(_("The results below are for the previous settings ({changes}). Press **Train** to train "
                          "with the current ones.").format(changes="; ".join(changes)), icon=":material/history:")
ui.labs.run_notes(results, job.stop_requested)
missing = [trained.cell_label(c) for c in trained.cells if c not in by_cell]
if missing:
    st.caption(_("Not trained (stopped before their turn): {cells}.").format(cells=_(", ").join(missing)))

ui.labs.cell_metrics(results, trained.task)

task_done = get_task(trained.task)
ui.chart(plots.loss_curves(results, scale=ctx.scale, height=470,
                           title=_("Loss while learning {task} (T = {T})").format(
                               task=_(task_done.title).lower(), T=trained.seq_len)), key="loss", container=figure)
(figure or st).caption(_(
    "Thin lines: the loss of every training batch; bold: their running mean; dots: the loss on 1000 fixed "
    "test sequences. Dashed: the memoryless baseline, the best loss of a network that sees only the current "
    "input; dotted, where it differs: the literature's baseline, which also knows when to answer (or "
    "nothing). A curve that stays on the dashed line has learned nothing that needs memory."))

clip_value = None if trained.clip == "off" else trained.clip_threshold
ui.chart(plots.grad_norm_steps(results, clip=clip_value, clip_mode=trained.clip, scale=ctx.scale,
                               title=_("Gradient norm ‖g‖ of every training step")), key="grad")
st.caption((_("The norm of the whole gradient (all weights) before clipping, in the cell's colour, and after "
              "clipping, grey. Each tick at the bottom is a step where clipping changed the gradient.")
            if clip_value is not None else
            _("The norm of the whole gradient (all weights) before clipping, in the cell's colour. Clipping was off."))
           + _(" A cell that starts to learn a long dependency often shows a burst of large gradients, where "
               "clipping acts most: it keeps one huge step from throwing the weights far away."))

ui.chart(plots.reach_heatmaps(results, scale=ctx.scale,
                              title=_("How far back the gradient reaches while the cells learn")),
         key="reach")
st.caption(_("Each row is one moment of training ({n} checkpoints, bottom: the untrained model), each column a number "
             "of steps back from the last step, measured on the same test sequence. Bright: the loss still feels "
             "that step; dark: the gradient has vanished. A cell can only learn to use an input its gradient "
             "reaches.").format(n=training.CHECKPOINTS))

if task_done.name == "binary_addition":
    st.subheader(_("A worked example"))
    c1, c2 = st.columns([2, 1])
    best = min(results, key=lambda label: results[label].final_test_loss)
    pick = c1.segmented_control(_("Model"), list(results), default=best, key="example_model") or best
    example_seed = c2.number_input(_("Example"), min_value=0, max_value=10**6, value=0, step=1, key="example_seed",
                                   help=_("Which random pair of numbers to add."))
    ex = training.addition_example(results[pick], seed=int(example_seed))
    ui.chart(plots.addition_example(ex, label=pick, scale=ctx.scale,
                                    title=_("{cell} adds {a} + {b}: {right} of {bits} bits right").format(
                                        cell=pick, a=ex.value(ex.a), b=ex.value(ex.b), right=int(ex.correct.sum()),
                                        bits=len(ex.a))), key="example")
    st.caption(_("Top: the two numbers and their sum, least-significant bit first, and what the {cell} predicts "
                 "(wrong bits red; the true sum mod 2^{bits} is {total}, the prediction {predicted}). Middle: the "
                 "{units} hidden units whose state follows the carry most closely (r: correlation with the carry "
                 "over this example). Bottom: the carry itself.").format(
                   cell=pick, bits=len(ex.a), total=ex.value(ex.total), predicted=ex.value(ex.predicted),
                   units=len(ex.units)))

st.subheader(_("Open a trained model"))
st.markdown(_("Step through it on a sample of its task, or compare its gradient with the untrained cells."))
ui.labs.open_trained_buttons(trained, [c for c in by_cell if c in CLASSIC_CELLS], max(3, len(results)))

with st.expander(_("What am I looking at?")):
    st.markdown(_(
        """
- **Baseline.** The loss of the best prediction that ignores the past but still sees the current input (for the
  adding problem: 0.5 plus the last value when the last step is marked, else 1). Beating it needs memory. Papers
  often quote one that also knows when to answer, or nothing at all (always answer 1: 1/6); where that differs it
  is drawn dotted.
- **Why the RNN stays there.** Its gradient with respect to an input k steps back is a product of k Jacobians,
  each shrinking it; the third figure shows it fading within a few steps, so the RNN never learns that the
  marked numbers matter. The LSTM's cell state and the GRU's update gate pass the gradient on almost untouched.
- **Clipping.** Rescaling the gradient to a maximum norm (Pascanu et al. 2013) tames the rare huge steps of an
  exploding gradient; it does nothing against a vanishing one.
- **Same seed.** Every cell draws the same batches in the same order from the seed; the test set is fixed.
"""
    ))

ui.finish("pages/4_Training_Lab.py")
