"""How one object-centric video run works (vadlib.runs.object_vad) with the reference host
ObjectAE (a test fixture): block placement, frame scores from object scores, scores aligned with
the dataset's frames and labels, region metrics, learnability on the twin, configs and dry runs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from vadlib.data import DataSource, avenue, synthetic
from vadlib.models import object_pipeline as pipeline
from vadlib.models.blocks import SSMCTB, SSPCAB
from vadlib.models.object_ae import ObjectAE
from vadlib.models.object_hosts import ObjectHost
from vadlib.models.registry import HostContext, create_host, host_names
from vadlib.runs import experiment, object_vad
from vadlib.runs.experiment import Budget
from vadlib.runs.video_ad import Variant

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_object_hosts_are_registered_and_built_from_a_context():
    assert "object_ae" in host_names("object") and "object_ae" not in host_names("video")
    host = create_host("object_ae", HostContext(size="tiny", in_channels=3, seed=0, dataset="avenue"), kind="object")
    assert isinstance(host, ObjectAE) and host.side == 32 and host.window == 3 and not host.needs_flow
    batch = {"appearance": torch.rand(4, 3, 3, 32, 32), "boxes": torch.zeros(4, 4)}
    loss, logs = host.training_loss(batch)
    assert torch.isfinite(loss) and "mse" in logs
    assert host.object_scores(batch).shape == (4,)
    with pytest.raises(ValueError, match="T = 3 frames"):
        host.training_loss({"appearance": torch.rand(4, 5, 3, 32, 32)})


def _forward_order(host, batch, site: str) -> list[str]:
    """Names of the leaf modules in the order they run, the block at ``site`` as one module."""
    order: list[str] = []
    hooks = [m.register_forward_hook(lambda module, *_, name=name: order.append(name))
             for name, m in host.named_modules()
             if name == site or (name and not list(m.children()) and not name.startswith(site + "."))]
    host.training_loss(batch)
    for hook in hooks:
        hook.remove()
    return order


@pytest.mark.parametrize("position, site, before, after", [
    ("early", "encoder.early", "encoder.relu0", "encoder.relu1"),
    ("late", "decoder.late", "decoder.relu2", "decoder.relu3")])
@pytest.mark.parametrize("block, cls", [("sspcab", SSPCAB), ("ssmctb", SSMCTB)])
def test_a_block_at_a_position_replaces_the_named_layer(position, site, before, after, block, cls):
    host = object_vad.ObjectVideoRun("object_ae", block, "avenue", position=position).build_host()
    assert isinstance(host.get_submodule(site), cls)
    order = _forward_order(host, {"appearance": torch.rand(2, 3, 3, 32, 32)}, site)
    at = order.index(site)  # the block runs where the convolution ran, between the same neighbours
    assert order[at - 1] == before and order[at + 1] == after
    assert host.get_submodule(site).loss is not None
    with pytest.raises(ValueError, match="unknown block position 'top'"):
        object_vad.ObjectVideoRun("object_ae", block, "avenue", position="top").build_host()


def test_frame_scores_are_the_max_over_the_frames_objects():
    frames = pd.DataFrame({"video": "01", "frame": [2, 3, 4, 5], "label": [0, 1, 1, 0], "stride": 1})
    objects = pd.DataFrame({"video": "01", "frame": [2, 2, 3, 5, 5]})
    scored = object_vad.frame_scores(frames, objects, np.array([0.2, 0.5, 0.9, 0.1, 0.3]), ("none", 0))
    assert scored["01"]["frames"].tolist() == [2, 3, 4, 5]
    assert scored["01"]["labels"].tolist() == [0, 1, 1, 0]
    assert scored["01"]["scores"].tolist() == [0.5, 0.9, 0.1, 0.3]  # frame 4 has no object: the smallest score


def test_a_tiny_run_scores_every_frame_with_a_window_learns_the_twins_anomalies_and_is_cached(monkeypatch):
    budget = Budget(epoch_fraction=1.0, max_steps=200, eval_limit=None)
    run = object_vad.ObjectVideoRun("object_ae", None, "avenue", budget=budget)
    calls = []  # the host hears of every step (HF2-VAD's staged training listens)
    monkeypatch.setattr(ObjectAE, "on_train_step", lambda self, step, total: calls.append((step, total)))
    result = experiment.execute(run)
    assert calls == [(step, 200) for step in range(-1, 200)]
    root = synthetic.generate("avenue", size="smoke", seed=0)
    labels = avenue.frame_labels(root)
    assert set(result["frame_scores"]) == set(labels)
    for video, entry in result["frame_scores"].items():
        # every frame but the first and last (no full 3-frame window), in order, with its label
        assert entry["frames"] == list(range(1, len(labels[video]) - 1))
        assert entry["labels"] == labels[video][1:-1].tolist()
        assert len(entry["scores"]) == len(entry["frames"]) and np.isfinite(entry["scores"]).all()
    assert result["n_frames"] == sum(len(v) - 2 for v in labels.values())
    assert result["detector"] == "oracle" and result["train_steps"] == 200
    assert 0 <= result["auc_micro"] <= 1 and 0 <= result["auc_macro"] <= 1 and result["macro_policy"] == "pad"
    assert result["rbdc"] is not None and 0 <= result["rbdc"] <= 1 and 0 <= result["tbdc"] <= 1
    assert result["loss_last"] < result["loss_first"]
    # learnability: runners, thrown objects and cyclists score above the normal walkers
    scores = object_vad.load_object_scores(run)
    truth = pd.concat([pipeline.oracle_detections("avenue", v, "test").assign(video=v) for v in labels])
    scores = scores.merge(truth.drop(columns="score"), on=["video", "frame", "x1", "y1", "x2", "y2"], how="left",
                          validate="one_to_one")
    fast = scores.kind.isin(["running", "throwing", "bike"]) & scores.abnormal
    normal = scores.kind == "normal"
    assert fast.sum() > 50 and scores[fast].score.mean() > 1.2 * scores[normal].score.mean()
    assert roc_auc_score(fast[fast | normal], scores[fast | normal].score) > 0.7
    assert experiment.execute(run) == result
    detections = object_vad.load_detections(run)
    assert set(detections.split) == {"train", "test"} and len(detections[detections.split == "test"]) == len(scores)


def test_eval_limit_strides_over_each_video_and_the_filter_follows():
    index = pd.DataFrame({"video": ["a"] * 12 + ["b"] * 4, "frame": list(range(12)) + list(range(4)),
                          "label": 0})
    chosen = object_vad._scored_frames(index, 3, 4)
    a = chosen[chosen.video == "a"]
    assert a.frame.tolist() == [1, 4, 7, 10] and set(a.stride) == {3}
    assert chosen[chosen.video == "b"].frame.tolist() == [1, 2]


def test_configs_detectors_and_dry_runs(monkeypatch, tmp_path):
    settings = SimpleNamespace(model_size="tiny", epoch_fraction=0.01, max_steps=20, eval_limit=64,
                               data_source="synthetic", data_root=None, seed=0, device="cpu")
    config = object_vad.run_config(settings, "object_ae", "avenue", Variant("sspcab"))
    assert config.detector == "oracle" and config.block == "sspcab" and config.flow_kind == "random"
    real = object_vad.run_config(SimpleNamespace(**{**vars(settings), "data_source": "real"}), "object_ae", "avenue")
    assert real.detector == "faster_rcnn" and real.threshold == 0.8  # seed 003 L165
    assert "pipeline:objects" in config.code_units() and "host:object_ae" in config.code_units()
    assert 0 < real.gpu_hours() < 1
    with pytest.raises(ValueError, match="only on the synthetic twins"):
        object_vad.ObjectVideoRun("object_ae", None, "avenue", data=DataSource("real", str(tmp_path))).detect(
            "test", pd.DataFrame({"video": ["01"], "frame": [1]}), {})
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no detector weights here
    dry = object_vad.ObjectVideoRun("object_ae", "ssmctb", "shanghaitech", detector="faster_rcnn")
    report = experiment.dry_run(dry)
    assert report["parameters"] > 0 and "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth" in report["note"]


def test_object_cubes_carry_flow_crops_for_hosts_that_need_flow():
    root = synthetic.generate("avenue", size="smoke", seed=0)
    run = object_vad.ObjectVideoRun("object_ae", None, "avenue", flow="random")
    index = run.index(root, "test")
    readers = run.readers(index)
    objects = run.detect("test", pd.DataFrame({"video": ["01"], "frame": [10], "label": [0]}), readers).head(2)
    from vadlib.models.ffp import load_flow_network
    cubes = object_vad.ObjectCubes(objects, readers, 3, 32, run.flows(readers, load_flow_network("random")))
    item = cubes[1]
    assert item["appearance"].shape == (3, 3, 32, 32) and item["flow"].shape == (2, 2, 32, 32)
    assert torch.isfinite(item["flow"]).all() and item["index"] == 1
    assert item["boxes"].tolist() == objects[["x1", "y1", "x2", "y2"]].iloc[1].tolist()
    assert object_vad.ObjectVideoRun("object_ae", None, "avenue").flows(readers, None) is None


class _LastFrameBrightness(ObjectHost):
    """A host whose object score is the brightness of the last frame of its cube (as HF2-VAD's is
    the error of its predicted last frame); not registered."""

    name, label, window = "last_frame_brightness", "test host", 5

    def object_scores(self, batch):
        return batch["appearance"][:, -1].flatten(1).mean(1)


@pytest.mark.parametrize("anchor, lands_on", [("last", 12), ("centre", 10)])
def test_an_anomaly_at_a_known_frame_lands_on_the_frame_its_host_scores(anchor, lands_on):
    """One bright frame (12) in a dark 20-frame video, one full-frame object per frame, scored by
    the brightness of its cube's last frame. Anchored "last" (HF2-VAD's contract: the cube of frame
    i is frames i − 4 .. i, the first 4 frames are not scored), the peak is on frame 12; the centred
    cube of frame i ends at frame i + 2, so scored "centre" the peak lands 2 frames early."""
    host = type("Host", (_LastFrameBrightness,), {"score_anchor": anchor})()
    frames = {t: np.full((16, 16, 3), 255 if t == 12 else 0, np.uint8) for t in range(20)}
    index = pd.DataFrame({"video": "01", "frame": range(20), "label": [int(t == 12) for t in range(20)]})
    chosen = object_vad._scored_frames(index, host.window, None, host.score_anchor)
    assert chosen.frame.tolist() == (list(range(4, 20)) if anchor == "last" else list(range(2, 18)))
    objects = chosen[["video", "frame"]].assign(x1=0, y1=0, x2=15, y2=15)
    cubes = object_vad.ObjectCubes(objects, {"01": frames.__getitem__}, host.window, 16, anchor=host.score_anchor)
    scores = object_vad.score_objects(host, cubes, "cpu")
    scored = object_vad.frame_scores(chosen, objects, scores, ("none", 0))["01"]
    assert scored["frames"][np.argmax(scored["scores"])] == lands_on
    assert (np.asarray(scored["scores"]) > 0).sum() == 1  # exactly one cube ends on the bright frame


def test_hf2vad_scores_the_last_frame_of_its_cube_and_drops_the_first_four():
    from vadlib.models.hf2vad import HF2VAD
    assert HF2VAD.score_anchor == "last" and HF2VAD.window == 5
    assert list(pipeline.window_frames(10, 5, "last")) == [6, 7, 8, 9, 10]
    assert list(pipeline.window_frames(10, 5, "centre")) == [8, 9, 10, 11, 12]
    index = pd.DataFrame({"video": "01", "frame": range(30), "label": 0})
    assert object_vad._scored_frames(index, 5, None, "last").frame.min() == 4
    with pytest.raises(ValueError, match="anchor"):
        pipeline.window_frames(10, 5, "first")
