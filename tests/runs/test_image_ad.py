"""How one image anomaly-detection run works (vadlib.runs.image_ad): training, evaluation, the
kept examples, the cache, and the per-class plans and columns the tables are built from."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vadlib import profiles, reported
from vadlib.data import mvtec
from vadlib.metrics import image_auroc
from vadlib.runs import experiment, image_ad
from vadlib.runs.experiment import Budget

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_class_labels_are_the_printed_ones():
    classes = set(reported.load_table("C.2").Class) - {"Overall"}
    assert {image_ad.class_display(c) for c in mvtec.CATEGORIES} == classes


def test_classes_alternate_textures_and_objects_and_respect_the_limit():
    real = profiles.resolve("quick")
    assert len(image_ad.mvtec_classes(real)) == 15
    assert image_ad.mvtec_classes(profiles.resolve("quick", class_limit=2)) == ["carpet", "bottle"]
    smoke = image_ad.mvtec_classes(profiles.resolve("smoke"))
    assert len(smoke) == 2 and smoke[0] in ("carpet", "grid") and smoke[1] in ("bottle", "metal_nut")


def test_evaluation_subset_keeps_both_classes():
    labels = np.array([0] * 50 + [1] * 2)
    for seed in range(10):
        picked = image_ad.evaluation_subset(labels, 5, seed)
        assert len(picked) == 5 and set(labels[picked]) == {0, 1} and len(set(picked)) == 5
    assert len(image_ad.evaluation_subset(labels, None, 0)) == 52


def test_ensemble_of_identical_members_scores_like_one_member():
    rng = np.random.default_rng(0)
    labels = [0] * 10 + [1] * 10
    scores = list(rng.normal(size=20) + np.array(labels))
    result = {"labels": labels, "scores": scores, "normal_scores": list(rng.normal(size=30))}
    members = [image_ad.ImageAnomalyRun("cutpaste", None, "mvtec_ad", "grid", seed=s) for s in range(3)]
    results = {m: result for m in members}
    assert image_ad.ensemble_auroc(members, results) == pytest.approx(image_auroc(labels, scores))


def test_a_run_trains_evaluates_and_is_cached(tmp_path):
    run = image_ad.ImageAnomalyRun(host="nsa", block="sspcab", dataset="mvtec_ad", category="grid",
                                   image_size=64, budget=Budget(max_steps=2, eval_limit=8))
    first = experiment.execute(run)
    assert 0.0 <= first["det_auroc"] <= 1.0 and 0.0 <= first["loc_auroc"] <= 1.0
    assert first["train_steps"] == 2 and np.isfinite(first["loss_last"])
    assert first["n_test"] == 8 and 0 < first["n_abnormal"] < 8
    assert len(first["normal_scores"]) == first["n_train"]
    assert experiment.execute(run) == first  # from the cache


def test_bad_block_is_refused():
    run = image_ad.ImageAnomalyRun(host="nsa", block="attention", dataset="mvtec_ad", category="grid")
    with pytest.raises(ValueError, match="block must be one of"):
        run.build_host()


def test_hosts_are_built_from_the_run_context_and_named_by_their_class():
    nsa = image_ad.ImageAnomalyRun("nsa", "ssmctb", "mvtec_ad", "screw", budget=Budget(model_size="tiny"), seed=2)
    host = nsa.build_host()
    assert host.category == "screw" and host.in_channels == 3 and host.seed == 2
    assert type(host.get_submodule(host.block_sites_for("ssmctb")[0])).__name__ == "SSMCTB"
    assert nsa.schedule().epochs == 560  # NSA's per-class schedule on MVTec AD
    assert image_ad.ImageAnomalyRun("nsa", None, "brats", "brats").build_host().category is None
    volume = image_ad.ImageAnomalyRun("draem3d", "ssmctb", "brats", "brats", budget=Budget(model_size="tiny"))
    host = volume.build_host()
    assert host.in_channels == 1 and type(host.get_submodule(host.SITES["discriminative"])).__name__ == "SSMCTB3d"
    assert not volume.uses_dtd and image_ad.ImageAnomalyRun("draem", None, "mvtec_ad", "grid").uses_dtd
    assert "data:dtd" not in image_ad.ImageAnomalyRun("draem", None, "brats", "brats").code_units()
    assert image_ad.image_size("draem3d", "paper") == 64 and image_ad.image_size("draem", "paper") == 256
    assert image_ad.model_label("draem3d", "ssmctb") == "3D DRAEM + 3D SSMCTB"
    assert image_ad.model_label("cutpaste", None) == "CutPaste 3-way"
    assert image_ad.column_name("nsa", "sspcab", "loc_ap") == "NSA+SSPCAB loc AP"
    volumes = torch.rand(2, 1, 6, 32, 32)
    slices, maps = image_ad.item_scores(host.eval(), volumes)  # a 3D host is scored per slice
    assert slices.shape == (2, 6) and maps.shape == (2, 6, 32, 32)


def test_runs_keep_the_same_test_examples_for_every_block(tmp_path):
    configs = [image_ad.ImageAnomalyRun(host="draem", block=block, dataset="mvtec_ad", category="grid",
                                        image_size=64, budget=Budget(max_steps=1, eval_limit=12)) for block in (None, "sspcab")]
    examples = [image_ad.load_examples(config) for config in configs]
    for found in examples:
        n = len(found["label"])
        assert 0 < n <= sum(image_ad.EXAMPLES.values())
        assert found["image"].shape == (n, 3, 64, 64) and found["map"].shape == found["mask"].shape == (n, 64, 64)
        assert set(found["label"]) == {0, 1}
        # an example's mask is the ground truth of the test image it names
        test = mvtec.MVTecAD(configs[0].data.locate("mvtec_ad"), "grid", "test", resize=64)
        i = int(np.argmax(found["label"]))
        assert np.array_equal(found["mask"][i], test[int(found["index"][i])]["mask"].numpy() > 0)
    assert np.array_equal(examples[0]["index"], examples[1]["index"])
    assert not np.array_equal(examples[0]["map"], examples[1]["map"])
    # a run cached before examples were kept runs again rather than failing
    (experiment.run_dir(configs[0]) / image_ad.EXAMPLES_FILE).unlink()
    assert np.array_equal(image_ad.load_examples(configs[0])["index"], examples[0]["index"])


def test_3d_examples_show_the_slice_with_the_largest_lesion():
    volume = torch.zeros(1, 4, 8, 8)
    mask = torch.zeros(4, 8, 8)
    mask[1, :2, :2] = 1
    mask[2, :4, :4] = 1
    assert image_ad.example_slice(volume, mask) == 2
    assert image_ad.example_slice(volume, torch.zeros(4, 8, 8)) == 2  # no lesion: the middle


def _blocks(host):
    from vadlib.models.blocks import SSMCTB, SSPCAB
    return [name for name, m in host.named_modules() if isinstance(m, (SSPCAB, SSMCTB))]


@pytest.mark.parametrize("host", ["draem", "draem3d"])
def test_draem_gets_one_sspcab_like_one_ssmctb_by_default_and_both_networks_on_request(host):
    """D2: Paper C's "only one instance" (T L2286) and Paper D's (T L2812) by default, so the
    summed block loss weighs SSPCAB exactly as SSMCTB; "both networks" (T L2132) is an option."""
    from vadlib.models.blocks import block_loss
    dataset = "brats" if host == "draem3d" else "mvtec_ad"
    category = "brats" if host == "draem3d" else "grid"
    tiny = Budget(model_size="tiny")
    built = {block: image_ad.ImageAnomalyRun(host, block, dataset, category, budget=tiny).build_host()
             for block in ("sspcab", "ssmctb")}
    sspcab, ssmctb = _blocks(built["sspcab"]), _blocks(built["ssmctb"])
    assert len(sspcab) == len(ssmctb) == 1 and sspcab == ssmctb  # the same site
    assert built["sspcab"].block_weight == built["ssmctb"].block_weight
    # the block term of the training loss is one block's loss, not a sum over two
    host_sp = built["sspcab"]
    x = torch.rand((1, host_sp.in_channels) + ((8,) if host == "draem3d" else ()) + (32, 32))
    with torch.no_grad():
        host_sp.score(x)
        assert float(block_loss(host_sp)) == pytest.approx(float(host_sp.get_submodule(sspcab[0]).loss))
    both = image_ad.ImageAnomalyRun(host, "sspcab", dataset, category, budget=tiny, sspcab_networks="both")
    assert len(_blocks(both.build_host())) == 2 and experiment.config_hash(both) != experiment.config_hash(image_ad.ImageAnomalyRun(
        host, "sspcab", dataset, category, budget=tiny))
    with pytest.raises(ValueError, match="DRAEM hosts only"):
        image_ad.ImageAnomalyRun("nsa", "sspcab", "mvtec_ad", "grid", sspcab_networks="both").build_host()


def test_3d_draem_scores_the_2d_slice_population_each_slice_once():
    """D3: Table D.4 compares 2D and 3D rows, so both must score the same BraTS slices; the last
    chunk of a scan overlaps its predecessor and must not score its slices twice."""
    from vadlib.data import synthetic
    root = synthetic.generate("brats", size="smoke", seed=0)
    tiny = Budget(model_size="tiny")
    ids, labelled = {}, {}
    for host in ("draem", "draem3d"):
        run = image_ad.ImageAnomalyRun(host, None, "brats", "brats", image_size=32, budget=tiny)
        _, test_set = run._datasets(root)
        result = image_ad.evaluate(run.build_host(), test_set, None, 0)
        ids[host] = [tuple(i) for i in result["slice_ids"]]
        labelled[host] = dict(zip(ids[host], result["labels"]))
        assert len(result["scores"]) == len(result["labels"]) == len(ids[host]) == result["n_test"]
    assert len(set(ids["draem3d"])) == len(ids["draem3d"])  # each slice once
    assert sorted(ids["draem3d"]) == sorted(ids["draem"])
    assert labelled["draem3d"] == labelled["draem"]  # and each slice gets the same label
    chunks = image_ad._volume_split(root, *__import__("vadlib.data.brats", fromlist=["x"]).thesis_split(root, seed=0))[1]
    assert (chunks.groupby("scan").start.diff().dropna() < 16).any()  # the twin does have an overlapping chunk
