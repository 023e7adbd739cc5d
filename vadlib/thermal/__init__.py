"""ThermalSynth (thesis Paper B): synthetic thermal images of people falling into harbour water.

Madan et al., "ThermalSynth: A Novel Approach for Generating Synthetic Thermal Human Scenarios",
WACV Workshops (thesis seed ``000_f794b37c98b9d304.txt`` L1652-L1933; spec ``paper_A_B.md`` Part 2).
Reimplemented from the paper; the official repository (NeeluMadan/Thermal-Synth) has no recorded
licence and holds only an early Unity prototype, so nothing is taken from it.

One module per stage of the pipeline (Fig. B.2):

* :mod:`vadlib.data.harbour` -- the harbour view:
  water / quay / median / crop regions and the pinhole camera of Table B.1 (our polygons; the
  paper publishes none), the water-area warp and the sample set, shared with the real fall test
  sets (:mod:`vadlib.data.fall_tests`).
* :mod:`~vadlib.thermal.background` -- §3.1: per-clip temporal median at 1 fps inside the
  harbour mask, from Seasons in Drift (LTD) clips read through :mod:`vadlib.data.thermal`.
* :mod:`~vadlib.thermal.humans` -- §3.2: a procedural articulated human (skin / cotton parts)
  walking, standing, falling or jumping into the water, standing in for Unity + Mixamo; or your
  own RGBA / material-id renders.
* :mod:`~vadlib.thermal.shader` -- §3.3: Eq. B.1-B.4, Table B.1, and the range of values the
  stated constants produce (:func:`shader_range`; ``python -m vadlib.thermal`` prints it).
* :mod:`~vadlib.thermal.postprocess` -- §3.4: 3 × 3 Gaussian blur, uniform noise, JPEG quality 5,
  screen compositing (Eq. B.5).
* :mod:`~vadlib.thermal.dataset` -- §3.5 / §4.3: 3-frame samples of the warped water area
  (3 × 115 × 185 uint8), automatic fall labels, split by sequence, the paper's sizes.

Quick start::

    from vadlib.data import synthetic
    from vadlib.thermal import sid_backgrounds, generate_samples

    root = synthetic.generate("seasons_in_drift", size="smoke", seed=0)
    clips = list(sid_backgrounds(root))
    data = generate_samples(clips, n_sequences=200, seed=0)
    train, val = data.split()
"""

from vadlib.data.harbour import FRAME_SHAPE, HARBOUR_VIEW, HarbourView, PinholeCamera, polygon_mask
from vadlib.thermal.background import (PAPER_BACKGROUND_HOURS, Backgrounds, check_frames, check_mask,
                                       clip_backgrounds, extract_backgrounds, load_clip, sample_clips,
                                       sid_backgrounds, temporal_median)
from vadlib.thermal.dataset import (PAPER_COUNTS, SAMPLE_SIZE, TRIPLET_RULES, ThermalSynthSet, assemble,
                                    compose_frames, generate_samples, paper_parameters,
                                    split_by_sequence, synthesize, triplet_labels, warp_roi)
from vadlib.thermal.humans import (FALL_KINDS, KINDS, MATERIALS, NO_FALL_KINDS, ForegroundFrame,
                                   ForegroundSequence, Pose, render_sequence,
                                   sequence_from_material_maps, sequence_from_rgba)
from vadlib.thermal.postprocess import (PostProcess, composite, gaussian_blur, jpeg_roundtrip, screen,
                                        uniform_noise)
from vadlib.thermal.shader import (EMISSIVITY, SIGMA, SIGMA_PAPER, TEMPERATURE_K,
                                   TEMPERATURE_K_CHAPTER_3, UNIFORM_EMISSIVITY_DISCUSSION, VARIANTS,
                                   MaterialError, ThermalShader, blended_emissivity,
                                   colour_emissivity, luminance, pixel_value, radiance, shader_range,
                                   shader_report)

__all__ = [
    # scene
    "FRAME_SHAPE", "HARBOUR_VIEW", "HarbourView", "PinholeCamera", "polygon_mask",
    # background
    "PAPER_BACKGROUND_HOURS", "Backgrounds", "check_frames", "check_mask", "clip_backgrounds",
    "extract_backgrounds", "load_clip", "sample_clips", "sid_backgrounds", "temporal_median",
    # humans
    "FALL_KINDS", "KINDS", "MATERIALS", "NO_FALL_KINDS", "ForegroundFrame", "ForegroundSequence",
    "Pose", "render_sequence", "sequence_from_material_maps", "sequence_from_rgba",
    # shader
    "EMISSIVITY", "SIGMA", "SIGMA_PAPER", "TEMPERATURE_K", "TEMPERATURE_K_CHAPTER_3",
    "UNIFORM_EMISSIVITY_DISCUSSION", "VARIANTS", "MaterialError", "ThermalShader",
    "blended_emissivity", "colour_emissivity", "luminance", "pixel_value", "radiance", "shader_range",
    "shader_report",
    # post-processing
    "PostProcess", "composite", "gaussian_blur", "jpeg_roundtrip", "screen", "uniform_noise",
    # dataset
    "PAPER_COUNTS", "SAMPLE_SIZE", "TRIPLET_RULES", "ThermalSynthSet", "assemble", "compose_frames",
    "generate_samples", "paper_parameters", "split_by_sequence", "synthesize", "triplet_labels",
    "warp_roi",
]
