"""Hostile files and unusual text for the tests."""


class Payload:
    """Unpickling this calls open(path, 'w'): it creates a file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


# Emoji (with a ZWJ sequence and a skin tone), CJK, combining marks, right-to-left scripts,
# newlines of every kind, tabs, control and private-use characters, astral symbols.
UNICODE_SAMPLES = [
    "",
    "a",
    "Hello, world!\n",
    "👩‍👩‍👧‍👦 family 👍🏽 thumbs\n🎉",
    "漢字かなカナ한국어 中文，标点。",
    "e\u0301 = é, n\u0303, a\u0308\u0323 (combining marks)",
    "שלום עולם مرحبا بالعالم",
    "line\r\nwindows\rmac\n\u2028sep\u2029para",
    "\t tab \x00 nul \x1b esc \u200b zero-width \ufeff bom \ufffd",
    "\U0001d54f\U0001d560 math, \U000e0041 tag, \ue000 private",
    "<script>alert('x')</script> & \"quotes\"",
]
