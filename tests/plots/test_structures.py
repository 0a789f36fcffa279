"""Lesson 2's diagram of the four structures: each is an unrolled chain with its inputs below, its outputs
above and a loss on every output, as the lecture draws them; labelled in both languages."""
import pytest

from rnnviz import plots
from rnnviz.i18n import language


def _roles(fig, structure):
    """{role: number of marks} of one structure in the figure."""
    return {tr.meta["role"]: len(tr.x) for tr in fig.data
            if tr.meta["structure"] == structure and tr.mode.startswith("markers")}


def _xs(fig, structure, role):
    return [tr.x for tr in fig.data if tr.meta["structure"] == structure and tr.meta["role"] == role][0]


def test_the_four_structures_have_their_inputs_outputs_and_losses():
    fig = plots.structures_diagram()
    structures = {tr.meta["structure"] for tr in fig.data}
    assert structures == {"one_to_many", "many_to_one", "many_to_many", "encoder_decoder"}
    one_to_many, many_to_one = _roles(fig, "one_to_many"), _roles(fig, "many_to_one")
    many_to_many, encoder_decoder = _roles(fig, "many_to_many"), _roles(fig, "encoder_decoder")
    T = one_to_many["cell"]
    assert T >= 3
    assert one_to_many == {"input": 1, "cell": T, "output": T, "loss": T}             # one input, an output per step
    assert many_to_one == {"input": T, "cell": T, "output": 1, "loss": 1}             # one loss, at the end
    assert many_to_many == {"input": T, "cell": T, "output": T, "loss": T}            # a loss at every step
    n = encoder_decoder["cell"]
    assert encoder_decoder["input"] + encoder_decoder["output"] == n                   # read all, then write
    assert encoder_decoder["output"] == encoder_decoder["loss"] >= 2
    assert max(_xs(fig, "encoder_decoder", "input")) < min(_xs(fig, "encoder_decoder", "output"))
    assert _xs(fig, "many_to_one", "output")[0] == max(_xs(fig, "many_to_one", "cell"))  # on the last step
    assert _xs(fig, "one_to_many", "input")[0] == min(_xs(fig, "one_to_many", "cell"))   # on the first
    for s in structures:   # every loss sits right above an output
        assert sorted(_xs(fig, s, "loss")) == sorted(_xs(fig, s, "output"))


@pytest.mark.parametrize("lang,words", [("en", ["One-to-many", "Many-to-one", "Many-to-many", "Encoder-decoder",
                                                 "loss L"]),
                                         ("zh", ["一对多", "多对一", "多对多", "编码器-解码器", "损失 L"])])
def test_the_diagram_is_labelled_in_the_language_it_is_built_in(lang, words):
    with language(lang):
        fig = plots.structures_diagram("many_to_one", title="t", scale=1.35)
    shown = " ".join(a.text for a in fig.layout.annotations) + " ".join(tr.name or "" for tr in fig.data)
    for word in words:
        assert word in shown
    assert fig.layout.font.size == int(15 * 1.35)                                    # large on a projector
    frames = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(frames) == 1                                                            # the step's structure framed
