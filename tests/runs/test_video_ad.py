"""How one frame-level video run works (vadlib.runs.video_ad): the plain auto-encoder host, scores
aligned with frames, the eval limit, regions, track checks and the cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from vadlib.runs import experiment, video_ad
from vadlib.runs.experiment import Budget
from vadlib.models.blocks import SSPCAB, block_loss
from vadlib.models.plain_ae import PlainAutoEncoder
from vadlib.models.video_hosts import minmax

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_plain_autoencoder_learns_and_keeps_shapes_with_blocks_everywhere():
    torch.manual_seed(0)
    y, x = torch.meshgrid(torch.linspace(0, 3, 32), torch.linspace(0, 3, 32), indexing="ij")
    frames = torch.stack([torch.stack([torch.sin(x * (i + 1) + c) for c in range(3)]) for i in range(4)])
    clips = (0.5 + 0.5 * frames)[:, None]  # four smooth frames, far from the untrained output
    host = PlainAutoEncoder(size="tiny", in_channels=3)
    for site in host.sites_for("early+middle+late"):
        layer = host.get_submodule(site)
        from vadlib.models.blocks import replace_layer
        replace_layer(host, site, SSPCAB(layer.out_channels))
    optimizer = torch.optim.Adam(host.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss, _ = host.training_loss(clips)
        total = loss + host.block_weight * block_loss(host)
        optimizer.zero_grad(), total.backward(), optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0]
    parts, maps = host.frame_evidence(clips)
    assert parts["error"].shape == (4,) and maps.shape == (4, 32, 32)
    assert torch.isfinite(block_loss(host))


def test_bad_clips_and_positions_are_refused():
    host = PlainAutoEncoder()
    with pytest.raises(ValueError, match="N×T×C×H×W"):
        host.training_loss(torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError, match="multiples of 8"):
        host.training_loss(torch.rand(2, 1, 3, 30, 30))
    with pytest.raises(ValueError, match="unknown block position 'top'"):
        host.sites_for("early+top")
    with pytest.raises(ValueError, match="block must be one of"):
        video_ad.VideoAnomalyRun("plain_ae", "attention", "avenue").build_host()
    with pytest.raises(ValueError, match="dataset must be one of"):
        video_ad.VideoAnomalyRun("plain_ae", None, "ped3").clips(None, "train", 1)


class _OddFrameHost(PlainAutoEncoder):
    """Evidence = brightness of the clip's last frame: the bright frame must come out on top."""

    window = 3

    @torch.no_grad()
    def frame_evidence(self, clips):
        last = self.check_clips(clips)[:, -1]
        return {"error": last.mean((1, 2, 3))}, last.mean(1)


def test_scores_stay_aligned_with_frames_and_labels_end_to_end(tmp_path):
    """Each score belongs to the last frame of its clip: a host whose evidence is the brightness of
    that frame must put its maximum on the one bright frame, which is also the labelled one."""
    from vadlib.data import avenue, synthetic
    root = synthetic.generate("avenue", size="smoke", seed=0)
    config = video_ad.VideoAnomalyRun("plain_ae", None, "avenue", budget=Budget(eval_limit=None))
    test = config.clips(root, "test", 3)
    bright_video, bright_frame = "02", 40
    original = test.__class__.__getitem__

    def brighten(self, index):
        item = original(self, index)
        hit = (item["frames"] == bright_frame) & (item["video"] == bright_video)
        item["clip"][hit] = 1.0
        return item

    import unittest.mock
    with unittest.mock.patch.object(test.__class__, "__getitem__", brighten), \
            unittest.mock.patch.object(video_ad.VideoAnomalyRun, "clips", lambda self, *a, **k: test):
        scored, regions, examples = video_ad.score_videos(_OddFrameHost(), config, root, "cpu", threshold=0.99)
    video = scored[bright_video]
    assert video["frames"][0] == 2  # the first window − 1 frames have no score
    assert video["frames"][np.argmax(video["scores"])] == bright_frame
    labels = avenue.frame_labels(root)[bright_video]
    assert np.array_equal(video["labels"], labels[video["frames"]])
    assert all(np.all(np.diff(v["frames"]) == 1) for v in scored.values())
    # the only pixels above 0.99 are the bright frame's: one region covering the whole frame
    assert regions[["video", "frame"]].values.tolist() == [[bright_video, bright_frame]]
    assert regions[["x1", "y1", "x2", "y2"]].values.tolist()[0][:2] == [0, 0]
    first_abnormal = next(v for v in sorted(scored) if scored[v]["labels"].any())
    assert first_abnormal in examples and len(examples[first_abnormal]) == len(scored[first_abnormal]["frames"])


