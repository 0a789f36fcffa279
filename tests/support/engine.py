"""What a page should show, computed by the engine alone (independently of the pages and the app layer)."""
import rnnviz


def engine_trace(cell, **over):
    """The trace a page should show for these settings, computed independently of the page."""
    settings = dict(activation="tanh", init="orthogonal", hidden_size=32, recurrent_gain=0.9, input_gain=1.0,
                    forget_bias=3.0, seed=0, seq_len=200, input_kind="impulse", loss="last")
    settings.update(over)
    size = rnnviz.inputs.input_size_for(settings["input_kind"], 1)
    spec = rnnviz.ModelSpec(cell=cell, input_size=size, hidden_size=settings["hidden_size"],
                            activation=settings["activation"], init=settings["init"],
                            recurrent_gain=settings["recurrent_gain"], input_gain=settings["input_gain"],
                            forget_bias=settings["forget_bias"], seed=settings["seed"])
    x = rnnviz.inputs.make(settings["input_kind"], settings["seq_len"], size, seed=settings["seed"])
    return rnnviz.trace(rnnviz.build_model(spec), x, loss=settings["loss"])
