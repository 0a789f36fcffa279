"""Your Model: upload the weights of your own RNN / LSTM / GRU (stacked, bidirectional) and a sequence."""
import hashlib

import streamlit as st

from rnnviz import cells, i18n, inputs, plots, ui
from rnnviz.files import sequences, uploads
from rnnviz.i18n import N_, Message, Untrusted, _
from rnnviz.model import build_model
from rnnviz.spec import KNOBS, ModelSpec
from rnnviz.trace import trace

ctx = ui.page_setup("Your Model")
ui.show_notes(ui.check_url(["loss"]))
st.title(_("Look inside your own model"))
figure = ctx.figure_slot()  # on a projector the gradient of the model comes right under the title
st.markdown(_(
    "Upload the weights of a `torch.nn.RNN`, `LSTM` or `GRU`, with any number of layers (up to 4) and directions "
    "(its `state_dict`, or a model saved "
    "by this app) and a sequence to feed it. Nothing is run from the file: weights are read with "
    "`torch.load(..., weights_only=True)`, and every problem is named in plain words."
))
with st.expander(_("How to save your model"), icon=":material/help:"):
    st.code("import torch\n# model.rnn is your torch.nn.LSTM (num_layers up to 4, bidirectional or not)\n"
            "torch.save(model.rnn.state_dict(), 'model.pt')\n\n"
            "# and a sequence: rows are time steps, columns are features\n"
            "import numpy as np\nnp.savetxt('sequence.csv', x, delimiter=',')", language="python")

ss = st.session_state
MAX_MB = uploads.MAX_MODEL_BYTES >> 20
left, right = st.columns(2)

# ---------------------------------------------------------------- the model
with left:
    st.subheader(_("1. The model"))
    # No extension filter: any file is read as untrusted bytes and a wrong one gets its own message.
    up = st.file_uploader(_("Model weights (a .pt / .pth file saved with torch.save)"), key="model_file",
                          max_upload_size=MAX_MB)
    if up is not None and up.file_id != ss.get("_model_file_id"):
        try:
            loaded = uploads.load_model(up.getvalue(),
                                        max_hidden=KNOBS["hidden_size"].page_range[1])
            ss["user_model"] = {"loaded": loaded, "name": up.name,
                                "label": Message("{name} · uploaded", name=Untrusted(up.name))}
            ss.pop("model_error", None)
        except Exception as exc:  # noqa: BLE001 - an untrusted file; keep whatever model was there before
            ss["model_error"] = ui.failure(up.name, exc)
        ss["_model_file_id"] = up.file_id   # seen once it has its answer (a click meanwhile reads it again)
    # The page opens with the example loaded, so that it shows everything at once; an upload replaces it.
    first_visit = not ss.get("_example_shown")
    ss["_example_shown"] = True
    if st.button(_("Or try an example: a random LSTM"), key="example_model", icon=":material/science:") or (
            first_visit and "user_model" not in ss):
        model = build_model(ModelSpec(cell="lstm", input_size=3, hidden_size=16, init="torch", seed=1))
        ss["user_model"] = {"loaded": uploads.LoadedModel(model, N_("an example built here")),
                            "name": Message("example LSTM"),
                            "label": Message("example LSTM")}
        ss.pop("model_error", None)
    if ss.get("model_error"):
        st.error(ui.say(ss["model_error"]), icon=":material/error:")
        if "user_model" in ss:
            st.caption(_("Still showing the model from {name}.").format(name=ui.inert(ss["user_model"]["name"])))
    if "user_model" in ss:
        loaded = ss["user_model"]["loaded"]
        st.success(ui.plain(loaded.summary), icon=":material/check_circle:")
        for note in loaded.notes:
            st.info(ui.plain(note), icon=":material/info:")

model = ss["user_model"]["loaded"].model if "user_model" in ss else None

