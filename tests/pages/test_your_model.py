"""The Your Model page: uploads are untrusted; good ones are shown exactly, bad ones are named."""
import io
import pickle
import re

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz import ui
from rnnviz.files import export
from tests.support.apphelp import decode, figures, raised, run_page, said, switch_language, trace_named

PAGE = "pages/7_Your_Model.py"


def saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def upload_model(at, name, data):
    at.file_uploader(key="model_file").set_value((name, data, "application/octet-stream")).run()
    return at


def with_csv(module, name: str, data: bytes):
    """The page with `module`'s weights uploaded and the CSV `data` as the sequence."""
    at = run_page(PAGE)
    upload_model(at, "m.pt", saved(module.state_dict()))
    at.segmented_control(key="input_source").set_value("CSV file").run()
    at.file_uploader(key="csv_file").set_value((name, data, "text/csv")).run()
    return at


def csv_bytes(x) -> bytes:
    return "\n".join(",".join(str(v) for v in row) for row in np.atleast_2d(x)).encode()


def unescaped(elements) -> str:
    """The text of alerts as a reader sees it: file names, shown as code spans, in quotes."""
    return " ".join(re.sub(r"`([^`]*)`", r"'\1'", e.value) for e in elements)


def test_uploaded_lstm_is_traced_exactly():
    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 10)
    at = run_page(PAGE)
    assert not at.exception
    upload_model(at, "mine.pt", saved(module.state_dict()))
    assert not at.exception
    assert any("LSTM, input size 3, hidden size 10" in s.value for s in at.success)
    want = rnnviz.trace(module, rnnviz.inputs.make("impulse", 200, 3))
    figs = figures(at)
    np.testing.assert_allclose(decode(trace_named(figs["user_grad"], "LSTM")["y"]), want.log10_grad_norm,
                               rtol=1e-12)
    np.testing.assert_allclose(decode(figs["user_h"]["data"][0]["z"]), want.hidden.T, rtol=1e-6)


