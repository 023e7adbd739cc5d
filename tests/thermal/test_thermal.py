"""ThermalSynth (vadlib.thermal, thesis Paper B): shader against hand-computed Stefan-Boltzmann,
post-processing and screen compositing, background median, label / frame alignment through
assembly, the split by sequence, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vadlib import thermal as ts
from vadlib.thermal import humans
from vadlib.data.harbour import HARBOUR_VIEW

H, W = 288, 384


def _static_scene(seed: int = 0, shape=(H, W)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    scene = 60 + 0.3 * rows + 0.1 * cols + rng.integers(0, 20, shape)
    return np.clip(scene, 0, 255).astype(np.uint8)


def _clip(n: int = 12, seed: int = 0) -> np.ndarray:
    """Backgrounds: a static scene with a little per-frame noise."""
    rng = np.random.default_rng(seed + 1)
    base = _static_scene(seed).astype(np.int16)
    return np.clip(base + rng.integers(-2, 3, (n, H, W)), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------- shader

def test_shader_matches_stefan_boltzmann_by_hand():
    sigma = 5.670374419e-8
    for temperature in (300.5, 300.4):
        for eps in (0.95, 0.972, 0.93):
            j = eps * sigma * temperature ** 4  # Eq. B.1 written out
            assert ts.radiance(eps, temperature) == pytest.approx(j, rel=1e-12)
            assert ts.pixel_value(j) == pytest.approx(0.05 * j + 20.0, rel=1e-12)
    # the spec's table (sigma as printed in the paper): 439.253 W/m² and p = 41.963 for 0.95, 300.5 K
    assert ts.radiance(0.95, 300.5, ts.SIGMA_PAPER) == pytest.approx(439.253, abs=1e-3)
    assert ts.ThermalShader(sigma=ts.SIGMA_PAPER).value("skin") == pytest.approx(41.963, abs=1e-3)

    # per-pixel shading: material emissivity blended with the colour emissivity, background 0
    material = np.zeros((4, 5), np.uint8)
    material[1, 1], material[1, 2], material[2, 3] = 1, 2, 1  # skin, cotton, skin
    albedo = np.zeros((4, 5, 3), np.float32)
    albedo[1, 1] = (0.9, 0.7, 0.6)
    albedo[1, 2] = (0.1, 0.2, 0.8)
    albedo[2, 3] = (1.0, 1.0, 1.0)
    for temperature in (300.5, 300.4):
        shaded = ts.ThermalShader(temperature_k=temperature).shade(material, albedo)
        assert shaded.dtype == np.float32 and shaded.shape == material.shape
        for (r, c), eps_m in (((1, 1), 0.95), ((1, 2), 0.95), ((2, 3), 0.95)):
            R, G, B = (float(v) for v in albedo[r, c])
            lum = 0.2126 * R + 0.7152 * G + 0.0722 * B
            eps = 0.69 * eps_m + 0.31 * ((1 - lum) * 0.15 + 0.84)
            expected = 0.05 * eps * sigma * temperature ** 4 + 20.0
            assert shaded[r, c] == pytest.approx(expected, rel=1e-6)
        assert (shaded[material == 0] == 0).all()
    # the discussion's variant: 0.972 everywhere, no colour blend
    uniform = ts.VARIANTS["discussion_0.972"].shade(material, albedo)
    assert np.allclose(uniform[material > 0], 0.05 * 0.972 * sigma * 300.5 ** 4 + 20.0, rtol=1e-6)


def test_shader_range_reports_the_narrow_band():
    r = ts.shader_range()
    assert r["p"] == pytest.approx((41.174, 42.249), abs=2e-3)
    assert r["emissivity"] == pytest.approx((0.9159, 0.9624), abs=1e-4)
    assert r["uint8_levels"] == [41, 42] and r["p_span"] < 1.1
    assert r["composite_raise"][255] == (0.0, 0.0)
    assert r["composite_raise"][0] == pytest.approx(r["p"])
    chapter_3 = ts.shader_range(ts.VARIANTS["chapter_3"])
    assert r["p"][0] - chapter_3["p"][0] == pytest.approx(0.1 * r["p_per_kelvin"], rel=0.05)
    assert ts.shader_range(ts.VARIANTS["discussion_0.972"])["p"][0] == pytest.approx(42.471, abs=1e-3)


def test_unknown_material_names_the_known_ones():
    shader = ts.ThermalShader()
    with pytest.raises(KeyError, match=r"'leather'.*asphalt, cotton, skin, snow, water"):
        shader.material_emissivity("leather")
    with pytest.raises(ValueError, match="leather"):
        shader.shade(np.ones((2, 2), np.uint8) * 2, materials=("skin", "leather"))
    with pytest.raises(ValueError, match="material id 3"):
        shader.shade(np.full((2, 2), 3, np.uint8))


# ------------------------------------------------------------------------ post-processing

def _figure(shape=(64, 80)) -> np.ndarray:
    image = np.zeros(shape, np.float32)
    image[16:48, 30:46] = 42.0
    image[20:24, 34:42] = 41.0
    return image


def test_postprocess_preserves_shape_and_dtype():
    rng = np.random.default_rng(0)
    cases = [rng.integers(0, 256, (40, 56), dtype=np.uint8), rng.uniform(0, 255, (40, 56)).astype(np.float32),
             rng.integers(0, 256, (40, 56, 3), dtype=np.uint8), rng.uniform(0, 255, (40, 56, 1))]
    for image in cases:
        for out in (ts.gaussian_blur(image), ts.uniform_noise(image, 0), ts.jpeg_roundtrip(image)):
            assert out.shape == image.shape and out.dtype == image.dtype
    foreground = ts.PostProcess()(_figure(), rng=0)
    assert foreground.shape == (64, 80) and foreground.dtype == np.uint8
    background = rng.integers(0, 256, (64, 80), dtype=np.uint8)
    composite = ts.screen(foreground, background)
    assert composite.shape == background.shape and composite.dtype == np.uint8
    assert (composite >= background).all()  # screen never darkens


def test_blur_and_noise_act_on_the_figure():
    figure = _figure()
    blurred = ts.gaussian_blur(figure)
    assert blurred[32, 38] == pytest.approx(42.0, abs=1e-4)  # inside: unchanged
    assert 0 < blurred[32, 29] < 42 and blurred[32, 27] == 0  # one-pixel soft edge, 3×3 reach
    noisy = ts.uniform_noise(figure, rng=1, t=0.1)
    inside = figure > 0
    assert (noisy[~inside] == 0).all()
    assert np.all(np.abs(noisy[inside] - 0.9 * figure[inside] - 12.75) <= 12.75 + 1e-4)
    assert np.array_equal(noisy, ts.uniform_noise(figure, rng=1, t=0.1))


def test_jpeg_quality_5_is_lossy_and_deterministic():
    rng = np.random.default_rng(3)
    figure = _figure((96, 128))
    texture = rng.uniform(-6, 6, figure.shape) * (figure > 0)
    image = np.clip(ts.gaussian_blur(figure) + texture, 0, 255).astype(np.uint8)
    once, twice = ts.jpeg_roundtrip(image, 5), ts.jpeg_roundtrip(image, 5)
    assert np.array_equal(once, twice)
    error = np.abs(once.astype(int) - image.astype(int))
    assert error.max() > 0 and 0.3 < error.mean() < 15 and error.max() < 80
    fine = np.abs(ts.jpeg_roundtrip(image, 95).astype(int) - image.astype(int))
    assert fine.mean() < error.mean()
    float_out = ts.jpeg_roundtrip(image.astype(np.float32), 5)
    assert float_out.dtype == np.float32 and np.array_equal(float_out, once.astype(np.float32))


def test_jpeg_is_kept_on_the_figure_only():
    figure = _figure((96, 128))
    whole = ts.PostProcess(noise_t=0, jpeg_mask=False)(figure)
    assert whole[90, 120] == 8  # q5 turns black blocks into grey 8: would lift the whole background
    masked = ts.PostProcess(noise_t=0)(figure)
    support = np.zeros(figure.shape, bool)
    support[14:50, 28:48] = True  # figure + 1 px blur + 1 px margin
    assert (masked[~support] == 0).all() and masked[support].mean() > 30
    assert np.array_equal(masked[support], whole[support])


def test_screen_matches_eq_b5_on_hand_pixels():
    foreground = np.array([[0, 255, 128, 100, 42]], np.uint8)
    background = np.array([[77, 10, 128, 200, 128]], np.uint8)
    # 255 - (255 - F)(255 - B) / 255 by hand: 77, 255, 191.75, 221.57, 148.93
    assert ts.screen(foreground, background).tolist() == [[77, 255, 192, 222, 149]]
    assert np.array_equal(ts.screen(foreground, background), ts.screen(background, foreground))
    exact = ts.screen(foreground.astype(np.float32), background.astype(np.float32))
    assert exact[0, 2] == pytest.approx(255 - 127 * 127 / 255, rel=1e-6)
    with pytest.raises(ValueError, match="differ in shape"):
        ts.screen(foreground, background[:, :3])
    # composite(): the same blend, computed in the foreground's box only
    rng = np.random.default_rng(0)
    fg = np.zeros((40, 50), np.uint8)
    fg[10:20, 5:9] = rng.integers(1, 256, (10, 4))
    bg = rng.integers(0, 256, (40, 50), dtype=np.uint8)
    assert np.array_equal(ts.composite(fg, bg), ts.screen(fg, bg))
    assert np.array_equal(ts.composite(np.zeros_like(bg), bg), bg)


# ----------------------------------------------------------------------------- background

def test_median_removes_a_moving_blob_inside_the_mask():
    static = _static_scene(5)
    median_mask = HARBOUR_VIEW.mask("median", (H, W))
    water = HARBOUR_VIEW.mask("water", (H, W))
    frames = np.repeat(static[None], 9, axis=0)
    rows, cols = np.mgrid[0:H, 0:W]
    for t in range(9):  # a bright blob walking down the quay, another swimming in the water
        frames[t][(rows - (130 + 15 * t)) ** 2 + (cols - 330) ** 2 < 100] = 250
        frames[t][(rows - 200) ** 2 + (cols - (40 + 12 * t)) ** 2 < 64] = 250
    assert (frames[:, median_mask] != static[median_mask]).any()
    bg = ts.extract_backgrounds(frames, clip="blob")
    assert bg.frames.shape == frames.shape and bg.frames.dtype == np.uint8
    assert np.array_equal(bg.median[median_mask], static[median_mask])
    for t in range(9):
        assert np.array_equal(bg.frames[t][median_mask], static[median_mask])  # blob removed
        assert np.array_equal(bg.frames[t][~median_mask], frames[t][~median_mask])  # water kept
    assert np.array_equal(bg.water_mask, water)
    # 2 fps recording sampled at 1 fps: every second frame
    half = ts.extract_backgrounds(frames, source_fps=2.0)
    assert list(half.frame_ids) == [0, 2, 4, 6, 8]
    # your own mask
    own = np.zeros((H, W), bool)
    own[:, :50] = True
    mine = ts.extract_backgrounds(frames, median_mask=own)
    assert np.array_equal(mine.frames[3][~own], frames[3][~own])


def test_backgrounds_through_the_seasons_in_drift_loader(tmp_path):
    from vadlib.data import synthetic, thermal

    root = synthetic.generate("seasons_in_drift", size="tiny", seed=0, data_root=tmp_path / "data")
    table = thermal.sid_clips(root)
    clip = table["clip"][0]
    bg = ts.clip_backgrounds(root, clip)
    frames, ids = ts.load_clip(root, clip)
    assert bg.frames.shape == frames.shape == (10, 72, 96) and list(bg.frame_ids) == list(ids)
    assert np.array_equal(bg.frames[:, ~bg.median_mask], frames[:, ~bg.median_mask])
    assert len(list(ts.sid_backgrounds(root))) == len(table)
    assert ts.sample_clips(table, hours=2 * 2 / 60, method="even") == [sorted(table["clip"])[i] for i in (0, 2)]
    assert ts.sample_clips(table, hours=10) == sorted(table["clip"])  # the twin: fewer clips, all used
    # the geometry is the dataset's file, which the twin writes; HARBOUR_VIEW round-trips through it
    assert thermal.sid_view(root) == HARBOUR_VIEW
    with pytest.raises(ValueError, match="need 288×384"):
        ts.clip_backgrounds(root, clip, shape=(288, 384))


def test_clip_sampling_is_uniform_and_seeded():
    """L1720: 69 of 298 h "sampled uniformly". Property: every clip has the same inclusion
    probability k / n (binomial bound over 2,000 seeds), the sample has k distinct clips in time
    order, the same seed gives the same clips and another seed other clips."""
    clips = [f"2021{m:02d}{d:02d}/clip_{i}_{h:02d}00" for m, d, i, h in
             ((1 + j // 120, 1 + (j // 24) % 5, j, j % 24) for j in range(60))]
    k = 15
    hours = k * 2 / 60
    picks = [ts.sample_clips(clips, hours, seed=seed) for seed in range(2000)]
    assert all(len(set(p)) == len(p) == k and p == sorted(p) for p in picks)
    counts = pd.Series([c for p in picks for c in p]).value_counts().reindex(clips, fill_value=0)
    expected, sd = 2000 * k / 60, np.sqrt(2000 * (k / 60) * (1 - k / 60))
    assert (np.abs(counts - expected) < 5 * sd).all()
    assert picks[0] == ts.sample_clips(clips, hours, seed=0)
    assert picks[0] != picks[1]
    assert ts.sample_clips(clips, ts.PAPER_BACKGROUND_HOURS) == sorted(clips)  # fewer than 2,070
    with pytest.raises(ValueError, match="method"):
        ts.sample_clips(clips, hours, method="dated")


def test_real_layout_root_without_harbour_view_is_refused(tmp_path):
    """A Seasons-in-Drift root without harbour_view.json raises DatasetError naming the dataset
    and the file (no fallback to the twin's geometry)."""
    from vadlib.data import thermal
    from vadlib.data.errors import DatasetError

    base = tmp_path / "seasons_in_drift" / "LTD Dataset" / "LTD Dataset"
    (base / "Image Dataset" / "20210101" / "clip_1_0000").mkdir(parents=True)
    (base / "metadata.csv").write_text("Folder name,Clip Name,DateTime\n20210101,clip_1_0000,01-01-2021 00:00\n")
    with pytest.raises(DatasetError, match=r"seasons_in_drift[\s\S]*harbour_view\.json"):
        thermal.sid_view(tmp_path / "seasons_in_drift")
    (base / "harbour_view.json").write_text("{\"water\": 1}")
    with pytest.raises(DatasetError, match="harbour_view.json is malformed"):
        thermal.sid_view(tmp_path / "seasons_in_drift")


def test_bad_background_input():
    clip = _clip(4)
    with pytest.raises(ValueError, match="8-bit"):
        ts.extract_backgrounds(clip.astype(np.float32))
    with pytest.raises(ValueError, match="8-bit"):
        ts.check_frames([f.astype(np.uint16) for f in clip])
    with pytest.raises(ValueError, match="2-D"):
        ts.check_frames([np.zeros((H, W, 3), np.uint8)])
    with pytest.raises(ValueError, match="T × H × W"):
        ts.extract_backgrounds(np.zeros((2, H, W, 3), np.uint8))
    with pytest.raises(ValueError, match="single 2-D image|one 2-D image"):
        ts.extract_backgrounds(clip[0])
    with pytest.raises(ValueError, match="need 288×384"):
        ts.extract_backgrounds(clip[:, :100], shape=(H, W))
    with pytest.raises(ValueError, match="median mask is empty"):
        ts.extract_backgrounds(clip, median_mask=np.zeros((H, W), bool))
    with pytest.raises(ValueError, match="water mask is empty"):
        ts.extract_backgrounds(clip, water_mask=np.zeros((H, W), bool))
    with pytest.raises(ValueError, match=r"water mask has shape \(10, 10\)"):
        ts.extract_backgrounds(clip, water_mask=np.ones((10, 10), bool))
    with pytest.raises(ValueError, match="need 288×384"):
        ts.generate_samples(clip[:, :200, :300], 2)
    with pytest.raises(ValueError, match="8-bit"):
        ts.generate_samples(clip.astype(np.uint16), 2)
    with pytest.raises(ValueError, match="single 2-D frame among clips"):
        ts.generate_samples([clip, clip[0]], 2)
    with pytest.raises(ValueError, match="has 4 frames"):
        ts.generate_samples(clip, 2, frames_per_sequence=5)


# -------------------------------------------------------------------------------- humans

def test_perspective_scale_by_position():
    camera = HARBOUR_VIEW.camera((H, W))
    near, far = HARBOUR_VIEW.edge_point(0.95) + (1.0, 0.0), HARBOUR_VIEW.edge_point(0.5) + (1.0, 0.0)
    heights = []
    for point in (near, far):
        state = humans.BodyState(tuple(point), -np.pi / 2, humans.Pose())
        box = humans.mask_box(humans.render_parts(state, 1.75, camera, (H, W), None) > 0)
        heights.append(box[3] - box[1])
    expected = far[1] / near[1]  # pixel height ∝ 1 / depth
    assert heights[0] / heights[1] == pytest.approx(expected, rel=0.12)
    assert 60 <= heights[0] <= 80  # a 1.75 m person near the bottom of the frame


def test_rendered_motions_and_their_labels():
    for kind in humans.KINDS:
        for seed in range(3):
            seq = ts.render_sequence(kind, n_frames=5, rng=seed)
            assert len(seq) == 5 and seq.shape == (H, W)
            assert set(np.unique(np.concatenate([f.material.ravel() for f in seq.frames]))) <= {0, 1, 2}
            for frame in seq.frames:
                assert frame.albedo.shape == (H, W, 3)
                assert (frame.box is None) == (not frame.material.any())
            if kind in ts.FALL_KINDS:
                assert seq.labels.any(), (kind, seed)
            else:
                assert not seq.labels.any(), (kind, seed)
                assert all(f.box is not None for f in seq.frames)
            fall = [f for f in seq.frames if f.label]
            assert all(f.box is not None for f in fall)  # a fall label needs a visible person
    with pytest.raises(ValueError, match="unknown motion 'swim'"):
        ts.render_sequence("swim")


def test_your_own_renders():
    rgba = np.zeros((3, 20, 30, 4), np.uint8)
    rgba[:, 5:15, 10:14] = (200, 100, 50, 255)
    seq = ts.sequence_from_rgba(list(rgba), [0, 1, 1])
    assert seq.labels.tolist() == [0, 1, 1] and seq.materials == ("cotton",)
    assert seq.frames[0].box == (10, 5, 14, 15) and seq.frames[0].material.sum() == 40
    with pytest.raises(ValueError, match="2 labels for 3 frames"):
        ts.sequence_from_rgba(list(rgba), [0, 1])
    with pytest.raises(ValueError, match="label must be 0"):
        ts.sequence_from_material_maps([np.zeros((4, 4), np.uint8)], [2])
    with pytest.raises(ValueError, match="material ids must lie in 0..2"):
        ts.sequence_from_material_maps([np.full((4, 4), 3, np.uint8)], [0])


# ------------------------------------------------------------------------------- dataset

def _marked_sequence(n: int, k: int) -> ts.ForegroundSequence:
    """Frame i: a block in the water whose column encodes i; frames >= k are falls."""
    maps = []
    for i in range(n):
        ids = np.zeros((H, W), np.uint8)
        ids[200:240, 40 + 15 * i:50 + 15 * i] = 1 + (i % 2)
        maps.append(ids)
    return ts.sequence_from_material_maps(maps, [int(i >= k) for i in range(n)], sequence_id="marked")


def test_labels_stay_aligned_with_frames_through_assembly():
    n, k = 9, 4
    clip = _clip(12)
    data = ts.synthesize([_marked_sequence(n, k)], clip, seed=3, keep_frames=True)
    assert data.samples.shape == (n - 2, 3, 115, 185) and data.samples.dtype == np.uint8
    corners = HARBOUR_VIEW.roi_corners((H, W))
    frames = data.frames["marked"]
    for i, row in data.meta.iterrows():
        ids = row["frame_ids"]
        assert ids == (i, i + 1, i + 2)
        assert row["frame_labels"] == tuple(int(t >= k) for t in ids)
        assert data.labels[i] == row["label"] == int(max(ids) >= k)  # rule "any"
        assert row["background_frames"] == tuple(row["background_frames"][0] + c for c in range(3))
        for c, t in enumerate(ids):  # the sample's pixels come from the frames it claims
            assert np.array_equal(data.samples[i, c], ts.warp_roi(frames[t], corners))
        x0 = min(40 + 15 * t for t in ids)
        assert row["box"] == (x0, 200, x0 + 10 + 30, 240)
    # composited frame t holds foreground frame t on background frame b + t, nothing else
    start = data.meta["background_frames"][0][0]
    for t in range(n):
        diff = frames[t].astype(int) - clip[start + t].astype(int)
        x0, x1 = 40 + 15 * t, 50 + 15 * t
        changed = np.flatnonzero(np.abs(diff).sum(axis=0))
        assert changed.min() >= x0 - 2 and changed.max() < x1 + 2  # blur + 1 px mask margin
        assert x0 <= np.argmax(diff.sum(axis=0)) < x1
    # the other rules on the same frame labels
    labels = [int(i >= k) for i in range(n)]
    starts, rule_all = ts.triplet_labels(labels, "all")
    assert rule_all.tolist() == [int(t >= k) for t in starts]
    assert ts.triplet_labels(labels, "majority")[1].tolist() == [int(t + 1 >= k) for t in starts]
    assert ts.triplet_labels(labels, "last")[1].tolist() == [int(t + 2 >= k) for t in starts]
    assert ts.triplet_labels(labels, "any", stride=3)[0].tolist() == [0, 3, 6]


def test_samples_come_from_the_background_frames_they_claim():
    values = (10 + 7 * np.arange(12)).astype(np.uint8)
    clip = np.broadcast_to(values[:, None, None], (12, H, W)).copy()
    empty = ts.sequence_from_material_maps([np.zeros((H, W), np.uint8)] * 5, [0] * 5, sequence_id="e")
    data = ts.synthesize([empty], clip, seed=11)
    for i, row in data.meta.iterrows():
        for c, b in enumerate(row["background_frames"]):
            assert (data.samples[i, c] == values[b]).all()


def test_generate_samples_end_to_end():
    clip = _clip(10)
    data = ts.generate_samples([clip, _clip(10, seed=4)], 8, seed=0)
    assert data.samples.shape == (8, 3, 115, 185) and data.samples.dtype == np.uint8
    assert data.labels.tolist() == [int(kind in ts.FALL_KINDS) for kind in data.meta["kind"]]
    assert data.labels.sum() == 4 and set(data.meta["clip"]) <= {"clip0", "clip1"}
    again = ts.generate_samples([clip, _clip(10, seed=4)], 8, seed=0)
    assert np.array_equal(again.samples, data.samples)
    # a person changes the pixels: every fall sample differs from its bare background crop
    corners = HARBOUR_VIEW.roi_corners((H, W))
    for i, row in data.meta.iterrows():
        source = clip if row["clip"] == "clip0" else _clip(10, seed=4)
        bare = np.stack([ts.warp_roi(source[b], corners) for b in row["background_frames"]])
        if row["label"] == 1:
            assert (data.samples[i] != bare).any()
    part = ts.generate_samples([clip, _clip(10, seed=4)], 8, seed=0, chunk=(3, 6))
    assert np.array_equal(part.samples, data.samples[3:6]) and list(part.meta["sequence_id"]) == [3, 4, 5]
    longer = ts.generate_samples(clip, 2, seed=1, frames_per_sequence=6, stride=1)
    assert len(longer) == 2 * 4 and longer.meta.groupby("sequence_id").size().tolist() == [4, 4]


def test_split_never_shares_a_sequence():
    data = ts.generate_samples(_clip(10), 10, seed=2, frames_per_sequence=5)
    train, val = data.split(val_fraction=0.4, seed=1)
    assert len(train) + len(val) == len(data) == 30
    assert not set(train.meta["sequence_id"]) & set(val.meta["sequence_id"])
    assert val.meta.groupby("sequence_id").size().eq(3).all()
    assert set(val.meta["kind"].isin(ts.FALL_KINDS)) == {True, False}  # stratified
    # the paper's sizes: 103,596 one-sample sequences, half falls -> 69,000 / 34,596
    params = ts.paper_parameters()
    n = params["n_sequences"]
    assert n * params["frames_per_sequence"] == ts.PAPER_COUNTS["frames"]
    meta = pd.DataFrame({"sequence_id": np.arange(n), "kind": np.where(np.arange(n) % 2, "walk", "fall"),
                         "label": (np.arange(n) % 2 == 0).astype(int)})
    train_idx, val_idx = ts.split_by_sequence(meta, params["val_fraction"], seed=0)
    assert (len(train_idx), len(val_idx)) == (69_000, 34_596)
    assert meta["label"].to_numpy()[val_idx].sum() == 17_298
    ids = meta["sequence_id"].to_numpy()
    assert not np.intersect1d(ids[train_idx], ids[val_idx]).size
    assert ts.dataset._kinds(n, 0.5, 0).count("fall") + ts.dataset._kinds(n, 0.5, 0).count("jump") == 51_798


def test_duplicate_sequence_ids_are_refused():
    seq = _marked_sequence(3, 1)
    with pytest.raises(ValueError, match="occurs twice"):
        ts.synthesize([seq, seq], _clip(5))
