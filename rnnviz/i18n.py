"""The app's languages: English (the text written in the code) and Simplified Chinese (zh-CN).

Translations are standard gettext catalogs: `rnnviz/locale/zh_CN/LC_MESSAGES/rnnviz.po`, read and
compiled in memory when first needed (through Babel), so there is no build step and no `.mo` file.

How a developer marks a new string and adds its Chinese:

1. Write the English as one whole string literal inside `_()`. Values go in by name with
   `str.format`, never glued from pieces, so that a translation can move them::

       st.caption(_("Trained {steps} steps in {seconds:.0f} s.").format(steps=n, seconds=dt))

   A string defined at import time (a table of labels, a knob's help) is marked with `N_()`, which
   returns it unchanged, and translated where it is shown: `_(knob.label)`. A sentence made in the
   engine and shown later, perhaps in another process (an upload's error, a note), is a `Message`:
   `raise UploadError(Message("The {what} is empty.", what=...))`. It is a str holding the English, and
   the page shows it with `text(...)`, in the reader's language. Counting words that
   change in English use `ngettext("{n} step", "{n} steps", n).format(n=n)`. Names and symbols
   (RNN, LSTM, tanh, W_hh, ‖∂L/∂h‖) stay as they are in both languages.
2. Run `python -m rnnviz catalog`: it collects every marked string of the app and adds the new ones to
   the catalog with an empty translation (and drops those no longer used).
3. Write the Chinese in the `msgstr` of each new entry of the `.po` file. Keep every `{name}`
   placeholder and the markdown (`**bold**`, links) of the English.

`tests/test_i18n.py` fails on a marked string without a translation, on a translation whose
placeholders differ from its English, and on a marked argument that is not a literal (an f-string
cannot be looked up).

The language of the current page comes from a source the Streamlit layer installs (the session's
choice, `rnnviz.ui.page`); outside the app, and in tests, `with language("zh"):` sets it.
"""
from __future__ import annotations

import ast
import functools
import gettext
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

DEFAULT = "en"
LANGUAGES = {"en": "English", "zh": "中文"}  # each language's name in itself, for the chooser
LOCALES = {"zh": "zh_CN"}                      # the catalog of each translated language
DOMAIN = "rnnviz"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
ROOT = Path(__file__).resolve().parents[1]
MARKERS = ("_", "N_", "ngettext", "Message")  # the functions whose literal arguments are the app's strings

_override: ContextVar[str | None] = ContextVar("rnnviz_language", default=None)
_source: Callable[[], str | None] | None = None


def parse(value) -> str | None:
    """A language code from untrusted text ("zh", "zh-CN", "zh_cn", "EN"), or None if unknown."""
    if not isinstance(value, str):
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def set_source(source: Callable[[], str | None] | None):
    """Install where the current language comes from (the app: the session's choice)."""
    global _source
    _source = source


def current() -> str:
    """The language strings are translated into now: a `language()` block's, else the source's,
    else English."""
    code = _override.get()
    if code is None and _source is not None:
        try:
            code = parse(_source())
        except Exception:  # noqa: BLE001 - no session (a worker thread): the default language
            code = None
    return code or DEFAULT


@contextmanager
def language(code: str) -> Iterator[None]:
    """Translate into `code` inside this block (tests, exports, anything outside a page)."""
    token = _override.set(parse(code) or DEFAULT)
    try:
        yield
    finally:
        _override.reset(token)


@functools.cache
def catalog_path(code: str) -> Path:
    return LOCALE_DIR / LOCALES[code] / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(code: str) -> gettext.NullTranslations:
    """The gettext translations of a language, compiled from its `.po` file once per process."""
    if code not in LOCALES:
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with open(catalog_path(code), "rb") as f:
        catalog = read_po(f, locale=LOCALES[code], domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out: their English is shown
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _(message: str) -> str:
    """`message` in the current language (the English itself when it has no translation); a Message
    with its fields."""
    if not message:
        return message
    if isinstance(message, Message):
        return message.translated()
    return translations(current()).gettext(message)


def N_(message: str) -> str:
    """Mark a string for translation without translating it (tables built at import time)."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for the count `n`, in the current language."""
    return translations(current()).ngettext(singular, plural, n)


class Message(str):
    """A sentence made now and shown later in the reader's language: an English template, marked where
    it is written (`Message` is a marker, like `_`), and its named fields, each a value or another
    Message. As a str it is the English (`str(exc)`, logs, the tests of English messages); `text(m)`
    is its translation in the current language, made where it is shown. Its fields are formatted
    only into templates of this app, never into text from outside."""

    __slots__ = ("template", "fields")

    def __new__(cls, template: str, /, **fields):
        self = super().__new__(cls, template.format(**fields))
        self.template, self.fields = template, fields
        return self

    @classmethod
    def join(cls, items, sep: str = ", ") -> Message:
        """Items (values or Messages) in a list, each translated where the list is shown."""
        items = list(items)
        return cls(sep.join(f"{{item{i}}}" for i in range(len(items))),
                   **{f"item{i}": item for i, item in enumerate(items)})

    def translated(self) -> str:
        fields = {k: v.translated() if isinstance(v, Message) else v for k, v in self.fields.items()}
        return _(self.template).format(**fields)

    def __reduce__(self):
        return _message, (self.template, self.fields)


class Untrusted(str):
    """Text from outside (a file, a link) in a Message's field, as it is shown (clipped, on one line, by
    `rnnviz.files.quote`): the same in every language, and told apart from the app's own words."""

    __slots__ = ()


def _message(template: str, fields: dict) -> Message:
    return Message(template, **fields)


def text(value) -> str:
    """What to show for `value` in the current language: a Message translated, an exception raised with
    a Message (its first argument) translated, anything else as str()."""
    if isinstance(value, BaseException) and value.args and isinstance(value.args[0], Message):
        value = value.args[0]
    return value.translated() if isinstance(value, Message) else str(value)


# --- Collecting the marked strings (the catalog's maintenance and its completeness test) ---

SOURCES = ("viz_app.py", "pages", "rnnviz")


def source_files(root: Path = ROOT) -> list[Path]:
    files = []
    for name in SOURCES:
        p = root / name
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p] if p.exists() else []
    return files