def test_hosts_are_built_from_the_run_context():
    run = video_ad.VideoAnomalyRun("mnad", "sspcab", "thermal_rare_event", position="middle",
                                   host_options=(("variant", "prediction"), ("test_update", False)), seed=3)
    host = run.build_host()
    assert host.variant == "prediction" and host.in_channels == 1 and host.seed == 3 and not host.updates_at_test
    assert type(host.get_submodule(host.sites_for("middle")[0])).__name__ == "SSPCAB"
    avenue = video_ad.VideoAnomalyRun("mnad", None, "avenue", host_options=(("variant", "prediction"),))
    assert avenue.schedule().lr == 2e-4  # the run's variant, not the constructor's default
    assert video_ad.VideoAnomalyRun("ffp", None, "shanghaitech").schedule().milestones == (0.625,)
    assert run.build_host(variant="reconstruction").variant == "reconstruction"  # overrides win
    assert video_ad.variant_run("mnad", "avenue", video_ad.Variant("ssmctb", options=(("loss", "huber"), ("dilation", 2)))
                                ).block_options == (("dilation", 2),)  # defaults are left implicit


def test_eval_limit_strides_over_the_whole_video():
    windows = pd.DataFrame({"video": ["a"] * 10 + ["b"] * 3})
    picked = video_ad.strided_positions(windows, 4)
    assert picked.tolist() == [0, 3, 6, 9, 10, 11, 12]
    assert len(video_ad.strided_positions(windows, None)) == 13


def test_a_run_reports_auc_and_region_metrics_and_is_cached():
    run = video_ad.VideoAnomalyRun("plain_ae", "sspcab", "avenue", budget=Budget(max_steps=2, eval_limit=16))
    result = experiment.execute(run)
    assert 0 <= result["auc_micro"] <= 1 and 0 <= result["auc_macro"] <= 1
    assert result["rbdc"] is not None and 0 <= result["rbdc"] <= 1 and 0 <= result["tbdc"] <= 1
    assert result["train_steps"] == 2 and np.isfinite(result["loss_last"])
    assert experiment.execute(run) == result
    maps = video_ad.load_example_maps(run)
    assert 0 < len(maps) <= video_ad.EXAMPLE_VIDEOS
    for video, video_maps in maps.items():
        assert len(video_maps) == len(result["frame_scores"][video]["frames"])


def test_minmax_per_video():
    assert minmax(np.array([2.0, 4.0, 3.0])).tolist() == [0.0, 1.0, 0.5]
    assert minmax(np.array([5.0, 5.0])).tolist() == [0.0, 0.0]


def test_dry_run_without_flow_weights_checks_the_rest_and_says_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    run = video_ad.VideoAnomalyRun("ffp", "sspcab", "avenue", host_options=(("flow", "raft"),))
    with pytest.raises(FileNotFoundError, match="RAFT-small weights"):
        run.build_host()
    report = experiment.dry_run(run)
    assert report["parameters"] > 0 and "RAFT-small weights" in report["note"]


