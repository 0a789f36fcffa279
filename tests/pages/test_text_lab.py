"""The Text Lab page under AppTest: defaults, a tiny training run whose figures hold the engine's
numbers, sampling, looking inside, uploads of text and of models (bad ones answered with a
message, a malicious one refused without running it)."""
import html
import io
import re

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz import i18n, ui
from rnnviz.files import uploads
from rnnviz.inputs import Vocab
from rnnviz.labs import charlm, corpora, pretrained
from tests.support.apphelp import decode, figures, run_page, said, switch_language, texts, trace_named, url_notes
from tests.support.payloads import Payload

PAGE = "pages/6_Text_Lab.py"
TINY = {"lm_steps": "20", "lm_hidden": "8", "lm_seq_len": "24", "lm_batch": "8"}


def shown_text(body: str) -> str:
    """The characters of a coloured-text block (text_colour_html), unescaped, newlines restored."""
    return "".join(html.unescape(s) for s in re.findall(r"<span [^>]*>(.*?)</span>", body)).replace("↵", "\n")


def blocks(at) -> list[str]:
    return [shown_text(h.proto.body) for h in at.get("html") if "<span style=\"background" in h.proto.body]


def trained(query=None):
    at = run_page(PAGE, {**TINY, **(query or {})})
    at.button(key="lm_train").click().run()
    assert not at.exception
    return at


def test_defaults_describe_the_corpus_and_show_the_stored_model():
    at = run_page(PAGE)
    assert not at.exception
    task = charlm.CharTask(corpora.get_corpus("zen"))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Distinct characters"] == str(len(task.vocab))
    assert metrics["Memoryless floor"] == f"{charlm.bpc(task.baseline(0)):.2f} bits/char"
    assert metrics["Training characters"] == f"{len(task.corpus.train_text):,}"
    # No button pressed: the model trained in advance at these settings, with its stored curve.
    assert any("trained in advance at the default settings" in i.value for i in at.info)
    stored = pretrained.manifest()["text_lab"]["metrics"]
    assert metrics["Held-out text"] == f"{stored['held_out_bpc']:.2f} bits/char"
    assert metrics["Steps trained"] == f"{stored['steps']:,}"
    assert "bpc" in figures(at)


def test_another_setting_asks_for_training():
    at = run_page(PAGE, {"lm_hidden": "64"})
    assert not at.exception
    assert "No RNN has been trained on this text yet" in texts(at)
    assert not figures(at)


def test_tiny_training_run_shows_its_curve_a_sample_and_the_units():
    at = trained({"cell": "GRU", "temperature": "0.5", "sample_len": "60", "sample_seed": "7"})
    lm = at.session_state["lm_models"]["gru"]["lm"]
    hist = lm.history
    assert hist.model_step == 20 and lm.cell == "gru" and lm.hidden_size == 8
    figs = figures(at)
    np.testing.assert_allclose(decode(trace_named(figs["bpc"], "GRU held-out")["y"]), charlm.bpc(hist.test_loss))
    assert any(s.get("y0") == pytest.approx(charlm.bpc(hist.baseline)) for s in figs["bpc"]["layout"]["shapes"])
    # the sample on the page is the engine's for these settings: prompt, temperature, length, seed
    prompt = at.text_input(key="lm_prompt_zen").value
    want = lm.sample(prompt, 60, temperature=0.5, seed=7)
    assert prompt + want.text in blocks(at)
    bars = figures(at)["next_char"]["data"][0]
    shown = decode(bars["x"])   # the 8 most likely, then the written one if it is not among them
    np.testing.assert_allclose(shown[:8], np.sort(want.probs[0])[::-1][:8], rtol=1e-6)
    assert len(shown) == 8 + (want.rank(0) > 8) and want.probs[0, want.codes[0]] == pytest.approx(
        shown[min(want.rank(0), 9) - 1], rel=1e-6)
    # the text coloured by hidden unit 0, and the ranking table
    look = corpora.get_corpus("zen").text
    assert look in blocks(at)
    coloured = next(h.proto.body for h in at.get("html") if shown_text(h.proto.body) == look)
    values = [float(v) for v in re.findall(r'title="#\d+ [^:]*: ([-+0-9.]+)"', html.unescape(coloured))]
    np.testing.assert_allclose(values, lm.trace(look).hidden[:, 0], atol=5e-4)
    table = at.dataframe[0].value
    assert list(table.columns) == ["feature", "unit", "correlation"] and len(table) > 0
    # how far back it looks: the page's curve is input_gradient at the default position
    reach = decode(figures(at)["reach"]["data"][0]["y"])
    np.testing.assert_allclose(reach, np.log10(charlm.input_gradient(lm, look, 200))[::-1], rtol=1e-9)