def marked_strings(root: Path = ROOT) -> tuple[dict, list[str]]:
    """Every marked string of the app: ({msgid or (singular, plural): [(file, line), ...]}, problems),
    where a problem is a marker called with something other than string literals."""
    found, problems = {}, []
    for path in source_files(root):
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS):
                continue
            want = 2 if node.func.id == "ngettext" else 1
            args = node.args[:want]
            if len(args) == want and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
                key = args[0].value if want == 1 else (args[0].value, args[1].value)
                if key:
                    found.setdefault(key, []).append((rel, node.lineno))
            elif node.func.id == "N_" or len(args) < want or any(_built(a) for a in args):
                # `_(name)` translates a string marked elsewhere (N_); text built here cannot be looked up
                problems.append(f"{rel}:{node.lineno}: {node.func.id}() needs whole string literals, "
                                f"got {ast.unparse(node)[:80]}")
    return found, problems


def _built(node: ast.AST) -> bool:
    """Text built at run time: an f-string, a literal glued to something, a literal already formatted."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return True
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Constant))


def update_catalog(code: str = "zh", root: Path = ROOT) -> tuple[int, int]:
    """Bring a language's catalog in line with the marked strings: new ones get an empty
    translation, unused ones are dropped, translations are kept. Returns (added, dropped)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    found, problems = marked_strings(root)
    if problems:
        raise SystemExit("\n".join(problems))
    path = catalog_path(code)
    old = Catalog(locale=LOCALES[code], domain=DOMAIN)
    if path.exists():
        with open(path, "rb") as f:
            old = read_po(f, locale=LOCALES[code], domain=DOMAIN)
    new = Catalog(locale=LOCALES[code], domain=DOMAIN, project="rnnviz", charset="utf-8", fuzzy=False,
                  header_comment=f"# rnnviz: the app's strings in {LANGUAGES[code]} ({LOCALES[code]}).\n"
                                 "# How to add a string: the docstring of rnnviz/i18n.py.",
                  creation_date=old.creation_date, revision_date=old.creation_date)
    added = 0
    for key, where in found.items():
        before = old.get(key[0] if isinstance(key, tuple) else key)
        string = before.string if before is not None else ("", "") if isinstance(key, tuple) else ""
        added += before is None
        flags = before.flags if before is not None else ()
        new.add(key, string, locations=where, flags=flags)
    dropped = sum(1 for m in old if m.id and (m.id if not isinstance(m.id, tuple) else m.id) not in found)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        write_po(f, new, width=100, sort_by_file=True, include_lineno=False)
    translations.cache_clear()
    return added, dropped



# The knobs' choices as a widget shows them in another language (a link always carries the token itself;
# names such as RNN, LSTM, tanh or relu read the same in every language).
CHOICE_WORDS = (N_("orthogonal"), N_("gaussian"), N_("identity"), N_("torch"), N_("linear"), N_("impulse"),
                N_("noise"), N_("sine"), N_("binary"), N_("text"), N_("last"), N_("all"), N_("constant"),
                N_("none"), N_("off"), N_("norm"), N_("value"), N_("zen"), N_("stdlib"), N_("upload"),
                N_("hidden"), N_("cell"), N_("input"), N_("forget"), N_("candidate"), N_("output"), N_("reset"),
                N_("update"), N_("adding"), N_("copy"), N_("binary_addition"), N_("temporal_order"), N_("parity"),
                N_("sentiment"), N_("look_ahead"), N_("on"), N_("positive"), N_("negative"), N_("tag"), N_("forward"),
                N_("backward"))
