"""The training recipe of a model as its official code sets it: :class:`Schedule`.

Every host (and the MAE, tracker and fall-classifier models) states its recipe as a
``Schedule``; :func:`vadlib.runs.train.make_optimizer` turns it into an optimizer and a
learning-rate schedule, and the experiment runners scale ``epochs`` by the profile.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Schedule"]


@dataclass(frozen=True)
class Schedule:
    """Training hyperparameters of a host as its official code sets them (``source`` says where)."""

    epochs: int
    batch_size: int
    lr: float
    optimizer: str = "adam"  # adam | adamw | sgd
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)  # adam / adamw
    weight_decay: float = 0.0
    lr_schedule: str = "multistep"  # multistep | cosine
    milestones: tuple[float, ...] = ()  # multistep: fractions of training where lr is multiplied by gamma
    gamma: float = 0.1
    min_lr: float = 0.0  # cosine: the final learning rate
    warmup_fraction: float = 0.0  # linear warm-up over this fraction of training, then the schedule
    source: str = ""