# ---------------------------------------------------------------- the sequence
with right:
    st.subheader(_("2. The sequence"))
    source = st.segmented_control(_("Input"), [N_("CSV file"), N_("Text"), N_("Named sequence")], format_func=_,
                                  default="Named sequence", key="input_source")
    if source == "CSV file":
        csv = st.file_uploader(_("Sequence (.csv: one row per time step, one column per feature)"),
                               key="csv_file", max_upload_size=MAX_MB)
        if csv is None and ss.pop("_csv_file_id", None):   # the rejected file was removed: so is its error
            ss.pop("x_error", None)
        if csv is not None and csv.file_id != ss.get("_csv_file_id"):
            try:
                seq = sequences.read_sequence_csv(csv.getvalue(), max_rows=KNOBS["seq_len"].page_range[1])
                ss["user_x"] = {"x": seq.values, "name": csv.name,
                                "reads": ui.Kept(N_("the sequence uploaded as {name}"), csv.name)}
                ss.pop("x_error", None)
            except Exception as exc:  # noqa: BLE001 - an untrusted file: every failure is a message
                ss["x_error"] = ui.failure(csv.name, exc)
            ss["_csv_file_id"] = csv.file_id
    elif source == "Text":
        text = st.text_area(_("Text, one character per time step"), value="hello world", max_chars=5000, key="text_in")
        vocab = ss["user_model"]["loaded"].meta.get("vocab") if "user_model" in ss else None
        if model is not None and text:
            try:
                x_text, _vocab, notes = sequences.text_to_inputs(text, input_size=model.input_size, vocab=vocab)
                ss["user_x"] = {"x": x_text, "name": Message("your text"),
                                "reads": Message("the text typed on Your Model")}
                ss.pop("x_error", None)
                for note in notes:
                    st.info(ui.plain(note), icon=":material/info:")
            except uploads.UploadError as exc:
                ss["x_error"] = ui.reason(exc)
    else:
        kind = ui.knob("input_kind", st, key="named_kind", options=("impulse", "noise", "sine"), label=_("Sequence"))
        T = ui.knob("seq_len", st, key="named_T", limits=(2, 2000), label=_("Length T"))
        if model is not None:
            ss["user_x"] = {"x": inputs.make(kind, T, model.input_size, seed=0),
                            "name": Message("{kind}, T = {T}", kind=Message(kind), T=T),
                            "reads": Message("the named sequence “{kind}” of Your Model", kind=Message(kind))}
            ss.pop("x_error", None)
    fit_error = None   # why the model cannot read the sequence in use
    if model is not None and "user_x" in ss:
        try:
            x = sequences.check_compatible(model, ss["user_x"]["x"])
        except uploads.UploadError as exc:
            fit_error = ui.plain(exc)
    if ss.get("x_error"):   # a new sequence was refused: say so once, and what is used instead
        st.error(ui.say(ss["x_error"]), icon=":material/error:")
    if "user_x" in ss:
        shape = ss["user_x"]["x"].shape
        what = _("{name} ({T} time steps × {n} feature(s))").format(name=ui.inert(ss["user_x"]["name"]),
                                                                     T=shape[0], n=shape[1])
        if not ss.get("x_error"):
            st.caption(_("Using {what}.").format(what=what))
            if fit_error:
                st.error(_("{name} does not fit the model. {why}").format(name=ui.inert(ss["user_x"]["name"]),
                                                                          why=fit_error),
                         icon=":material/error:")
        elif fit_error:
            st.info(_("The previous sequence, {what}, does not fit this model either, so there is nothing to show "
                      "yet. {why}").format(what=what, why=fit_error), icon=":material/history:")
        else:
            st.info(_("Still using the previous sequence, {what}: everything below is computed from it.").format(
                what=what), icon=":material/history:")
    loss = ui.knob("loss", st)

if model is None:
    st.info(_("Upload a model (or try the example) to see inside it."), icon=":material/arrow_upward:")
    ui.finish("pages/7_Your_Model.py")
    st.stop()
if "user_x" not in ss or fit_error:   # said above, next to the sequence
    ui.finish("pages/7_Your_Model.py")
    st.stop()

# ---------------------------------------------------------------- what happens inside
key = (ss["user_model"]["name"], id(model), hashlib.sha1(x.tobytes()).hexdigest(), loss)
tr = ui.session_memo("_user_trace", key, lambda: trace(model, x, loss=loss))  # this user's own model
one = ui.layer_view(tr, "user", scale=ctx.scale)  # a stacked model: its grid, and one layer in the views below
stacked, full, tr = one is not tr, tr, one
label = cells.LABELS[tr.cell_type]
name = ss["user_model"]["name"]

