"""Links keep working: every link of the recorded corpus shows what it showed when it was recorded.

The corpus (`tests/support/links.json`) was recorded by `tests/support/record_links.py` from the app
as it was before its app layer was restructured: every preset, every knob off its default on every
page, flags, the knobs of other pages, invalid values with their notes. Each link is opened again
here and must give the same widget values, the same figure data and layout, the same alerts, the
same text, the same URL and the same settings in its links. Re-record only when a change of what a
page shows is intended (and say so in the commit).
"""
import json

import pytest

from rnnviz.spec import KNOBS
from tests.support import ROOT, record_links

CORPUS = json.loads((ROOT / "tests" / "support" / "links.json").read_text())


def _diff(want: dict, got: dict) -> list[str]:
    out = []
    for part in ("widgets", "figures", "url"):
        for key in sorted(set(want[part]) | set(got[part])):
            if want[part].get(key) != got[part].get(key):
                out.append(f"{part}[{key}]: recorded {want[part].get(key)!r}, now {got[part].get(key)!r}")
    for part in ("alerts", "texts", "page_links"):
        if want[part] != got[part]:
            out.append(f"{part}: recorded {want[part]!r}, now {got[part]!r}")
    return out


@pytest.mark.parametrize("link", CORPUS["links"], ids=[record_links.link_id(link)[:90] for link in CORPUS["links"]])
def test_link_shows_what_it_showed_when_recorded(link):
    got = record_links.record(ROOT, link)
    problems = _diff(link["record"], got)
    assert not problems, (f"{link['why']}: {record_links.link_id(link)}\n" + "\n".join(problems)
                          + "\n(python tests/support/record_links.py --full DIR shows every text of a link)")


def test_report_figures_are_those_recorded():
    got = record_links.report_figures(ROOT)
    for name, sections in CORPUS["report"].items():
        assert got[name] == sections, name


def test_corpus_covers_every_preset_and_every_knob_of_every_page():
    """The recorded corpus holds the links the corpus definition makes today (nothing dropped)."""
    def state(link):  # a link as the state it sets (a spelling alone, "lstm" or "LSTM", is the same link)
        return link["page"], json.dumps(record_links._settings(link["query"], KNOBS), sort_keys=True)

    made = {state(link) for link in record_links.corpus(ROOT)}
    recorded = {state(link) for link in CORPUS["links"]}
    assert made <= recorded, made - recorded
