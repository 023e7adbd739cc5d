"""Learnability of the object-centric hosts of Papers C and D on the smoke twin of Avenue.

Each host (Georgescu et al.'s framework, SSMTL++, HF2-VAD) is trained briefly on the objects of
the twin's normal training videos -- the oracle detector, i.e. the twin's rendered objects, as
under the smoke profile -- through the object run's own pieces (:class:`ObjectCubes`, the
trainer, :meth:`calibrate`, :func:`score_objects`, :func:`frame_scores` with the host's temporal
filter and score anchor), and must then separate the twin's abnormal test frames (runners,
thrown objects, cyclists) from the normal ones: **frame-level micro AUROC over every scored test
frame of the twin's four test videos**, an independent property (the labels are the twin's frame
annotations, which training never sees).

What differs from a smoke run, to fit a CPU test (< ~40 s with one thread):

* batches of 16 (SSMTL++: 8) instead of the hosts' 64 / 128, for a few dozen to a few hundred
  steps (the learning rate of each host's schedule);
* optical flow (Georgescu et al., HF2-VAD) from OpenCV's Farnebäck method (Farnebäck, SCIA 2003)
  on the twin's frames instead of RAFT-small: smoke runs use a RAFT with frozen *random* weights,
  a fixed random motion feature that costs ~0.1 s per frame pair on this CPU (~60 s for the
  twin), while Farnebäck is real optical flow at a few ms per pair. The hosts get the flow in the
  object pipeline's units (pixels of the crop).

AUROCs measured while choosing the thresholds (this machine, one thread, seeds 0 / 1 / 2):
Georgescu et al. 0.759 / 0.762 / 0.776 (60 steps); SSMTL++ 0.772 / 0.808 / 0.681 (30 steps);
HF2-VAD, staged (ML-MemAE-SC then the CVAE, half the steps each) 0.674 / 0.675 / 0.650 (300
steps), jointly trained 0.692 / 0.664 / 0.661 -- with its flow-reconstruction loss *growing*
(see the HF2-VAD module docstring), so the test uses the staged recipe. The reference fixture
ObjectAE reaches 0.585 on the same measure.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from vadlib.data import synthetic
from vadlib.models.registry import HostContext, create_host
from vadlib.runs import object_vad
from vadlib.runs.train import data_loader, endless, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class FarnebackFlow:
    """``flow(j) -> float32 2×H×W``: OpenCV's Farnebäck optical flow from frame j to j + 1 of one
    video (original pixels; channel 0 = u, 1 = v), kept once computed: the interface of
    :class:`vadlib.models.object_pipeline.VideoFlow`."""

    def __init__(self, read_frame):
        self.read_frame = read_frame
        self.fields: dict[int, np.ndarray] = {}

    def __call__(self, j: int) -> np.ndarray:
        import cv2
        if j not in self.fields:
            a, b = (cv2.cvtColor(self.read_frame(k), cv2.COLOR_RGB2GRAY) for k in (j, j + 1))
            flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 9, 3, 5, 1.1, 0)
            self.fields[j] = np.ascontiguousarray(flow.transpose(2, 0, 1), dtype=np.float32)
        return self.fields[j]


@functools.cache
def _split(split: str):
    """(frame index, readers, Farnebäck flows) of one split of the smoke twin of Avenue, shared by
    the tests of this module."""
    root = synthetic.generate("avenue", size="smoke", seed=0)
    run = object_vad.ObjectVideoRun("object_ae", None, "avenue")
    index = run.index(root, split)
    readers = run.readers(index)
    return run, index, readers, {video: FarnebackFlow(reader) for video, reader in readers.items()}


def _cubes(host, split: str):
    """(scored frames, oracle objects, their cubes) of a split for ``host``'s window and anchor."""
    run, index, readers, flows = _split(split)
    frames = object_vad._scored_frames(index, host.window, None, host.score_anchor)
    objects = run.detect(split, frames, readers)
    cubes = object_vad.ObjectCubes(objects, readers, host.window, host.side, flows if host.needs_flow else None,
                                   host.score_anchor)
    return frames, objects, cubes


