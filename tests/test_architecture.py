"""The house rules, read from the source's syntax: what may import what, how pages start, how files load.

    engine (rnnviz/*.py)   never imports ui, plots, labs, files or streamlit
    plots                  imports only the engine's vocabulary (cells), never runs a model or a sweep
    labs, files            never import ui or streamlit
    ui                     the only package that imports streamlit
    pages                  use rnnviz's public names only (no private module or name)
"""
import ast
import tokenize
from pathlib import Path

from rnnviz import ui
from tests.support import ROOT

PACKAGE = ROOT / "rnnviz"
PAGES = [ROOT / "viz_app.py", *sorted((ROOT / "pages").glob("*.py"))]


def imports(path: Path) -> set[str]:
    """The absolute names of the modules a file imports (relative imports resolved), and of the
    names it imports from them (`from rnnviz import ui` gives "rnnviz" and "rnnviz.ui")."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1] + ((node.module,) if node.module else ())) \
                if node.level else node.module
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}
    return out


def modules(under: str) -> list[Path]:
    return sorted((PACKAGE / under).rglob("*.py")) if under else sorted(PACKAGE.glob("*.py"))


def test_the_engine_imports_no_app_layer():
    engine = [p for p in modules("") if p.name != "__main__.py"]  # the command line may write a report
    assert {p.stem for p in engine} >= {"spec", "cells", "model", "inputs", "trace", "_kernels", "dynamics", "tasks",
                                        "train"}
    for path in engine:
        bad = {m for m in imports(path) if m.split(".")[0] == "streamlit" or m.startswith(
            ("rnnviz.ui", "rnnviz.plots", "rnnviz.labs", "rnnviz.files"))}
        assert not bad, (path.name, bad)


def test_only_ui_imports_streamlit_and_labs_and_files_stay_out_of_ui():
    for path in PACKAGE.rglob("*.py"):
        uses = imports(path)
        in_ui = path.is_relative_to(PACKAGE / "ui")
        assert in_ui or not any(m.split(".")[0] == "streamlit" for m in uses), path
        if not in_ui:
            assert not any(m.startswith("rnnviz.ui") for m in uses), path


def test_figure_builders_never_run_a_model():
    """plots imports numpy, plotly and the engine's vocabulary only (cell and gate names, how a character
    is shown, the words of the app in its languages), and reads no number that would start a computation
    (Jacobian sweeps, traces): those are passed in."""
    allowed = {"numpy", "plotly", "math", "html", "__future__", "rnnviz.cells", "rnnviz.inputs",
               "rnnviz.i18n", "rnnviz.plots"}
    costly = {"log10_jacobian_norm", "log10_step_jacobian_norm", "jacobian_norms", "step_jacobian_norms",
              "trace", "trace_all", "fit", "build_model"}
    for path in modules("plots"):
        for name in imports(path):
            assert any(name == a or name.startswith(a + ".") for a in allowed), (path.name, name)
        attributes = {n.attr for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Attribute)}
        assert not attributes & costly, (path.name, attributes & costly)


def test_pages_use_only_the_public_api():
    for path in PAGES:
        for name in imports(path):
            if name.split(".")[0] == "rnnviz":  # `_` is gettext's public name for "translate"
                assert not any(part.startswith("_") and part != "_" for part in name.split(".")), (path.name, name)
        tree = ast.parse(path.read_text())
        private = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr.startswith("_")
                   and isinstance(n.value, ast.Name) and n.value.id in ("rnnviz", "ui", "plots", "cells")}
        assert not private, (path.name, private)


def test_no_st_navigation_anywhere():
    # Navigation comes from the pages/ folder; a navigation call of Streamlit's would replace it.
    for path in [*PAGES, *PACKAGE.rglob("*.py")]:
        calls = [n.func.attr for n in ast.walk(ast.parse(path.read_text()))
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
        assert "navigation" not in calls, path


def test_every_page_starts_with_page_setup():
    for path in PAGES:
        code = path.read_text()
        body = code.split("ui.page_setup(", 1)
        assert len(body) == 2, f"{path.name} does not call ui.page_setup"
        assert "st." not in body[0].split('"""', 2)[-1].replace("import streamlit as st", ""), path.name
    assert [p for p, _, _ in ui.PAGES][0] == "viz_app.py"


def test_every_torch_load_says_weights_only():
    """Every torch.load call of the app passes weights_only=True, literally."""
    sources = [*PACKAGE.rglob("*.py"), *PAGES]
    loads = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch"):
                flag = {k.arg: k.value for k in node.keywords}.get("weights_only")
                loads.append((path.name, node.lineno, isinstance(flag, ast.Constant) and flag.value is True))
    assert loads and all(ok for _, _, ok in loads), loads


def glue_lines(path: Path) -> int:
    """Lines that hold code: not blank, not only a comment, not only (part of) a string of prose."""
    fstrings = ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")  # f-strings are tokens of their own from 3.12
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
            tokenize.ENDMARKER, tokenize.STRING, *(getattr(tokenize, n) for n in fstrings if hasattr(tokenize, n))}
    with path.open("rb") as f:
        return len({tok.start[0] for tok in tokenize.tokenize(f.readline) if tok.type not in skip})


def test_sizes_pages_are_glue_and_modules_stay_readable():
    """Pages about 200 lines of glue at most, every one; modules at most about 500 lines, the compiled
    kernels excepted."""
    for path in PAGES:
        assert glue_lines(path) <= 200, path.name
    for path in PACKAGE.rglob("*.py"):
        if path.name != "_kernels.py":
            assert len(path.read_text().splitlines()) <= 520, path.name