def test_colouring_follows_the_state_and_unit_pickers_and_cells_compare():
    at = trained({"cell": "LSTM"})
    at.selectbox(key="lm_state").set_value("forget").run()
    at.number_input(key="lm_unit").set_value(3).run()
    assert not at.exception
    lm = at.session_state["lm_models"]["lstm"]["lm"]
    look = corpora.get_corpus("zen").text
    assert any("forget gate f of unit 3" in h.proto.body for h in at.get("html"))   # the legend says what colours it
    want = lm.trace(look).gates["forget"][:, 3]
    coloured = next(h.proto.body for h in at.get("html") if shown_text(h.proto.body) == look)
    values = [float(v) for v in re.findall(r'title="#\d+ [^:]*: ([-+0-9.]+)"', html.unescape(coloured))]
    np.testing.assert_allclose(values, want, atol=5e-4)
    # a second cell trained on the same text: both curves, side by side
    at.selectbox(key="cell").set_value("RNN").run()
    at.button(key="lm_train").click().run()
    assert not at.exception
    names = [d["name"] for d in figures(at)["reach"]["data"]]
    assert any(n.startswith("RNN") for n in names) and any(n.startswith("LSTM") for n in names)
    assert {"RNN held-out text", "LSTM held-out text"} <= {d.get("name") for d in figures(at)["bpc"]["data"]}


def _upload_corpus(at, data: bytes, name="mine.txt"):
    at.selectbox(key="corpus").set_value("upload").run()
    at.file_uploader(key="lm_text_file").upload(name, data, "text/plain").run()
    assert not at.exception
    return at


@pytest.mark.parametrize("data, message", [(b"caf\xe9 au lait " * 10, "byte 0xe9 at position 3"),
                                           (b"", "empty"), (b"\x00\x01\x02" * 40, "looks binary")])
def test_bad_text_upload_shows_its_message(data, message):
    at = _upload_corpus(run_page(PAGE), data, "bad.txt")
    errors = said(at.error)
    assert "`bad.txt`" in errors and message in errors
    assert "Upload a .txt file" in texts(at)   # still on the Zen of Python meanwhile


def test_uploaded_text_is_learned_and_shown_as_text_never_as_html():
    evil = "<script>alert('x')</script> <img src=x onerror=alert(1)> \"quoted\" (1 + 2) [3]\n" * 4
    at = _upload_corpus(run_page(PAGE, TINY), evil.encode())
    assert {m.label: m.value for m in at.metric}["Distinct characters"] == str(len(set(evil)))
    at.button(key="lm_train").click().run()
    assert not at.exception and at.session_state["lm_models"]["rnn"]["corpus"][0] == "upload"
    bodies = [h.proto.body for h in at.get("html")]
    assert not any("<script" in b or "<img" in b for b in bodies)
    assert evil in blocks(at)                                            # the text, escaped, character by character
    assert at.get("code")[0].proto.code_text.startswith(evil[:60])        # a code block shows it literally


