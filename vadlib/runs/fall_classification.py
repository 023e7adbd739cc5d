"""Paper B's classifiers trained on ThermalSynth data: one cached experiment per network.

A run generates the synthetic set with :mod:`vadlib.thermal` (backgrounds from
``background_hours`` = 69 h of Seasons-in-Drift clips drawn uniformly with the run's seed, L1720 --
every clip of the synthetic twin under smoke, which has fewer; the clip list is stored with the
result -- with the harbour geometry read from the dataset's ``harbour_view.json``, never the
twin's constant; procedural people, the thermal shader, post-processing,
3-frame samples of the warped water area, 185×115×3), splits it by sequence into training and
validation as the paper's 69,000 / 34,596, trains a torchvision AlexNet or ResNet-18 (two
classes, random initialisation: the paper does not say ImageNet weights) with SGD, lr 10⁻³,
batch 32, 20 epochs, keeping the checkpoint with the best validation accuracy (L1849), and tests it.

Test sets. The "synthetic" test is generated like the training set but on background clips the
training never saw (the last ``test_clip_share`` of the clips) and other random people; it fills
the "Synthetic" column of Table B.2. The paper's two real sets (Intentional Fall, 77 samples; Dummy,
1,626) are not public (:mod:`vadlib.data.fall_tests`, manifests ``intentional_fall`` and
``dummy_fall`` say how to request them). With ``data_source="real"`` a run tests on each one found
under the data root and records a set that is missing instead of failing; under smoke it tests on
their synthetic twins, which a different renderer draws (soft warm blobs of the Seasons-in-Drift
twin) -- a domain shift, as real footage is one.

Which runs fill which table, and the tables themselves: :mod:`vadlib.papers.b_thermalsynth`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import torch
import torchvision

from vadlib.data import DataSource, DatasetError, fall_tests
from vadlib.metrics import classification
from vadlib.models.hosts import Schedule
from vadlib.models.small_cnn import SmallCNN
from vadlib.profiles import resolve_device
from vadlib.runs import code
from vadlib.runs.experiment import Budget, Experiment, RunContext
from vadlib.runs.train import data_loader, endless, train
from vadlib.data.thermal import sid_clips, sid_view
from vadlib.thermal import PAPER_BACKGROUND_HOURS, clip_backgrounds, generate_samples, sample_clips

#: the paper's two classifiers (Tables B.2, B.3) and the CPU-sized learnability check (not in the paper)
ARCHITECTURES = ("alexnet", "resnet18", "small_cnn")
PAPER_SEQUENCES = 103_596  # 3-frame samples of the paper's set (69,000 train + 34,596 validation)
SEQUENCES = {"paper": PAPER_SEQUENCES, "tiny": 160}
TEST_SEQUENCES = {"paper": 2_000, "tiny": 60}  # our held-out synthetic test (the paper's size not stated)


@dataclass(frozen=True)
class FallClassifierRun(Experiment):
    """Generate ThermalSynth data, train ``network`` on it, test on held-out synthetic data."""

    kind: ClassVar[str] = "fall_classification"

    def code_units(self) -> tuple[str, ...]:
        return ("run:fall_classification", "train", "model:small_cnn", "thermalsynth", "metrics:classification") + \
            code.data_units(["seasons_in_drift", "intentional_fall", "dummy_fall"], self.data.synthetic)

    network: str = "alexnet"
    n_sequences: int = SEQUENCES["tiny"]
    test_sequences: int = TEST_SEQUENCES["tiny"]
    test_clip_share: float = 0.25
    background_hours: float = PAPER_BACKGROUND_HOURS
    budget: Budget = Budget()
    data: DataSource = DataSource()
    seed: int = 0
    device: str = "cpu"

    def _root(self):
        return self.data.locate("seasons_in_drift")

    def view(self):
        """The harbour geometry of the Seasons-in-Drift root (its ``harbour_view.json``; the twin
        writes its own): water mask for the labels, median mask, crop. Missing → DatasetError."""
        return sid_view(self._root())

    def background_clips(self) -> list[str]:
        """``background_hours`` of clips drawn uniformly with the run's seed (L1720: 69 of 298 h),
        in time order; all clips when the root has fewer (the twin)."""
        return sample_clips(sid_clips(self._root()), self.background_hours, seed=self.seed)

    def backgrounds(self):
        """(training clips' backgrounds, held-out clips' backgrounds)."""
        root, view = self._root(), self.view()
        clips = [clip_backgrounds(root, clip, view=view) for clip in self.background_clips()]
        if len(clips) < 2:
            raise ValueError("ThermalSynth needs at least two background clips (training and held-out test)")
        held_out = max(1, int(round(len(clips) * self.test_clip_share)))
        return clips[:-held_out], clips[-held_out:]

    def generated_sets(self):
        """(train, validation, test) :class:`vadlib.data.harbour.ThermalSynthSet`."""
        train_backgrounds, test_backgrounds = self.backgrounds()
        view = self.view()
        generated = generate_samples(train_backgrounds, self.n_sequences, seed=self.seed, view=view)
        train_set, val_set = generated.split(seed=self.seed)
        test_set = generate_samples(test_backgrounds, self.test_sequences, seed=self.seed + 10_000, view=view)
        return train_set, val_set, test_set

    def real_tests(self) -> dict[str, Any]:
        """{test set: its samples, or the reason it is missing} for the paper's two real sets."""
        found = {}
        for name in fall_tests.NAMES:
            try:
                found[name] = fall_tests.load(self.data.locate(name), name)
            except DatasetError as error:
                if self.data.kind != "real":
                    raise
                found[name] = f"{str(error).splitlines()[0]} (not public: `vadlib data fetch {name}` says how to request it)"
        return found

    def build_model(self):
        if self.network not in ARCHITECTURES:
            raise ValueError(f"network must be one of {ARCHITECTURES}, got {self.network!r}")
        torch.manual_seed(self.seed)
        if self.network == "small_cnn":
            return SmallCNN(num_classes=2)
        return getattr(torchvision.models, self.network)(weights=None, num_classes=2)

    def schedule(self):
        return Schedule(epochs=20, batch_size=32, lr=1e-3, optimizer="sgd", momentum=0.0,
                        source="Paper B L1849: SGD, lr 1e-3, batch 32, converged at epoch 20, best-validation "
                               "checkpoint; momentum, weight decay and schedule not stated (none used)")

    def total_steps(self, n_train: int, schedule) -> int:
        return self.budget.steps(schedule.epochs, math.ceil(n_train / schedule.batch_size))

    # ------------------------------------------------------------------ the experiment
    def run(self, ctx: RunContext) -> dict[str, Any]:
        started = time.perf_counter()
        train_set, val_set, test_set = self.generated_sets()
        model = self.build_model().to(self.device)
        schedule = self.schedule()
        steps = self.total_steps(len(train_set), schedule)
        checks = set(np.linspace(0, steps - 1, min(schedule.epochs, steps)).round().astype(int).tolist())
        best = {"accuracy": -1.0, "state": None, "step": None}

        def validate(step: int, logs: dict) -> dict | None:  # the best-validation checkpoint (L1849)
            if step not in checks:
                return None
            accuracy = evaluate(model, val_set, self.device)["accuracy"]
            model.train()
            if accuracy > best["accuracy"]:
                best.update(accuracy=accuracy, state={k: v.detach().clone() for k, v in model.state_dict().items()},
                            step=step)
            return {"val_accuracy": accuracy}

        loss = torch.nn.CrossEntropyLoss()
        history = train(model, lambda batch: _loss(model, loss, batch, self.device),
                        endless(data_loader(_Samples(train_set), schedule.batch_size, shuffle=True, seed=self.seed)),
                        schedule=schedule, total_steps=steps, ctx=ctx, device=self.device,
                        description=f"{self.network} on ThermalSynth", on_step=validate)
        model.load_state_dict(best["state"])
        scores = evaluate(model, test_set, self.device)
        real = {name: evaluate(model, data, self.device) if not isinstance(data, str) else {"missing": data}
                for name, data in self.real_tests().items()}
        return {"synthetic_test": scores, "real_tests": real, "best_val_accuracy": best["accuracy"], "best_step": best["step"],
                "train_samples": len(train_set), "val_samples": len(val_set), "test_samples": len(test_set),
                "train_falls": int(train_set.labels.sum()), "test_falls": int(test_set.labels.sum()),
                "background_clips": self.background_clips(), "train_steps": steps, "loss_first": history[0]["loss"], "loss_last": history[-1]["loss"],
                "schedule": schedule.source, "wall_time_s": round(time.perf_counter() - started, 2)}

    def dry_run(self, ctx: RunContext) -> dict[str, Any]:
        """One step of the paper-size network on a few samples generated from the smoke twin."""
        twin = replace(self, data=DataSource(), n_sequences=8, test_sequences=4)
        train_set, _, test_set = twin.generated_sets()
        model = twin.build_model()
        started = time.perf_counter()
        loss = torch.nn.CrossEntropyLoss()
        train(model, lambda batch: _loss(model, loss, batch, "cpu"),
              endless(data_loader(_Samples(train_set), 2, shuffle=True)),
              schedule=self.schedule(), total_steps=1, progress=False)
        evaluate(model, test_set, "cpu")
        for data in twin.real_tests().values():  # the loader and the evaluation on the real sets' twins
            evaluate(model, data.subset(range(min(4, len(data)))), "cpu")
        missing = [text for text in self.real_tests().values() if isinstance(text, str)] if self.data.kind == "real" else []
        return {"parameters": sum(p.numel() for p in model.parameters()),
                "step_time_s": round(time.perf_counter() - started, 3),
                **({"note": "; ".join(missing)} if missing else {})}

    def dry_run_key(self) -> str:
        return self.network

    def gpu_hours(self) -> float:
        """Rough: 20 epochs of the paper's 69,000 samples at ~2,000 samples/s (small inputs, one
        RTX 2080 Ti class GPU), plus generating the data (~20 min on two CPU cores, see
        ``benchmarks/bench_thermalsynth.py``)."""
        samples = 20 * self.budget.epoch_fraction * self.n_sequences * 69_000 / PAPER_SEQUENCES
        if self.budget.max_steps:
            samples = min(samples, self.budget.max_steps * 32)
        return samples / 2000 / 3600


