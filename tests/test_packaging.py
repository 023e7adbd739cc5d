"""Project wiring: pyproject and environment.yml agree, the README documents what the code does."""

import re
import tomllib

import yaml

from vadlib import paths, profiles

ROOT = paths.REPO_ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra}
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    listed = set()
    for item in environment:
        if isinstance(item, dict):
            listed |= {_name(r) for r in item["pip"] if not r.startswith("-e")}
        else:
            listed.add(_name(item))
    assert listed - {"python", "pip"} == wanted


def test_readme_commands_exist_and_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make reproduce" in readme and "make test" in readme
    makefile = (ROOT / "Makefile").read_text()
    test_recipe = makefile.split("\ntest:", 1)[1]
    assert "-m pytest" in test_recipe and "reproduce --profile full --dry-run" in test_recipe
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "set -euo pipefail" in ci


def test_readme_documents_every_knob_with_its_current_values():
    assert profiles.describe() in (ROOT / "README.md").read_text()


def test_readme_lists_every_dataset_as_the_manifests_say():
    from vadlib.data.data_commands import markdown_table
    assert markdown_table() in (ROOT / "README.md").read_text()


def test_generated_folders_are_ignored_but_figures_readme_is_kept():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "/runs/" in ignored and "/figures/*" in ignored and "!/figures/README.md" in ignored
    assert (ROOT / "figures" / "README.md").exists()
