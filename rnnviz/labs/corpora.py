"""The texts a character model learns from: the Zen of Python, Python source code from the
standard library, or an uploaded text. The last tenth of each is held out.

    corpus = get_corpus("zen")                       # or "stdlib", or ("upload", text_from_upload(data))
    corpus.train_text, corpus.held_out_text, corpus.key
"""
from __future__ import annotations

import ast
import codecs
import functools
import hashlib
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from ..files import sequences
from ..files.intake import MAX_TEXT_BYTES
from ..i18n import N_, Message

MIN_CHARS = 50                    # a corpus needs this many characters
HELD_OUT = 0.1                    # the last tenth of a corpus is held out
STDLIB_CHARS = 200_000            # size of the standard-library corpus
MODULE_MARK = "module"            # each module of the standard-library corpus starts with "# module name.py"
# Readable, self-contained standard-library modules, in this order (those this Python has).
STDLIB_FILES = ("textwrap.py", "heapq.py", "bisect.py", "fnmatch.py", "glob.py", "shlex.py", "colorsys.py",
                "keyword.py", "string.py", "graphlib.py", "sched.py", "queue.py", "numbers.py", "copy.py",
                "reprlib.py", "linecache.py", "genericpath.py", "posixpath.py", "abc.py", "fractions.py",
                "statistics.py", "random.py", "calendar.py", "difflib.py", "dataclasses.py", "functools.py")


@dataclass(frozen=True)
class Corpus:
    """A text to learn from. The last tenth (from a line start, when there is one) is held out."""

    name: str           # "zen", "stdlib" or "upload"
    title: str
    text: str
    source: str         # where the text came from, in a sentence

    @functools.cached_property
    def split_at(self) -> int:
        return split_point(self.text)

    @property
    def train_text(self) -> str:
        return self.text[:self.split_at]

    @property
    def held_out_text(self) -> str:
        return self.text[self.split_at:]

    @functools.cached_property
    def key(self) -> tuple[str, str]:
        """What tells this text apart from every other: ("zen", ""), or ("upload", a hash of the text)."""
        if self.name != "upload":
            return (self.name, "")
        return (self.name, hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()[:16])


def split_point(text: str, held_out: float = HELD_OUT) -> int:
    """Where the held-out part of `text` starts: about the last `held_out` of it, moved back to the
    start of a line if one begins in the previous tenth. Both parts keep at least 2 characters."""
    n = len(text)
    if n < 4:
        raise ValueError(f"a corpus needs at least 4 characters; got {n}")
    cut = int(round(n * (1 - held_out)))
    newline = text.rfind("\n", int(n * (1 - 2 * held_out)), cut)
    if newline >= 0:
        cut = newline + 1
    return min(max(cut, 2), n - 2)


@functools.lru_cache(maxsize=1)
def zen_of_python() -> str:
    """The Zen of Python, from the standard library's `this` module, without importing it (importing
    prints it): the module's rot13 string is read from its source and decoded."""
    path = Path(sysconfig.get_paths()["stdlib"]) / "this.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "s" for t in node.targets):
            return codecs.decode(ast.literal_eval(node.value), "rot13")
    raise RuntimeError(f"no rot13 string 's' in {path}")


@functools.lru_cache(maxsize=4)
def stdlib_source(max_chars: int = STDLIB_CHARS) -> str:
    """Python source code: the standard library's own modules of STDLIB_FILES (then any others, sorted
    by name, if this Python lacks them), each after a line "# module <name>.py", concatenated up to
    `max_chars`, cut at a line end."""
    root = Path(sysconfig.get_paths()["stdlib"])
    paths = [root / name for name in STDLIB_FILES]
    paths += sorted(p for p in root.glob("*.py") if p.name not in STDLIB_FILES)
    parts, total = [], 0
    for path in paths:
        if total >= max_chars:
            break
        if not path.is_file():
            continue
        code = path.read_text(encoding="utf-8", errors="replace")
        part = f"# {MODULE_MARK} {path.name}\n{code.rstrip()}\n\n"
        parts.append(part)
        total += len(part)
    text = "".join(parts)
    if len(text) > max_chars:
        end = text.rfind("\n", 0, max_chars)
        text = text[:end + 1 if end > 0 else max_chars]
    return text


def text_from_upload(data: bytes) -> str:
    """The text of an uploaded file to learn from (decoded by `rnnviz.files.sequences.read_text`), at
    least MIN_CHARS characters long, or a ValueError whose message says what is wrong with it."""
    text = sequences.read_text(data, max_bytes=MAX_TEXT_BYTES, max_chars=MAX_TEXT_BYTES)
    if len(text) < MIN_CHARS:
        raise ValueError(Message("The text has {n} characters; a character model needs at least {least}.",
                                 n=len(text), least=MIN_CHARS))
    return text


CORPUS_TITLES = {"zen": N_("The Zen of Python"), "stdlib": N_("Python source code (the standard library)"),
                 "upload": N_("Your own text")}  # titles and sources: English, marked; translated where shown


def default_prompt(corpus: Corpus) -> str:
    """A prompt to start sampling from: the opening words of a line of the text."""
    if corpus.name == "zen":
        return "Beautiful is"
    if corpus.name == "stdlib":
        return "    def "
    words = corpus.text.lstrip().split("\n", 1)[0].split(" ")
    return " ".join(words[:2])[:40]


def get_corpus(name: str, text: str | None = None) -> Corpus:
    """A corpus by name: "zen", "stdlib", or "upload" (then `text` is the uploaded text)."""
    if name == "zen":
        return Corpus("zen", CORPUS_TITLES["zen"], zen_of_python(),
                      N_("Tim Peters' 19 aphorisms, from the standard library's `this` module."))
    if name == "stdlib":
        text = stdlib_source()
        return Corpus("stdlib", CORPUS_TITLES["stdlib"], text,
                      f"{text.count(f'# {MODULE_MARK} ')} modules of this Python's standard library, as in the "
                      "char-RNN experiments on source code.")
    if name == "upload":
        if not text or len(text) < MIN_CHARS:
            raise ValueError(f"an uploaded corpus needs at least {MIN_CHARS} characters")
        return Corpus("upload", CORPUS_TITLES["upload"], text, N_("The text file you uploaded."))
    raise ValueError(f"corpus must be one of {', '.join(CORPUS_TITLES)}; got {name!r}")