def test_malicious_pickle_is_refused_and_the_previous_model_kept(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    at = run_page(PAGE)
    at.button(key="example_model").click().run()
    assert any("example" in s.value for s in at.success)
    upload_model(at, "evil.pt", pickle.dumps(Evil()))
    assert not at.exception
    assert not marker.exists()  # nothing in the file ran
    errors = said(at.error)
    assert "`evil.pt`" in errors and "Nothing in it was run" in errors
    assert any("Still showing the model from `example LSTM`" in c.value for c in at.caption)
    assert "user_grad" in figures(at)  # the page still shows the example


def test_bad_files_get_their_messages():
    at = run_page(PAGE)
    upload_model(at, "notes.txt", b"1,2,3\n4,5,6\n")
    assert "This is not a PyTorch file" in said(at.error)
    two_layers = torch.nn.GRU(2, 4, num_layers=2).state_dict()
    del two_layers["weight_hh_l1"]
    upload_model(at, "deep.pt", saved(two_layers))
    assert "Missing key weight_hh_l1: a 2-layer RNN / LSTM / GRU" in said(at.error)
    assert not at.exception


def test_csv_sequence_upload_and_mismatch():
    torch.manual_seed(1)
    module = torch.nn.RNN(2, 6)
    x = np.round(np.random.default_rng(0).normal(size=(40, 2)), 4)
    at = with_csv(module, "seq.csv", ("a,b\n" + "\n".join(f"{u},{v}" for u, v in x)).encode())
    assert not at.exception
    want = rnnviz.trace(module, x.astype(np.float32))
    np.testing.assert_allclose(decode(trace_named(figures(at)["user_grad"], "RNN")["y"]), want.log10_grad_norm,
                               rtol=1e-12)
    three = "\n".join("1,2,3" for _ in range(5))
    at.file_uploader(key="csv_file").set_value(("wide.csv", three.encode(), "text/csv")).run()
    assert "has 3 features per time step (columns) but the model reads 2" in said(at.error)
    ragged = "1,2\n3\n"
    at.file_uploader(key="csv_file").set_value(("ragged.csv", ragged.encode(), "text/csv")).run()
    assert "Ragged rows: line 2 has 1 value but the first row has 2" in said(at.error)
    assert not at.exception


def test_downloaded_checkpoint_uploads_to_the_identical_trace():
    model = rnnviz.build_model(rnnviz.ModelSpec(cell="gru", input_size=1, hidden_size=7, seed=5))
    data = export.model_to_bytes(model, {"note": "saved by rnnviz"})
    at = run_page(PAGE)
    upload_model(at, "rnnviz_model.pt", data)
    want = rnnviz.trace(model, rnnviz.inputs.make("impulse", 200, 1))
    np.testing.assert_array_equal(decode(trace_named(figures(at)["user_grad"], "GRU")["y"]), want.log10_grad_norm)
    labels = [b.label for b in at.get("download_button")]
    assert {"Trace as CSV", "Trace as NPZ", "PyTorch script", "Model weights (.pt)"} <= set(labels)


def test_uploaded_model_opens_in_gradient_flow_and_step_through():
    torch.manual_seed(3)
    module = torch.nn.GRU(3, 5)
    at = run_page(PAGE)
    upload_model(at, "mine.pt", saved(module.state_dict()))
    at.button(key="open_pages/2_Gradient_Flow.py").click().run()
    assert not at.exception
    want = rnnviz.trace(module, rnnviz.inputs.make("impulse", 200, 3))
    fig = figures(at)["grad"]
    np.testing.assert_allclose(decode(trace_named(fig, "Your GRU")["y"]), want.log10_grad_norm, rtol=1e-12)
    assert any("reading the named sequence “impulse” of Your Model (200 steps)" in i.value for i in at.info)
    at.switch_page("pages/1_Step_Through.py").run()
    assert not at.exception
    np.testing.assert_allclose(decode(figures(at)["hm_h"]["data"][0]["z"]), want.hidden.T, rtol=1e-6)


def test_text_lab_model_reads_text_with_its_own_vocabulary():
    """A Text Lab file carries its vocabulary: text fed to it is one-hot in that order, not the text's own."""
    from rnnviz.files import uploads
    from rnnviz.labs import charlm, corpora

    corpus = corpora.get_corpus("upload", "abcdef " * 20)
    task = charlm.CharTask(corpus)
    result = rnnviz.fit(charlm.lm_spec("gru", 6), task, seq_len=8, steps=2, **charlm.FIT_RECORDS)
    lm = charlm.CharLM.from_fit(result)
    assert lm.state_dict()["format"] == uploads.CHARLM_FORMAT  # the tag the model loader knows
    loaded = uploads.load_model(lm.to_bytes())
    assert loaded.meta["vocab"] == list(lm.vocab.chars) and loaded.model.cell == "gru"
    at = run_page(PAGE)
    upload_model(at, "lm.pt", lm.to_bytes())
    at.segmented_control(key="input_source").set_value("Text").run()
    at.text_area(key="text_in").set_value("fed").run()
    assert not at.exception
    x_want = np.zeros((3, len(lm.vocab.chars)), dtype=np.float32)
    for t, ch in enumerate("fed"):
        x_want[t, lm.vocab.chars.index(ch)] = 1.0
    want = rnnviz.trace(loaded.model, x_want)
    np.testing.assert_allclose(decode(trace_named(figures(at)["user_grad"], "GRU")["y"]), want.log10_grad_norm,
                               rtol=1e-12)


def test_damaged_saved_vocabulary_is_named():
    from rnnviz.files import uploads

    model = rnnviz.build_model(rnnviz.ModelSpec(cell="rnn", input_size=3, hidden_size=4))
    bad = export.model_to_bytes(model, {"vocab": 5})
    at = run_page(PAGE)
    upload_model(at, "bad.pt", bad)
    assert "vocabulary is damaged" in said(at.error)
    assert not at.exception
    assert isinstance(uploads.UploadError("x"), ValueError)


def test_one_step_sequence_opens_in_step_through():
    """A one-row CSV leaves the time cursor a single value: shown as text, not a slider that breaks."""
    torch.manual_seed(4)
    module = torch.nn.LSTM(2, 3)
    at = with_csv(module, "one.csv", b"0.5,-1\n")
    assert not at.exception
    at.button(key="open_pages/1_Step_Through.py").click().run()
    assert not at.exception
    assert any("Time step t: 0 (the only possible value here)" in c.value for c in at.caption)
    want = rnnviz.trace(module, np.array([[0.5, -1.0]], dtype=np.float32))
    np.testing.assert_allclose(decode(figures(at)["hm_h"]["data"][0]["z"]), want.hidden.T, rtol=1e-6)


def test_a_refused_csv_keeps_the_previous_sequence_and_says_so():
    torch.manual_seed(5)
    module = torch.nn.RNN(1, 4)
    good = np.round(np.random.default_rng(2).normal(size=(30, 1)), 3)
    at = with_csv(module, "one_col.csv", csv_bytes(good))
    assert not at.error
    bad = b"1\n2\ninf\n4\n"
    at.file_uploader(key="csv_file").set_value(("inf.csv", bad, "text/csv")).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "`inf.csv`" in errors[0] and "Infinite" in errors[0]   # one error, the new file's
    shown = unescaped(at.info)
    assert "Still using the previous sequence, 'one_col.csv' (30 time steps × 1 feature(s))" in shown
    assert not any(c.value.startswith("Using ") for c in at.caption)
    want = rnnviz.trace(module, good.astype(np.float32))   # and it is what the page shows
    np.testing.assert_allclose(decode(trace_named(figures(at)["user_grad"], "RNN")["y"]), want.log10_grad_norm,
                               rtol=1e-12)
    # a model the kept sequence does not fit (3 inputs): still one error, and the note says why nothing is shown
    at.button(key="example_model").click().run()
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "`inf.csv`" in errors[0]
    shown = unescaped(at.info)
    assert "The previous sequence, 'one_col.csv' (30 time steps × 1 feature(s)), does not fit this model" in shown
    assert "the model reads 3" in shown and "user_grad" not in figures(at)
    # removing the refused file removes its error; the sequence in use is named as usual
    at.file_uploader(key="csv_file").clear().run()
    assert not any("inf" in e.value for e in at.error)
    assert any("does not fit the model" in e.value and "`one_col.csv`" in e.value for e in at.error)


@pytest.mark.parametrize("make, block", [
    (lambda: torch.nn.LSTM(2, 5), "W_hg"), (lambda: torch.nn.GRU(2, 5), "W_hn"), (lambda: torch.nn.RNN(2, 5), "W_hh")])
def test_the_spectrum_names_its_matrix_in_a_few_words(make, block):
    """The eigenvalue chart shares a row with another: its title and the metric labels stay short enough
    for a narrow column, the candidate block is explained below it."""
    torch.manual_seed(6)
    at = run_page(PAGE)
    upload_model(at, "m.pt", saved(make().state_dict()))
    assert not at.exception
    assert figures(at)["user_eig"]["layout"]["title"]["text"] == f"Eigenvalues of {block}"
    labels = [m.label for m in at.metric]
    assert f"σ_max of {block}" in labels and max(len(label) for label in labels) <= 26
    explained = any(f"{block} is the candidate block of W_hh" in c.value for c in at.caption)
    assert explained == (block != "W_hh")


def test_gradient_flow_says_which_sequence_the_model_reads():
    """A model opened from this page reads the sequence given here: a named one or an uploaded file."""
    at = run_page(PAGE)
    at.button(key="example_model").click().run()
    at.button(key="open_pages/2_Gradient_Flow.py").click().run()
    info = unescaped(at.info)
    assert "reading the named sequence “impulse” of Your Model (200 steps)" in info and "uploaded" not in info
    assert at.selectbox(key=ui.MODEL_SOURCE_KEY).value == "example LSTM"  # the example was not uploaded
    torch.manual_seed(7)
    at = with_csv(torch.nn.RNN(1, 3), "my_seq.csv", csv_bytes(np.arange(12.0)[:, None]))
    at.button(key="open_pages/2_Gradient_Flow.py").click().run()
    assert not at.exception
    assert "reading the sequence uploaded as 'my_seq.csv' (12 steps)" in unescaped(at.info)
    assert at.selectbox(key=ui.MODEL_SOURCE_KEY).value.endswith("· uploaded")


def test_the_page_opens_with_the_example_model_traced():
    """No button pressed: the example LSTM is loaded and its gradient is the engine's on the named sequence."""
    at = run_page("pages/7_Your_Model.py")
    assert not at.exception
    assert any("example" in s.value for s in at.success)
    want = rnnviz.trace(rnnviz.build_model(rnnviz.ModelSpec(cell="lstm", input_size=3, hidden_size=16, init="torch",
                                                            seed=1)),
                        rnnviz.inputs.make("impulse", 200, 3, seed=0)).log10_grad_norm
    np.testing.assert_allclose(decode(figures(at)["user_grad"]["data"][0]["y"]), want, rtol=1e-9)


@pytest.mark.parametrize("cell, layers, bidirectional", [("lstm", 3, True), ("gru", 2, False), ("rnn", 4, True),
                                                         ("lstm", 1, True)])
def test_stacked_upload_shows_the_module_grid_and_each_layer(cell, layers, bidirectional):
    """A stacked / bidirectional state_dict goes in through the page and gives the module's own trace: the
    grid of every layer and direction, and, for the layer and direction picked, its gradient curve."""
    torch.manual_seed(2)
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](3, 6, num_layers=layers,
                                                                                  bidirectional=bidirectional)
    at = run_page(PAGE)
    upload_model(at, "deep.pt", saved(module.state_dict()))
    assert not at.exception
    assert any(f"{layers}-layer" in s.value for s in at.success)
    want = rnnviz.trace(module, rnnviz.inputs.make("impulse", 200, 3))  # the page's loss: the last step
    grid = [decode(t["z"]).astype(np.float64) for t in figures(at)["user_layers_grid"]["data"]]
    for d in range(2 if bidirectional else 1):
        np.testing.assert_allclose(grid[d], want.grad_grid(d), rtol=1e-6)
    top = want.trace(layers - 1, 0)
    label = rnnviz.cells.LABELS[cell]
    np.testing.assert_allclose(decode(trace_named(figures(at)["user_grad"], label)["y"]), top.log10_grad_norm,
                               rtol=1e-12)
    if bidirectional:
        at.segmented_control(key="user_layer").set_value(1).run()
        at.segmented_control(key="user_direction").set_value("backward").run()
        assert not at.exception
        np.testing.assert_allclose(decode(trace_named(figures(at)["user_grad"], label)["y"]),
                                   want.trace(0, 1).log10_grad_norm, rtol=1e-12)
        np.testing.assert_allclose(decode(figures(at)["user_h"]["data"][0]["z"]), want.trace(0, 1).hidden.T, rtol=1e-6)


