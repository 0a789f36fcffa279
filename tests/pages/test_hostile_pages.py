"""Hostile files on the pages that read them: every message is plain text (no link, image, colour or
icon from a file's key names or name), the navigation survives a failed upload, a file that fails
keeps its message on the next run, and Your Model reads ?loss= like every page."""
import re

import pytest
import torch

from rnnviz import ui
from rnnviz.files import sequences, uploads
from rnnviz.i18n import language
from tests.files import hostile as h
from tests.support.apphelp import run_page, said

YOURS, LAB = "pages/7_Your_Model.py", "pages/6_Text_Lab.py"
NAME = "[click](http://evil.example/x) :red[red] ![i](http://evil.example/p.png).pt"
EVIL = {"head.[x](http://evil.example/a)": torch.zeros(1), "head.:red[alarm] :material/warning:": torch.zeros(1),
        "head.![pixel](http://evil.example/p.png)": torch.zeros(1), "head.<img src=x>": torch.zeros(1),
        "head.www.evil.example and a@evil.example": torch.zeros(1), "head.$x^2$ **bold**": torch.zeros(1)}
SHARE = ("[Link to exactly this view](", "[Classroom link (")   # the app's own links
# Markup from the file's names: an unescaped "[" (the page's own "h[0]", an index, is not), a link, a colour...
MARKUP = re.compile(r"(?<!\\)(\[(?!\d+\])|\]\(|:red|:material|<img|\$x|\*\*bold)|www\.|@evil|://")


def markdown_texts(at) -> list[str]:
    """Every markdown string the page shows, code spans (inert) removed."""
    out = []
    for kind in ("markdown", "caption", "warning", "error", "info", "success", "title", "subheader"):
        out += [re.sub(r"`[^`]*`", "``", str(e.value)) for e in at.get(kind) if not str(e.value).startswith(SHARE)]
    return out


def upload(at, key, name, data):
    at.file_uploader(key=key).set_value((name, data, "application/octet-stream")).run()
    return at


def nav_links(at) -> list[str]:
    return [n.proto.label for n in at.get("page_link")]


def test_key_names_and_file_names_with_markup_are_shown_as_plain_text():
    at = upload(run_page(YOURS), "model_file", NAME, h.saved({**h.lstm_state(), **EVIL}))
    assert not at.exception
    assert any("Ignored 6 tensors" in s for s in markdown_texts(at))          # the note that quotes the keys
    assert any("LSTM, input size 3" in s.value for s in at.success)
    for text in markdown_texts(at):
        assert not MARKUP.search(text), text
    at = upload(at, "model_file", NAME, h.saved({k: v for k, v in EVIL.items()}))   # the missing-weights error
    assert "Missing weights" in said(at.error)
    for text in markdown_texts(at):
        assert not MARKUP.search(text), text


def test_plain_escapes_every_way_markup_starts():
    for text in [NAME, *(k.removeprefix("head.") for k in EVIL), "- a list", "1. a list", "# a heading",
                 "> a quote", "`code`", "a | b | c"]:
        shown = ui.plain(text)
        assert not MARKUP.search(shown), shown
        assert re.sub(r"\\(.)", r"\1", shown).replace("\u2060", "") == text         # and reads as written
    assert len(ui.plain("1" * 15_000_000)) < 700 and len(ui.inert("x" * 100_000)) < 120


@pytest.mark.parametrize("make, message", [
    (h.cell_as_a_list, "names an unknown cell (a list of 1 item ('lstm'))"),
    (h.zero_stride_giant, "it is a view that repeats stored numbers"),
    (h.deep_list_top_down, "nests containers more than 32 deep"),
])
def test_a_failed_upload_keeps_its_message_and_the_navigation(make, message):
    at = upload(run_page(YOURS), "model_file", "bad.pt", make())
    assert not at.exception
    assert message in said(at.error)
    assert len(nav_links(at)) == len(ui.PAGES)
    at.run()   # the next run (any click) still says why, and shows only the example the page opened with
    assert message in said(at.error) and not any("bad.pt" in s.value for s in at.success)
    assert any("Still showing the model from `example LSTM`" in c.value for c in at.caption)
    assert len(nav_links(at)) == len(ui.PAGES)


def test_text_lab_model_file_that_fails_gets_its_message_and_keeps_the_navigation():
    at = upload(run_page(LAB), "lm_model_file", NAME, h.saved({**EVIL, "cell": ["lstm"]}))
    assert not at.exception
    errors = said(at.error)
    assert "was not loaded: This state dict is not an rnnviz character model" in errors
    for text in markdown_texts(at):
        assert not MARKUP.search(text), text
    assert len(nav_links(at)) == len(ui.PAGES)


@pytest.mark.parametrize("value, shown, note", [("all", "all", None), ("everything", "last", "everything")])
def test_your_model_reads_loss_from_its_link(value, shown, note):
    at = run_page(YOURS, {"loss": value})
    assert not at.exception
    widget = next(w for w in at.get("segmented_control") + at.get("radio") + at.get("selectbox")
                  if w.key == "loss")
    assert ui.token("loss", widget.value).lower() == shown
    if note:
        assert note in " ".join(w.value for w in at.warning)
    at.button(key="example_model").click().run()
    assert at.query_params.get("loss") == (value if note is None else None)


@pytest.mark.parametrize("read, data, message", [
    (sequences.read_sequence_csv, b"a,b\n1,2\n3,[x](http://evil.example/a)\n",
     "无法使用：第 3 行第 2 列（b）不是数字："),
    (uploads.load_model, h.saved({k: v for k, v in EVIL.items()}), "无法使用：缺少权重：state\\_dict 中没有"),
    (uploads.load_model, h.zero_stride_giant(), "无法使用：张量 'weight\\_ih\\_l0'的形状为 \\[400000, 3\\]"),
])
def test_with_lang_zh_a_failed_upload_is_said_in_chinese_as_plain_text(read, data, message):
    with pytest.raises(ValueError) as err:
        read(data)
    with language("zh"):
        shown = ui.say(ui.failure(NAME, err.value))
    assert message in shown, shown
    assert not MARKUP.search(re.sub(r"`[^`]*`", "``", shown)), shown
    assert not re.search(r"\b(could|not|the|file|tensor|number)\b", shown), shown
