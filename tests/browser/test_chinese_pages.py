"""Every page in Chinese, in a real browser: with lang=zh no page shows an English word outside a short
list of names and symbols (RNN, LSTM, tanh, PyTorch, ...), in its text or in its charts (titles, axes,
legends, annotations), and the language stays when the user moves to another page."""
import re

import pytest

from rnnviz import lessons
from rnnviz.i18n import _, language
from rnnviz.lessons.basics import SENTENCE
from rnnviz.ui.page import PAGES
from tests.support.browser import exceptions, wait_idle

pytestmark = pytest.mark.browser

# Names and symbols that read the same in a Chinese lecture, and the language chooser's "English".
ALLOWED = {
    "rnnviz", "English", "RNN", "RNNs", "LSTM", "GRU", "IRNN", "LRU", "SSM", "tanh", "relu", "ReLU", "sigmoid",
    "softmax", "logits", "logit", "Adam", "PyTorch", "torch", "nn", "float32", "float64", "inf", "NaN", "Pascanu",
    "Gers", "Jozefowicz", "Le", "Jaitly", "Hinton", "Hochreiter", "Schmidhuber", "Tim", "Peters", "Pearson",
    "Sutskever", "Bahdanau", "Mikolov", "Bengio", "W_hg", "CSV", "NPZ", "PNG", "SVG", "HTML",
    "txt", "pt", "pth", "npz", "csv", "log", "log10", "exp", "max", "min", "act", "Re", "Im", "id", "ISO", "Top-k",
    "W_hh", "W_ih", "W_hn", "b_hn", "h_t", "h_k", "c_t", "x_t", "a_t", "h_T", "c_k", "s_k", "f_k", "i_t", "g_t",
    "o_t", "z_t", "n_t", "f_t", "σ_max", "Python", "Zen", "kB", "MB", "bits", "bit", "LSB", "T", "H", "dB",
    "state_dict", "weights_only", "kaiming", "xavier", "minGRU", "minLSTM", "Mamba", "diag", "S6", "Orvieto",
    "Feng", "Gu", "Dao", "Grazzi", "minGRU_neg", "minLSTM_neg", "S6_neg", "zoh", "euler",
}
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_′'’.-]*")

# The visible text of the page and of its charts. Left out: Streamlit's own texts (the file uploader's
# "Drag and drop file here", the keyboard user's "Skip to main content" link), icon ligatures ("home"),
# formulas (symbols), and code spans (file names, URL values, user data).
VISIBLE_TEXT = """() => {
  const skip = '[data-testid="stFileUploaderDropzoneInstructions"], [data-testid="stFileUploaderDropzone"] button, '
             + '[data-testid="stSkipToContent"], [data-testid="stIconMaterial"], [translate="no"], .katex, '
             + 'code, pre, textarea, input, [data-testid="stHtml"] span[title]';
  const clone = document.querySelector('[data-testid="stApp"]').cloneNode(true);
  clone.querySelectorAll(skip).forEach(e => e.remove());
  clone.querySelectorAll('.js-plotly-plot').forEach(e => e.remove());
  document.body.appendChild(clone); clone.style.position = 'absolute'; clone.style.left = '-99999px';
  const text = clone.innerText; clone.remove();
  const charts = Array.from(document.querySelectorAll(
      '.js-plotly-plot .gtitle, .js-plotly-plot .xtitle, .js-plotly-plot .ytitle, .js-plotly-plot .legendtext, '
    + '.js-plotly-plot .annotation-text, .js-plotly-plot .cbtitle, .js-plotly-plot .g-xtitle, '
    + '.js-plotly-plot .g-ytitle'))
    .map(e => e.textContent);
  return text + '\\n' + charts.join('\\n');
}"""


# The lessons' example sentence and the Text Lab's prompt are data the networks read, quoted as they are;
# p(next) and top-k are symbols.
ALLOWED |= set(SENTENCE.replace("?", " ").split()) | {"Beautiful", "next", "top-k"}


def english_words(text: str) -> list[str]:
    """Latin words outside the allowed names and symbols (maths like "v·h" or "x₁" is not a word)."""
    found = []
    for w in WORD.findall(text):
        w = w.strip("'’′.-")
        if "." in w:  # code: torch.save, nn.Linear, file.pt
            continue
        if len(w) < 2 or w in ALLOWED or w.lower() in {a.lower() for a in ALLOWED if a.islower()}:
            continue
        if re.fullmatch(r"[A-Za-z]_?[A-Za-z0-9]?|[a-z]\d*|\d+[a-z]+|x[0-9A-Fa-f]+", w):  # symbols: h0, W_x, 3rd
            continue
        found.append(w)
    return found


def _slug(path: str) -> str:
    return "" if path == "viz_app.py" else path.split("/")[-1][:-3].split("_", 1)[1]


@pytest.mark.parametrize("path", [p for p, _label, _icon in PAGES])
def test_every_page_in_chinese_shows_no_english_words(page, app_url, path):
    page.goto(f"{app_url}/{_slug(path)}?lang=zh")
    wait_idle(page, 120000)
    page.wait_for_timeout(500)
    assert exceptions(page) == 0
    text = page.evaluate(VISIBLE_TEXT)
    assert re.search(r"[\u4e00-\u9fff]", text), "no Chinese on the page"
    words = english_words(text)
    assert not words, f"{path}: English words on the Chinese page: {sorted(set(words))}"
    assert "lang=zh" in page.url


def test_navigation_keeps_chinese(page, app_url):
    page.goto(f"{app_url}/?lang=zh")
    wait_idle(page, 120000)
    page.get_by_test_id("stSidebar").get_by_text("梯度流").click()
    page.wait_for_url("**/Gradient_Flow?*lang=zh*", timeout=60000)
    wait_idle(page, 120000)
    assert page.locator("h1").first.inner_text().startswith("梯度流")


BOXES = """() => Object.fromEntries(Array.from(document.querySelectorAll('[data-testid=stSelectbox] input'))
                                  .map(i => [i.getAttribute('aria-label'), i.value]))"""


def _switch(page, name):
    page.get_by_test_id("stSidebar").get_by_role("radio", name=name).click()
    page.wait_for_timeout(500)
    wait_idle(page, 120000)


def test_a_language_switch_relabels_the_choices_made_and_keeps_them(page, app_url):
    """The boxes whose value a link set show it in the new language at once, the URL keeps the value; a
    lesson's prediction stays picked."""
    page.goto(f"{app_url}/Gradient_Flow?input_kind=sine&loss=all")
    wait_idle(page, 120000)
    english = page.evaluate(BOXES)
    assert (english["Input sequence"], english["Loss on"], english["Initialisation"]) == ("sine", "all", "orthogonal")
    _switch(page, "中文")
    with language("zh"):
        want = {_(label): _(value) for label, value in english.items()}
    assert page.evaluate(BOXES) == want and want["输入序列"] != "sine"
    assert "input_kind=sine" in page.url and "loss=all" in page.url and "lang=zh" in page.url
    _switch(page, "English")
    assert page.evaluate(BOXES) == english

    page.goto(f"{app_url}/Lessons?lesson=4&step=1")
    wait_idle(page, 120000)
    page.get_by_test_id("stRadio").get_by_text("Smaller than 1/100").click()
    wait_idle(page, 120000)
    _switch(page, "中文")
    picked = page.evaluate("() => Array.from(document.querySelectorAll('[data-testid=stRadio] input:checked'))"
                           ".map(i => i.closest('label').innerText)")
    step = lessons.step(4, 1)
    with language("zh"):
        assert picked == [step.text(step.live())["choices"][1]]