CJK = re.compile(r"[\u4e00-\u9fff]")


def test_upload_messages_already_shown_follow_a_language_switch():
    """A refused model file and a refused CSV are explained in English; the sidebar's switch to Chinese
    says the same messages in Chinese (the engine's own Chinese for them), and switching back, in English
    again, word for word. The names the page uses for the sequence follow too."""
    torch.manual_seed(8)
    at = with_csv(torch.nn.RNN(1, 3), "ok.csv", csv_bytes(np.arange(6.0)[:, None]))
    upload_model(at, "notes.txt", b"1,2,3\n4,5,6\n")
    at.file_uploader(key="csv_file").set_value(("inf.csv", b"1\ninf\n", "text/csv")).run()
    english = said(at.error)
    assert "`notes.txt` could not be used: This is not a PyTorch file" in english and "`inf.csv`" in english
    assert not CJK.search(english)
    # what the engine says of these files in Chinese, computed here without the page
    with rnnviz.i18n.language("zh"):
        reasons = [ui.plain(rnnviz.i18n.text(raised(read, data)))
                   for read, data in ((rnnviz.files.uploads.load_model, b"1,2,3\n4,5,6\n"),
                                      (rnnviz.files.sequences.read_sequence_csv, b"1\ninf\n"))]
    assert all(CJK.search(r) for r in reasons)

    chinese = said(switch_language(at, "zh").error)
    errors = [e.value for e in at.error]
    assert len(errors) == 2 and errors[0].startswith("`notes.txt` ") and errors[1].startswith("`inf.csv` ")
    for error, reason in zip(errors, reasons):
        assert error.endswith(reason), (error, reason)
    assert "could not be used" not in chinese and "无法使用" in chinese
    assert "'ok.csv'" in unescaped(at.info) and CJK.search(unescaped(at.info))  # the sequence still in use

    assert said(switch_language(at, "en").error) == english


