"""Training Lab: train RNN, LSTM and GRU side by side on a task that needs memory, and watch
them learn, or fail to. Results live in this session's state, so changing a view keeps them."""
import streamlit as st

from rnnviz import plots, ui
from rnnviz.cells import CELLS as CLASSIC_CELLS
from rnnviz.labs import training
from rnnviz.spec import KNOBS
from rnnviz.tasks import get_task

ctx = ui.page_setup("Training Lab")
ss = st.session_state
st.title("Training lab: watch RNN, LSTM and GRU learn, or fail to")
st.markdown(
    "Each cell starts from the same seed and sees the same batches. A task that needs memory shows the "
    "difference: the plain RNN's loss stays at the **baseline**, the best a network that sees only the current "
    "input can do, "
    "while the gated LSTM and GRU break through. The gradient figures below show why."
)

NAMES = ["task", "cells", "rnn_activation", "train_steps", "batch_size", "lr", "clip", "clip_threshold",
         "train_hidden", "train_seed", "num_layers", "bidirectional"]
notes = ui.check_url(NAMES)
T_MAX = int(KNOBS["train_seq_len"].max)


def _set(values: dict):
    for name, value in values.items():
        ss[name] = ui.widget_value(name, value)


with ui.controls():
    st.subheader("Task")
    task_name = ui.knob("task")
    task = get_task(task_name)
    st.button("Use the suggested settings", key="suggest", on_click=_set, args=(training.suggested(task_name).values,),
              icon=":material/auto_fix:", help="Sequence length, size and training settings that show what this "
                                               "task teaches within about a minute.")
    st.subheader("Cells")
    cells = ui.knob("cells")
    rnn_activation = ui.knob("rnn_activation", disabled="rnn" not in cells)
    st.subheader("Data")
    notes += ui.check_url(["train_seq_len"], {"train_seq_len": (task.min_seq_len, T_MAX)})
    seq_len = ui.knob("train_seq_len", limits=(task.min_seq_len, T_MAX))
    seed = ui.knob("train_seed", number=True)
    st.subheader("Training")
    steps = ui.knob("train_steps")
    batch_size = ui.knob("batch_size")
    lr = ui.knob("lr")
    clip = ui.knob("clip")
    clip_threshold = ui.knob("clip_threshold", disabled=clip == "off")
    st.subheader("Model")
    hidden = ui.knob("train_hidden")
    ui.knob("num_layers")
    ui.knob("bidirectional")
    st.caption("Every cell starts from PyTorch's default initialisation and trains with Adam.")
ui.show_notes(notes)

settings = training.Settings.from_values(ui.shown())
suggestion = training.suggested(task_name)
with st.container(border=True):
    st.markdown(f"**{task.title}.** {task.description}")
    st.caption(f"With the suggested settings: {suggestion.expect}")
with st.expander("After the LSTM: the LRU, minGRU, minLSTM and S6 on long sequences and on parity",
                 icon=":material/all_inclusive:"):
    for title, (values, expect) in training.AFTER_LSTM.items():
        st.button(title, key=f"after_{values['task']}", on_click=_set, args=(values,), icon=":material/tune:")
        st.caption(expect)

# ---- train
refusal = None if cells else "Choose at least one cell to train."
refusal = refusal or training.over_budget(settings)
estimate = training.estimate_seconds(settings) if cells else 0.0
b1, b2, info = st.columns([1.4, 1.4, 4.2], vertical_alignment="center")
train = b1.button("Train", key="train", type="primary", icon=":material/play_arrow:", disabled=refusal is not None,
                  use_container_width=True)
b2.button("Stop", key="stop", icon=":material/stop:", disabled=not train, on_click=ui.jobs.request_stop, args=("lab",),
          use_container_width=True, help="Stop training; every cell keeps what it has learned so far.")
if refusal:
    info.warning(refusal, icon=":material/block:")
else:
    names = ", ".join(settings.cell_label(c) for c in cells)
    info.markdown(f"{names}: {steps} steps each, one after another · about **{training.format_seconds(estimate)}** "
                  "on this machine")
progress_slot = st.empty()
live_slot = st.empty()


def work(report):
    """Every cell one after another; the record so far goes to the job at every step (Stop keeps it)."""
    total = len(settings.cells) * settings.steps

    def on_step(results, n, info):
        report(results, (n * settings.steps + info.step) / total, final=info.step == info.steps,
               text=f"Training {settings.cell_label(settings.cells[n])} ({n + 1} of {len(settings.cells)}): step "
                    f"{info.step} of {info.steps} · batch loss {info.loss:.4g} · {info.elapsed:.0f} s")

    return training.fit_cells(settings, on_step)


if train:
    bar = progress_slot.progress(0.0, text="Starting…")
    done = ui.jobs.run(ui.jobs.start("lab", settings), work, bar=bar, live=live_slot, bar_every=0.2,
                       figure=lambda results: plots.loss_curves(settings.by_label(results), scale=ctx.scale,
                                                                height=380, title="Loss so far"))
    bar.progress(1.0, text=f"Done: {len(settings.cells)} × {settings.steps} steps in "
                           f"{sum(r.seconds for r in done.values()):.0f} s")
    live_slot.empty()

job = ui.jobs.latest("lab", waiting="Stopping the training…")  # an interrupted run finishes its record first
pretrained_run = job is None and ui.pretrained_training_lab(settings)   # at the defaults: a finished run, stored
if pretrained_run:
    job = ui.jobs.Job("lab", settings, record=pretrained_run)
    job.done.set()
    st.info("**A finished run, trained in advance at the default settings** (`python -m rnnviz pretrain`, same "
            "seed and batches). Press **Train** to repeat it live and watch the curves grow; change a setting to "
            "train something new.", icon=":material/history_edu:")