def twin_frame_auroc(name: str, steps: int, batch_size: int, seed: int = 0, options=()) -> tuple[float, list]:
    """Train object host ``name`` (size "tiny", ``options``) for ``steps`` steps of ``batch_size``
    training objects of the twin, as the object run does (its schedule's optimiser and learning
    rate, :meth:`on_train_step` around every step, :meth:`calibrate`), then score every test object
    and return (the micro AUROC of the filtered frame scores, the training history)."""
    torch.manual_seed(seed)
    host = create_host(name, HostContext(size="tiny", in_channels=3, seed=seed, dataset="avenue",
                                         options=tuple(options)), kind="object")
    schedule = dataclasses.replace(type(host).schedule("tiny"), batch_size=batch_size)
    _, _, train_set = _cubes(host, "train")
    host.on_train_step(-1, steps)
    history = train(host, host.training_loss, endless(data_loader(train_set, batch_size, shuffle=True, seed=seed)),
                    schedule=schedule, total_steps=steps, progress=False,
                    on_step=lambda step, _: host.on_train_step(step, steps))
    host.eval()
    with torch.no_grad():
        host.calibrate(data_loader(train_set, object_vad.SCORE_BATCH))
    frames, objects, test_set = _cubes(host, "test")
    scored = object_vad.frame_scores(frames, objects, object_vad.score_objects(host, test_set, "cpu"),
                                     host.frame_filter)
    labels = np.concatenate([entry["labels"] for entry in scored.values()])
    scores = np.concatenate([entry["scores"] for entry in scored.values()])
    assert 0 < labels.mean() < 1 and np.isfinite(scores).all()
    return float(roc_auc_score(labels, scores)), history


def test_georgescu_learns_the_twins_anomalies():
    """Georgescu et al.'s framework (flow motion input, adversarial auto-encoders, classifier
    scores), 60 steps of 16 objects: frame AUROC > 0.7 (measured 0.76-0.78 over seeds 0-2)."""
    auroc, history = twin_frame_auroc("georgescu", steps=60, batch_size=16)
    assert auroc > 0.7
    assert np.median([h["loss"] for h in history[-10:]]) < np.median([h["loss"] for h in history[:10]])


def test_ssmtl_learns_the_twins_anomalies():
    """SSMTL++ (arrow of time, motion irregularity, middle box, jigsaw on 25-frame cubes), 30 steps
    of 8 objects: frame AUROC > 0.6 (measured 0.68-0.81 over seeds 0-2)."""
    auroc, history = twin_frame_auroc("ssmtl", steps=30, batch_size=8)
    assert auroc > 0.6
    assert np.median([h["loss"] for h in history[-5:]]) < np.median([h["loss"] for h in history[:5]])


def test_hf2vad_learns_the_twins_anomalies_in_stages():
    """HF2-VAD with its staged recipe (150 steps of ML-MemAE-SC alone, then 150 of the CVAE with
    ML-MemAE-SC frozen; 16 objects a step), cubes ending at the scored frame: frame AUROC > 0.6
    (measured 0.65-0.68 over seeds 0-2); each stage's loss falls (medians over 30 steps: a batch
    holding a fast object has a flow error ten times the typical one)."""
    auroc, history = twin_frame_auroc("hf2vad", steps=300, batch_size=16, options=(("stages", (0.5, 0.5)),))
    assert auroc > 0.6
    memae = [h["flow_recon"] for h in history if "flow_recon" in h]
    cvae = [h["frame"] for h in history if "frame" in h]
    assert len(memae) == len(cvae) == 150 and "frame" not in history[0] and "flow_recon" not in history[-1]
    assert np.median(memae[-30:]) < np.median(memae[:30]) and np.median(cvae[-30:]) < np.median(cvae[:30])