def test_a_stacked_checkpoint_downloaded_here_uploads_to_the_same_grid():
    """A stacked model with residual connections, saved by the app (every layer, direction and the skips),
    goes back in through the page: the same grid, and the page offers its weights for download again."""
    spec = rnnviz.ModelSpec(cell="gru", input_size=3, hidden_size=5, num_layers=3, bidirectional=True, residual=True,
                            seed=4)
    model = rnnviz.build_model(spec)
    at = run_page(PAGE)
    upload_model(at, "deep_rnnviz.pt", export.model_to_bytes(model))
    assert not at.exception
    assert any("3-layer bidirectional" in s.value for s in at.success)
    want = rnnviz.trace(model, rnnviz.inputs.make("impulse", 200, 3))
    grid = [decode(t["z"]).astype(np.float64) for t in figures(at)["user_layers_grid"]["data"]]
    for d in (0, 1):
        np.testing.assert_allclose(grid[d], want.grad_grid(d), rtol=1e-6)
    assert "Model weights (.pt)" in [b.label for b in at.get("download_button")]


def test_projected_lstm_upload_shows_its_grid_at_m_and_goes_back_out_and_in():
    """A projected nn.LSTM(proj_size=2) goes in through the page: the module's own grid of every layer and
    direction, the layer picked with its H = 6 units, a caption saying that all of it is at m_t (before the
    projection); its weights, saved as the page saves them, go back in to the same grid; Step Through and Gradient
    Flow open it."""
    torch.manual_seed(5)
    module = torch.nn.LSTM(3, 6, num_layers=2, bidirectional=True, proj_size=2)
    at = run_page(PAGE)
    upload_model(at, "proj.pt", saved(module.state_dict()))
    assert not at.exception
    want = rnnviz.trace(module, rnnviz.inputs.make("impulse", 200, 3))
    grid = [decode(t["z"]).astype(np.float64) for t in figures(at)["user_layers_grid"]["data"]]
    for d in (0, 1):
        np.testing.assert_allclose(grid[d], want.grad_grid(d), rtol=1e-6)
    layout = figures(at)["user_layers_grid"]["layout"]
    assert "‖∂L/∂m_t^(l)‖" in layout["title"]["text"]  # m_t, before the projection: not h_t
    for heatmap in figures(at)["user_layers_grid"]["data"]:  # its colour bar and what a hover reads: m
        assert heatmap["colorbar"]["title"]["text"] == "‖∂L/∂m‖" and "log10 ‖∂L/∂m‖" in heatmap["hovertemplate"]
    assert any("projects its output to 2 values (proj_size)" in c.value and "H = 6 units" in c.value
               for c in at.caption)
    assert ("LSTM, input size 3, hidden size 6 projected to 2 (proj_size), from a 2-layer bidirectional"
            in at.success[0].value.replace("\\_", "_"))  # the page escapes Markdown
    np.testing.assert_allclose(decode(figures(at)["user_h"]["data"][0]["z"]), want.trace(1, 0).hidden.T, rtol=1e-6)
    assert "Model weights (.pt)" in [b.label for b in at.get("download_button")]
    back = rnnviz.files.uploads.load_model(export.model_to_bytes(rnnviz.from_torch(module)))
    again = rnnviz.trace(back.model, rnnviz.inputs.make("impulse", 200, 3))
    np.testing.assert_array_equal(again.grad_grid(1), want.grad_grid(1))
    for page, key in (("pages/1_Step_Through.py", "hm_h"), ("pages/2_Gradient_Flow.py", "grad")):
        at.switch_page(page).run()
        assert not at.exception, page
        assert key in figures(at), page