st.divider()
block = cells.block_name(tr.cell_type)   # W_hh, or the candidate block W_hg / W_hn of a gated cell
block_help = (_(" {block} is the candidate block of W_hh (the rows that compute {symbol}).").format(
                 block=block, symbol=cells.gate_symbol(tr.cell_type, "candidate")) if tr.cell_type != "rnn" else "")
row = st.container(horizontal=True, gap="medium")   # wraps onto a second line where four do not fit
h = tr.memory_horizon(1e-3)
row.metric(_("Memory horizon"), _("{n} steps").format(n=h) if h is not None else _("≥ {n} steps").format(n=tr.T - 1),
           help=_("Steps back until ‖∂L/∂h_k‖ falls below 1/1000 of its value at the last step."))
row.metric(_("‖∂L/∂h‖ at the first step"), plots.sci(float(tr.log10_grad_norm[0])))
row.metric(_("σ_max of {block}").format(block=block), f"{tr.sigma_max:.3f}",
           help=_("Its largest singular value.") + block_help)
row.metric(_("Spectral radius"), f"{tr.spectral_radius:.3f}",
           help=_("The largest |eigenvalue| of {block}.").format(block=block) + block_help)
if tr.overflow:
    st.warning(_("Something left float32's range (an exploding state or gradient): the figures mark where."),
               icon=":material/warning:")

ui.chart(plots.gradient_vs_lag({label: tr}, scale=ctx.scale, height=440, horizon_fraction=1e-3,
                               title=_("{name}: ‖∂L/∂h_k‖ against steps back").format(
                                   name=plots.plain(i18n.text(name)))),
         key="user_grad", container=figure)
hm = dict(scale=ctx.scale, height=260 if tr.hidden_size <= 64 else 340)
a, b = st.columns(2)
ui.chart(plots.heatmap(tr.hidden, kind="state", title=_("Hidden state h"), colorbar_title="h", **hm), key="user_h",
         container=a)
if tr.cell is not None:
    ui.chart(plots.heatmap(tr.cell, kind="state", title=_("Cell state c"), colorbar_title="c", **hm), key="user_c",
             container=b)
ui.gate_heatmaps(tr, "user", **hm)
if tr.gate_names:
    ui.chart(plots.saturation_bars(tr.saturation(), scale=ctx.scale,
                                   title=_("Where the gates saturate (< 0.1 shut, > 0.9 open)")), key="user_sat")

c1, c2 = st.columns([3, 2])
lag = ui.jacobian_lag_limit(tr.cell_type, tr.hidden_size, tr.T)
with c1:
    ui.chart(plots.jacobian_vs_lag({label: tr}, values={label: tr.jacobian_norms(lag)}, scale=ctx.scale,
                                   title=_("‖∂h_{{T−1}}/∂h_k‖₂ and the Pascanu bound").format()
                                   if tr.cell_type == "rnn" else "‖∂h_{T−1}/∂h_k‖₂"), key="user_jac")
    if lag < tr.T - 1:
        st.caption(_("Computed over the last {n} steps (each step of a Jacobian product costs H³ operations).").format(
            n=lag))
with c2:
    ui.chart(plots.eigenvalue_plane(tr, scale=ctx.scale, title=_("Eigenvalues of {block}").format(block=block)),
             key="user_eig")
    if block_help:
        st.caption(block_help.strip())

st.subheader(_("Use it on the other pages"))
label = ss["user_model"]["label"]  # how the other pages' model picker names it
if stacked:
    st.caption(_("Step Through and Gradient Flow show a stacked model one layer at a time, with the same selector."))
a, b = st.columns(2)
for col, page, text in ((a, "pages/1_Step_Through.py", _("Open in Step Through")),
                        (b, "pages/2_Gradient_Flow.py", _("Open in Gradient Flow"))):
    if col.button(text, key=f"open_{page}", icon=":material/open_in_new:"):
        ui.remember_trained(label, model, None, int(x.shape[0]), {"reads": ss["user_x"].get("reads")}, x=x)
        ui.open_trained(label, page)
ui.model_export_box(full, model, name.rsplit(".", 1)[0], key="user_export")
ui.finish("pages/7_Your_Model.py")