def test_model_files_round_trip_and_a_malicious_one_is_refused(tmp_path):
    at = trained({"cell": "GRU"})
    lm = at.session_state["lm_models"]["gru"]["lm"]
    data = at.get("download_button")[0].proto  # the download offers this model's file
    assert data.label.startswith("Download this GRU")
    target = tmp_path / "pwned.txt"
    buf = io.BytesIO()
    torch.save({"format": uploads.CHARLM_FORMAT, "x": Payload(target)}, buf)
    at.file_uploader(key="lm_model_file").upload("evil.pt", buf.getvalue()).run()
    assert not at.exception and not target.exists()
    errors = said(at.error)
    assert "`evil.pt` was not loaded: Refused" in errors and "Nothing in it was run" in errors
    # a good file: a different model, loaded in place of the trained one
    other = charlm.CharLM.from_bytes(lm.to_bytes())
    with torch.no_grad():
        other.readout.bias.add_(1.0)
    at.file_uploader(key="lm_model_file").clear().run()
    at.file_uploader(key="lm_model_file").upload("mine.pt", other.to_bytes()).run()
    assert not at.exception
    assert "Loaded `mine.pt`: a GRU with H = 8" in " ".join(s.value for s in at.success)
    loaded = at.session_state["lm_models"]["gru"]["lm"]
    np.testing.assert_array_equal(loaded.logits("Beautiful"), other.logits("Beautiful"))
    assert loaded.history is None and "bpc" not in figures(at)


def test_model_for_another_vocabulary_is_refused_with_the_reason():
    at = run_page(PAGE, {"corpus": "stdlib"})
    vocab = Vocab.from_text("abc ")
    spec = charlm.lm_spec("rnn", 4).replace(input_size=len(vocab))
    small = charlm.CharLM(vocab, rnnviz.build_model(spec), rnnviz.train.make_readout(spec, len(vocab)), corpus="zen")
    at.file_uploader(key="lm_model_file").upload("small.pt", small.to_bytes()).run()
    errors = said(at.error)
    assert "vocabulary does not match this text" in errors and "The Zen of Python" in errors
    assert "rnn" not in at.session_state["lm_models"]


def test_bad_url_values_are_noted_and_edge_settings_run():
    at = run_page(PAGE, {"temperature": "hot", "lm_hidden": "99999", "corpus": "<script>", "top_k": "-1"})
    assert not at.exception
    notes = url_notes(at)
    for name in ("temperature='hot'", "lm_hidden='99999'", "corpus='<script>'", "top_k='-1'"):
        assert f"{name} was ignored" in notes
    # the smallest model and sample, greedy and top-1, a sample shorter than the chosen position
    at = trained({"lm_hidden": "4", "lm_seq_len": "2", "lm_batch": "1", "temperature": "0", "top_k": "1",
                  "sample_len": "40"})
    at.slider(key="lm_sample_pos").set_value(35).run()
    at.slider(key="sample_len").set_value(1).run()
    assert not at.exception and "next_char" in figures(at)
    at.slider(key="sample_len").set_value(12).run()
    assert not at.exception and at.slider(key="lm_sample_pos").max == 11
    lm = at.session_state["lm_models"]["rnn"]["lm"]
    prompt = at.text_input(key="lm_prompt_zen").value
    assert prompt + lm.sample(prompt, 12, temperature=0).text in blocks(at)


def test_training_that_would_take_too_long_is_refused():
    """A link cannot start hours of training: the largest settings disable Train and say why."""
    at = run_page(PAGE, {"lm_steps": "20000", "lm_hidden": "512", "lm_seq_len": "400", "lm_batch": "256"})
    assert not at.exception
    assert at.button(key="lm_train").disabled
    assert any("more than the 10" in w.value and "one click may start here" in w.value for w in at.warning)
    small = run_page(PAGE)
    assert not small.button(key="lm_train").disabled


def _unit_caption(at) -> str:
    return next(c.value for c in at.caption if "the one colouring the text" in c.value)


