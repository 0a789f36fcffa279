"""The house rules, read from the source's syntax: what may import what, how pages start, how files load."""
import ast
import subprocess

from rnnviz import ui
from tests.support import ROOT


def test_no_st_navigation_and_streamlit_only_in_ui():
    # Navigation comes from the pages/ folder; a navigation call of Streamlit's would replace it.
    for path in [ROOT / "viz_app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "rnnviz").glob("*.py")]:
        calls = [n.func.attr for n in ast.walk(ast.parse(path.read_text()))
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
        assert "navigation" not in calls, path
    importers = subprocess.run(["grep", "-rln", "--include=*.py", "import streamlit", "rnnviz"], cwd=ROOT,
                               capture_output=True, text=True).stdout.split()
    assert importers == ["rnnviz/ui.py"]


def test_every_page_starts_with_page_setup():
    for path in [ROOT / "viz_app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        code = path.read_text()
        body = code.split("ui.page_setup(", 1)
        assert len(body) == 2, f"{path.name} does not call ui.page_setup"
        assert "st." not in body[0].split('"""', 2)[-1].replace("import streamlit as st", ""), path.name
    assert [p for p, _, _ in ui.PAGES][0] == "viz_app.py"


def test_every_torch_load_says_weights_only():
    """Every torch.load call of the app passes weights_only=True, literally."""
    sources = [*(ROOT / "rnnviz").rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "viz_app.py"]
    loads = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch"):
                flag = {k.arg: k.value for k in node.keywords}.get("weights_only")
                loads.append((path.name, node.lineno, isinstance(flag, ast.Constant) and flag.value is True))
    assert loads and all(ok for _, _, ok in loads), loads