if job is None:
    st.info("Press **Train** to train the chosen cells. With the defaults this takes about a minute; the loss "
            "curves appear here while they learn.", icon=":material/school:")
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
if changes:
    st.info("The results below are for the previous settings (" + "; ".join(changes) + "). Press **Train** to "
            "train with the current ones.", icon=":material/history:")
for label, r in results.items():
    if r.stop_reason == "nonfinite":
        st.error(f"**{label}:** {r.message}", icon=":material/warning:")
    elif r.stop_reason in ("interrupted", "on_step"):
        why = "" if job.stop_requested else " (by a change on the page while it trained)"
        st.warning(f"**{label}:** training was stopped at step {r.model_step} of {r.steps}{why}. The model keeps "
                   f"what it learned in those {r.model_step} steps.", icon=":material/stop_circle:")
missing = [trained.cell_label(c) for c in trained.cells if c not in by_cell]
if missing:
    st.caption("Not trained (stopped before their turn): " + ", ".join(missing) + ".")

cols = st.columns(max(3, len(results)))
for col, (label, r) in zip(cols, results.items()):
    text, learned = training.against_baseline(r.final_test_loss, r.baseline)
    col.metric(f"{label} · test loss", f"{r.final_test_loss:.3g}", delta=text,
               delta_color="green" if learned else "gray", delta_arrow="down" if learned else "off",
               help="Loss on 1000 fixed test sequences after training. " + training.baselines_sentence(r.baselines))
    col.caption(f"{training.accuracy_label(trained.task)}: {100 * r.test_accuracy[-1]:.1f}%  \n"
                f"{r.model_step} steps in {r.seconds:.0f} s")

task_done = get_task(trained.task)
ui.chart(plots.loss_curves(results, scale=ctx.scale, height=470,
                           title=f"Loss while learning {task_done.title.lower()} (T = {trained.seq_len})"), key="loss")
st.caption("Thin lines: the loss of every training batch; bold: their running mean; dots: the loss on 1000 fixed test "
           "sequences. Dashed: the memoryless baseline, the best loss of a network that sees only the current input; "
           "dotted, where it differs: the literature's baseline, which also knows when to answer (or nothing). A curve "
           "that stays on the dashed line has learned nothing that needs memory.")

clip_value = None if trained.clip == "off" else trained.clip_threshold
ui.chart(plots.grad_norm_steps(results, clip=clip_value, clip_mode=trained.clip, scale=ctx.scale,
                               title="Gradient norm ‖g‖ of every training step"), key="grad")
st.caption("The norm of the whole gradient (all weights) before clipping, in the cell's colour"
           + (", and after clipping, grey. Each tick at the bottom is a step where clipping changed the gradient."
              if clip_value is not None else ". Clipping was off.")
           + " A cell that starts to learn a long dependency often shows a burst of large gradients, where clipping "
             "acts most: it keeps one huge step from throwing the weights far away.")

ui.chart(plots.reach_heatmaps(results, scale=ctx.scale,
                              title="How far back the gradient reaches while the cells learn"),
         key="reach")
st.caption(f"Each row is one moment of training ({training.CHECKPOINTS} checkpoints, bottom: the untrained model), "
           "each column a number of steps back from the last step, measured on the same test sequence. Bright: the "
           "loss still feels that step; dark: the gradient has vanished. A cell can only learn to use an input its "
           "gradient reaches.")

if task_done.name == "binary_addition":
    st.subheader("A worked example")
    c1, c2 = st.columns([2, 1])
    best = min(results, key=lambda label: results[label].final_test_loss)
    pick = c1.segmented_control("Model", list(results), default=best, key="example_model") or best
    example_seed = c2.number_input("Example", min_value=0, max_value=10**6, value=0, step=1, key="example_seed",
                                   help="Which random pair of numbers to add.")
    ex = training.addition_example(results[pick], seed=int(example_seed))
    ui.chart(plots.addition_example(ex, label=pick, scale=ctx.scale,
                                    title=f"{pick} adds {ex.value(ex.a)} + {ex.value(ex.b)}: "
                                          f"{int(ex.correct.sum())} of {len(ex.a)} bits right"), key="example")
    st.caption(f"Top: the two numbers and their sum, least-significant bit first, and what the {pick} predicts "
               f"(wrong bits red; the true sum mod 2^{len(ex.a)} is {ex.value(ex.total)}, the prediction "
               f"{ex.value(ex.predicted)}). Middle: the {len(ex.units)} hidden units whose state follows the carry "
               "most closely (r: correlation with the carry over this example). Bottom: the carry itself.")

st.subheader("Open a trained model")
st.markdown("Step through it on a sample of its task, or compare its gradient with the untrained cells.")
buttons = st.columns(max(3, len(results)))
for col, cell in zip(buttons, [c for c in by_cell if c in CLASSIC_CELLS]):
    label = trained.model_label(cell)
    short = trained.cell_label(cell)
    if col.button(f"{short} in Step Through", key=f"open_st_{cell}", icon=":material/footprint:",
                  use_container_width=True):
        ui.open_trained(label, "pages/1_Step_Through.py")
    if col.button(f"{short} in Gradient Flow", key=f"open_gf_{cell}", icon=":material/trending_down:",
                  use_container_width=True):
        ui.open_trained(label, "pages/2_Gradient_Flow.py")

with st.expander("What am I looking at?"):
    st.markdown(
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
    )

ui.finish("pages/4_Training_Lab.py")
