"""Untrusted text on a page: file names, keys of a file, model titles, CSV cells, link values, and
the messages that quote them. The one inert path of every page:

    st.caption(f"Using {ui.inert(upload.name)}.")          # a value, as a code span, at most 80 characters
    st.error(ui.plain(exc))                                # a whole message, as plain text, at most 600
    ss["error"] = ui.failure(upload.name, exc)             # why an upload could not be used, for any exception,
    st.error(ui.say(ss["error"]))                          # kept and shown (later) in the page's language then

Markdown in these never becomes a link, an image, a colour, an icon, a formula or HTML, and a value
of any length takes a line at most. Messages made in the engine (`rnnviz.i18n.Message`, and exceptions
raised with one) are shown here in the page's language; a message kept in session state (a `Kept`, a
`Message`) is written when it is shown, so that it follows a language switch.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import i18n
from ..files.quote import clip
from ..i18n import N_, Message, _


def inert(text: str, width: int = 80) -> str:
    """Untrusted text (a link value, a file name, a key of a file, a model's title) shown inert in
    markdown, at most `width` characters of it: as a code span, where nothing is a link, an
    autolinked address, an icon shortcode, a colour, a formula or HTML. Backticks, which would end
    the span, and control and direction characters are replaced."""
    clean = i18n.text(clip(i18n.text(text), width)).replace("`", "ˋ")
    return "`" + (clean.strip() or " ") + "`"


# The markdown characters that can start markup (any ASCII punctuation may be escaped: "\\[" is a
# plain "["). Escaped, no link, image, emphasis, colour (:red[...]), icon (:material/...:), formula
# ($...$) or HTML can start; a list marker at the start is escaped too.
_MARKDOWN_ESCAPES = str.maketrans({ch: "\\" + ch for ch in "\\`*_[]<>#|~$:@"})
_LEADING_MARK = re.compile(r"^(\s*\d*)([-+.)])")
# Addresses are linked after parsing, from the text itself (GFM's autolink literals: http://...,
# www.x.y, a@b.c), where an escape does not reach: an invisible word joiner breaks them instead.
_ADDRESS = re.compile(r"(:(?=//)|www(?=\.)|@)", re.IGNORECASE)
_JOINER = "\u2060"


def plain(text: str, width: int = 600) -> str:
    """A whole message that quotes untrusted text (an upload's error, a summary that names a file's
    keys) as plain text in markdown: at most `width` characters on one line, every character that
    could start markup escaped. For `st.error(ui.plain(message))` and the like."""
    escaped = i18n.text(clip(i18n.text(text), width)).translate(_MARKDOWN_ESCAPES)
    escaped = _LEADING_MARK.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)
    return _ADDRESS.sub(lambda m: m.group(1) + _JOINER, escaped)


@dataclass(frozen=True)
class Kept:
    """A sentence about an upload, kept in session state until a page shows it and written then, in the
    page's language at that moment: `template` is English markdown (marked with N_ where it is made), its
    `{name}` the file's name (shown inert), `fields` its other values or Messages (shown as plain text)."""

    template: str
    name: str = ""
    fields: dict = field(default_factory=dict)

    def markdown(self) -> str:
        return _(self.template).format(name=inert(self.name), **{k: plain(v) for k, v in self.fields.items()})


def say(message) -> str:
    """Markdown, in the page's language now, for a message kept in session state: a `Kept` written from
    its template; anything else (a Message, an exception's text) as plain text."""
    return message.markdown() if isinstance(message, Kept) else plain(message)


def reason(exc: BaseException) -> str:
    """What an upload's exception tells the uploader, to keep: a ValueError's Message (translated where it
    is shown) or text; of anything else only its kind."""
    if isinstance(exc, ValueError):
        return exc.args[0] if exc.args and isinstance(exc.args[0], Message) else str(exc)
    return Message("reading it failed unexpectedly ({kind}). Nothing of the file was kept.", kind=type(exc).__name__)


def failure(name: str, exc: BaseException, what: str = N_("could not be used")) -> Kept:
    """Why an upload failed, to keep and show with `say`: its name inert, then what happened (`what`,
    marked with N_) and the `reason` in plain text."""
    return Kept(N_("{name} {what}: {reason}"), str(name), {"what": Message(what), "reason": reason(exc)})


def read_upload(file, read, what: str = N_("could not be used")):
    """(read(the file's bytes), None), or (None, the `failure`, a Kept) when reading raises anything:
    an untrusted file's every failure is a message, never a traceback."""
    try:
        return read(file.getvalue()), None
    except Exception as exc:  # noqa: BLE001 - an untrusted file
        return None, failure(file.name, exc, what)