def test_a_test_video_shorter_than_the_window_is_named_not_silently_dropped():
    from vadlib.data import avenue, synthetic
    from vadlib.data.video import ClipDataset
    root = synthetic.generate("avenue", size="smoke", seed=0)
    frames = avenue.index(root, "test")
    frames = frames[(frames.video != "03") | (frames.frame < 2)].reset_index(drop=True)
    config = video_ad.VideoAnomalyRun("plain_ae", None, "avenue", budget=Budget(eval_limit=4))
    short = ClipDataset(frames, 3, resize=64)
    import unittest.mock
    with unittest.mock.patch.object(video_ad.VideoAnomalyRun, "clips", lambda self, *a, **k: short), \
            pytest.warns(UserWarning, match="test videos 03 are shorter than plain_ae's window of 3"):
        scored, _, _ = video_ad.score_videos(_OddFrameHost(), config, root, "cpu")
    assert "03" not in scored and len(scored) == 3


def test_regions_scale_back_to_the_pixels_their_map_cells_cover():
    maps = np.zeros((1, 64, 64), np.float32)
    maps[0, 10:12, 20:22] = 1.0  # a 2×2 blob of map cells
    found = video_ad.map_regions("01", maps, np.array([7]), 0.5, frame_shape=(360, 640))
    # columns 20..21 of 64 over 640 px are pixels 200..219; rows 10..11 of 64 over 360 px are 56.25..67.5
    assert found[["frame", "x1", "x2", "y1", "y2"]].values.tolist() == [[7, 200, 219, 56, 67]]


def test_tracks_off_by_one_frame_are_reported():
    frames = np.arange(2, 20)
    scored = {"01": {"frames": frames, "labels": ((frames >= 10) & (frames <= 12)).astype(int)}}
    tracks = pd.DataFrame({"video": "01", "track_id": 0, "frame": np.arange(10, 13),
                           "x1": 0, "y1": 0, "x2": 5, "y2": 5})
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        video_ad.check_tracks_against_labels(tracks, scored)  # aligned: silent
    with pytest.warns(UserWarning, match=r"shifted by \+1 frame it would be 100 %"):
        video_ad.check_tracks_against_labels(tracks.assign(frame=tracks.frame - 1), scored)
    with pytest.warns(UserWarning, match="not scored test videos: 02"):
        video_ad.check_tracks_against_labels(tracks.assign(video="02"), scored)


def _thesis_shaped_thermal_test(seed: int = 0) -> dict:
    """301 clips x 120 frames, 29 of them holding one event (thesis T L2582; THESIS_SPLIT), scored by
    an uninformative detector (uniform noise, per-clip min-max as MNAD does)."""
    from vadlib.data import thermal
    rng = np.random.default_rng(seed)
    split = thermal.THESIS_SPLIT
    clips, length = split["test_clips"], split["frames_per_clip"]
    scored = {}
    for i in range(clips):
        labels = np.zeros(length, dtype=bool)
        if i < split["abnormal_test_clips"]:
            start = rng.integers(0, length - 40)
            labels[start:start + rng.integers(10, 40)] = True
        scores = np.asarray(minmax(rng.random(length)), dtype=float)
        scored[f"{i:03d}"] = {"scores": scores, "labels": labels, "frames": np.arange(length)}
    return scored


def test_thermal_macro_auc_averages_only_clips_with_both_classes_so_chance_stays_at_half():
    """D1: on Thermal Rare Event a random detector must score ~50 macro (the manifest's policy:
    clips that contain both classes), not ~95 as padding every mostly-normal clip would give."""
    scored = _thesis_shaped_thermal_test()
    empty = pd.DataFrame(columns=["video", "frame", "x1", "y1", "x2", "y2", "score"])
    result = video_ad.evaluate(scored, empty, "thermal_rare_event")
    assert result["macro_policy"] == "skip" and result["macro_videos"] == 29
    assert abs(result["auc_macro"] - 0.5) < 0.08
    assert abs(result["auc_micro"] - 0.5) < 0.08
    # the same scores under the padding policy of Avenue/ShanghaiTech: the trap the policy avoids
    padded = video_ad.evaluate(scored, empty, "avenue")
    assert padded["macro_policy"] == "pad" and padded["macro_videos"] == 301 and padded["auc_macro"] > 0.9
