"""A check both papers' ablation tests share: every printed row maps to a run that builds."""

from dataclasses import replace

from vadlib import reported
from vadlib.runs import video_ad
from vadlib.runs.experiment import Budget


def check_every_row_maps_to_a_buildable_run(settings, ablations, repeated: tuple[str, ...]) -> None:
    """Each printed row of each ablation has a row here, the baseline first, every run builds at
    tiny size, and only the tables in ``repeated`` may name one run twice."""
    for table_id, spec in ablations.items():
        rows = video_ad.ablation_rows(settings, spec)
        assert len(rows) == len(reported.load_table(table_id))
        runs = [run for _, run in rows if run is not None]
        assert runs[0].block is None  # the printed baseline comes first
        for run in dict.fromkeys(runs):  # every row's options build (at tiny size)
            assert replace(run, budget=Budget(model_size="tiny")).build_host() is not None
        assert len(set(runs)) == len(runs) or table_id in repeated  # repeated rows share a run
