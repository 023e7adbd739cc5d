"""The package's layout rules: the wings import downward only, the old family modules are gone,
and tests reach the library through public names."""

import ast
from pathlib import Path

import vadlib

PACKAGE = Path(vadlib.__file__).parent
TESTS = Path(__file__).parent


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_runs_never_import_papers_plots_or_the_notebook_session():
    for path in sorted((PACKAGE / "runs").glob("*.py")):
        upward = {m for m in imported_modules(path)
                  if m.startswith(("vadlib.papers", "vadlib.plots", "vadlib.notebook"))}
        assert not upward, f"{path.name} imports {sorted(upward)}"


def test_models_data_and_metrics_never_import_the_wings():
    for package in ("models", "data", "metrics"):
        for path in sorted((PACKAGE / package).rglob("*.py")):
            upward = {m for m in imported_modules(path)
                      if m.startswith(("vadlib.runs", "vadlib.papers", "vadlib.plots", "vadlib.notebook"))}
            assert not upward, f"{package}/{path.name} imports {sorted(upward)}"


def test_the_family_modules_moved_into_the_wings():
    top_level = {path.name for path in PACKAGE.glob("*.py")}
    assert not {name for name in top_level if name.endswith("_runs.py")}
    assert not top_level & {"image_ad.py", "video_ad.py", "experiments.py", "plans.py", "train.py", "timing.py",
                            "plots.py", "knn_eval.py"}
    for module in ("image_ad", "video_ad", "tracking", "pretraining", "fall_classification"):
        assert (PACKAGE / "runs" / f"{module}.py").exists()


def test_tests_import_no_private_name_of_the_library():
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vadlib"):
                offenders += [f"{path.relative_to(TESTS)}: {node.module}.{a.name}" for a in node.names
                              if a.name.startswith("_")]
            if isinstance(node, ast.Import):
                offenders += [f"{path.relative_to(TESTS)}: {a.name}" for a in node.names
                              if a.name.startswith("vadlib") and any(p.startswith("_") for p in a.name.split("."))]
    assert offenders == []
