"""A small figures directory written through vadlib.artifacts, as the notebooks write theirs, and
the report built from it: the site both the fast and the browser tests of the report look at."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import nbformat
import pandas as pd
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from vadlib import artifacts, paths, report, reported

PARAMETERS = {"profile": "smoke", "data_root": None, "device": "auto", "seed": 0, "overrides": {}}

#: Table A.5 reproduced: Δs of +0.3, +1.5, −4, +10 (one per colour band), a row not run, a row
#: with only MOTA (partly reproduced) and a row the thesis does not print (reproduced only).
DELTAS = {"HRNet": (0.3, 1.5), "Ours(Explicit) + Stage 1": (-4.0, 10.0)}


def reproduced_a5() -> pd.DataFrame:
    printed = reported.load_table("A.5").set_index("Backbone")
    rows = [{"Backbone": name, "MOTA": printed.loc[name, "MOTA"] + d_mota, "IDF1": printed.loc[name, "IDF1"] + d_idf1}
            for name, (d_mota, d_idf1) in DELTAS.items()]
    rows.append({"Backbone": "Ours(Explicit) + Stage 3", "MOTA": 80.0, "IDF1": float("nan")})
    rows.append({"Backbone": "Ours(Explicit) + Stage 4", "MOTA": 70.0, "IDF1": 70.0})
    return pd.DataFrame(rows)  # "Ours(Explicit) + Stage 2": not run


def write_executed_notebook(stem: str) -> Path:
    """A tiny executed notebook where ``vadlib reproduce`` keeps its copies."""
    notebook = new_notebook(cells=[
        new_markdown_cell("# Toy notebook\nA formula $x^2$ and a [link to this heading](#Toy-notebook)."),
        new_code_cell("print('hello')", execution_count=1,
                      outputs=[new_output("stream", name="stdout", text="hello\n")]),
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = paths.runs_dir() / "notebooks" / f"{stem}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def build_toy_site() -> Path:
    """Write the toy artifacts under ``$VADLIB_FIGURES``, build the report; return index.html."""
    artifacts.set_provenance("00_thesis_at_a_glance", "smoke", PARAMETERS)
    artifacts.save_table("thesis_audit", reported.audit(), caption="Every recomputed number of the thesis.")
    artifacts.save_table("thesis_errata", reported.errata(), caption="Errata found by the audit.")
    artifacts.set_provenance("01_A_attention_tracker", "smoke", PARAMETERS)
    artifacts.save_table("A.5", reproduced_a5(), data_fingerprint="sha256:toy-data")
    artifacts.save_table("A.3")  # printed only
    artifacts.save_table("A_toy_extra", pd.DataFrame({"run": ["a", "b"], "score": [0.5, 0.25]}), paper="A",
                         caption="A table the thesis does not print.")
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [0, 1, 4])
    artifacts.save_figure(fig, "A_toy_curve", "A", data_fingerprint="sha256:toy-data")
    plt.close(fig)
    write_executed_notebook("01_A_attention_tracker")
    return report.build()