class _Samples(torch.utils.data.Dataset):
    """A :class:`~vadlib.data.harbour.ThermalSynthSet` as a torch dataset: (3 × 115 × 185 float
    image in [0, 1], label) pairs."""

    def __init__(self, synth):
        self.synth = synth

    def __len__(self):
        return len(self.synth.labels)

    def __getitem__(self, i):
        return torch.from_numpy(self.synth.samples[i]).float().div_(255.0), int(self.synth.labels[i])


def _loss(model, criterion, batch, device: str):
    images, labels = batch
    loss = criterion(model(images.to(device)), labels.to(device))
    return loss, {"ce": float(loss.detach())}


def evaluate(model, synth, device: str = "cpu") -> dict[str, Any]:
    """Accuracy, sensitivity and specificity (%) and the confusion counts of ``model`` on a set
    (:mod:`vadlib.metrics.classification`; fall = positive)."""
    model.eval()
    predictions = []
    with torch.no_grad():
        for images, _ in data_loader(_Samples(synth), 64):
            predictions.append(model(images.to(device)).argmax(1).cpu().numpy())
    predicted = np.concatenate(predictions) if predictions else np.zeros(0, int)
    truth = np.asarray(synth.labels, int)
    matrix = classification.confusion_matrix(truth, predicted, labels=[1, 0])
    return {"accuracy": 100 * classification.accuracy(truth, predicted),
            "sensitivity": 100 * classification.sensitivity(truth, predicted),
            "specificity": 100 * classification.specificity(truth, predicted),
            "confusion": matrix.to_numpy().tolist(), "n": int(len(truth)), "falls": int(truth.sum())}


# ------------------------------------------------------------------------------------- configs
def run_config(settings, network: str) -> FallClassifierRun:
    """The run of ``network`` at the settings' size, budget, data, seed and device."""
    return FallClassifierRun(network=network, n_sequences=SEQUENCES[settings.model_size],
                             test_sequences=TEST_SEQUENCES[settings.model_size],
                             budget=Budget.from_settings(settings), data=DataSource.from_settings(settings),
                             seed=settings.seed, device=resolve_device(settings.device))


#: The learnability check: the paper's whole recipe (20 epochs, SGD, lr 10⁻³, batch 32) for the small
#: CNN on 600 generated sequences (400 training samples), tested on 200 held-out sequences. Its size
#: is the same under every profile: about a minute on a CPU.
LEARNABILITY_SEQUENCES = {"n_sequences": 600, "test_sequences": 200}


def learnability_run(settings) -> FallClassifierRun:
    """Does a network learn fall / no fall from generated data? (A check of the data, not a row of
    the paper: the smoke profile trains AlexNet and ResNet-18 far too briefly to tell.)"""
    config = run_config(settings, "small_cnn")
    return replace(config, budget=replace(config.budget, epoch_fraction=1.0, max_steps=None), **LEARNABILITY_SEQUENCES)