@pytest.mark.parametrize("cell, state, symbol, others", [
    ("RNN", "hidden", "h", []),
    ("LSTM", "cell", "c", ["h = hidden state h", "i = input gate i", "f = forget gate f", "o = output gate o"]),
    ("GRU", "update", "z", ["h = hidden state h", "r = reset gate r"]),
])
def test_unit_caption_names_the_unit_that_colours_the_text(cell, state, symbol, others):
    at = trained({"cell": cell})
    at.selectbox(key="lm_state").set_value(state).run()
    at.number_input(key="lm_unit").set_value(5).run()
    assert not at.exception
    caption = _unit_caption(at)
    assert caption.startswith(f"{symbol}[5]: unit 5 of the ") and "[12]" not in caption
    assert "; ." not in caption and ". ." not in caption and ", ." not in caption
    for other in others:
        assert other in caption
    if not others:
        assert "Other letters" not in caption
    assert any("of unit 5" in h.proto.body for h in at.get("html"))   # the legend names the same unit


def test_a_model_file_of_random_bytes_gets_a_plain_message():
    at = run_page(PAGE)
    at.file_uploader(key="lm_model_file").upload("random.pt", np.random.default_rng(1).bytes(3000)).run()
    assert not at.exception
    errors = said(at.error)
    assert "`random.pt` was not loaded: This is not a PyTorch file" in errors
    assert "codec" not in errors and "decode" not in errors


def test_the_written_character_is_always_in_the_bar_chart():
    """At temperature 2 an unlikely character is often written: it gets its own bar, with its rank."""
    at = trained({"temperature": "2", "sample_len": "300", "sample_seed": "3"})
    smp = at.session_state["lm_sample"][1]
    lm = at.session_state["lm_models"]["rnn"]["lm"]
    far = [i for i in range(len(smp.codes)) if smp.rank(i) > 8]
    near = [i for i in range(len(smp.codes)) if smp.rank(i) <= 8]
    assert far and near
    at.slider(key="lm_sample_pos").set_value(far[0]).run()
    assert not at.exception
    fig = figures(at)["next_char"]
    model, sampled = fig["data"]
    wrote = int(smp.codes[far[0]])
    assert len(decode(model["x"])) == 9
    assert decode(model["x"])[-1] == pytest.approx(smp.probs[far[0], wrote], rel=1e-6)
    assert decode(sampled["x"])[-1] == pytest.approx(smp.sampling_probs[far[0], wrote], rel=1e-6)
    ticks = fig["layout"]["yaxis"]["ticktext"]
    label = html.escape(lm.vocab.label(wrote), quote=False)
    assert ticks[-1] == f"<b>'{label}' #{smp.rank(far[0])}</b>"                # bold, with its rank
    assert sum(t.startswith("<b>") for t in ticks) == 1
    widths = decode(model["marker"]["line"]["width"])
    assert widths[-1] > 0 and not widths[:-1].any()                                 # only its bars outlined
    assert f"number {smp.rank(far[0])} of {len(lm.vocab)}" in texts(at)
    assert "0.0%" not in decode(model["text"]).tolist()[-1]                    # a tiny probability, not zero
    # a character among the 8 most likely: 8 bars, the written one highlighted in its place
    at.slider(key="lm_sample_pos").set_value(near[0]).run()
    fig = figures(at)["next_char"]
    ticks = fig["layout"]["yaxis"]["ticktext"]
    assert len(ticks) == 8 and ticks[smp.rank(near[0]) - 1].startswith("<b>")
    assert sum(t.startswith("<b>") for t in ticks) == 1


def test_a_text_upload_message_already_shown_follows_a_language_switch():
    """The refused text file's message, kept since the upload, is written in the page's language each time it
    is shown: the engine's own Chinese after the sidebar's switch, the same English again after the way back."""
    data = b"\x00\x01\x02" * 40
    at = _upload_corpus(run_page(PAGE), data, "bad.txt")
    english = said(at.error)
    assert "`bad.txt` could not be used" in english and "looks binary" in english
    with pytest.raises(ValueError) as err:
        corpora.text_from_upload(data)
    with i18n.language("zh"):
        reason = ui.plain(i18n.text(err.value))
    assert re.search(r"[\u4e00-\u9fff]", reason)
    switch_language(at, "zh")
    assert [e.value for e in at.error] == [f"`bad.txt` 无法使用：{reason}"]
    assert said(switch_language(at, "en").error) == english
