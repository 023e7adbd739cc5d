"""SSMTL++ (Bărbălău et al.), the 3D object-centric host of Paper D (Table D.5, "+ 3D SSMCTB").

A. Bărbălău, R. T. Ionescu, M.-I. Georgescu, J. Dueholm, B. Ramachandra, K. Nasrollahi, F. S.
Khan, T. B. Moeslund, M. Shah, "SSMTL++: Revisiting Self-Supervised Multi-Task Learning for Video
Anomaly Detection", CVIU 229, 2023 (thesis [55] in Paper D, [79] in the overview), which extends
M.-I. Georgescu, A. Bărbălău, R. T. Ionescu, F. S. Khan, M. Popescu, M. Shah, "Anomaly Detection
in Video via Self-Supervised and Multi-Task Learning", CVPR 2021 (SSMTL; seed 003, cited below as
"S L<n>"). Reimplemented from the papers; no code is used (none is public, ``paper_D.md`` §2).

What the thesis says of SSMTL++ (Paper D T 2721): it "extended the previous work of Georgescu et
al. [50] with two 3D transformer-based self-supervised multi-task architectures trained on new
sets of proxy tasks. Among the two versions proposed in [55], we opt for SSMTL++v2"; the 3D SSMCTB
is integrated into it (T 2913) at a location the thesis does not give; λ = 0.1. Everything else
below is SSMTL (seed 003) plus the choices marked [ours].

**Object cube.** For an object detected in frame i, the box of frame i is cropped from frames
i − t … i + t, without tracking (S L62, L433), t = 3 (S L167: "optimal results with t = 3"), crops
S × S (64 × 64 in the paper). The intermittent sequences of the motion-irregularity task need
frames up to t · 4 away from i (gaps up to 4), so the host's cube has ``window = 2·t·4 + 1 = 25``
frames and every task but that one uses the central 2t + 1 = 7 [ours: the pipeline gives fixed
cubes; the first and last 12 frames of a video are therefore not scored].

**Shared backbone** (:class:`Backbone3d`; S L89-95, Table 1): 3×3×3 convolutions, each followed by
batch norm and ReLU, padding "same", stride 1; 1×2×2 max-pooling; a final *global temporal* max
pooling, so each task may use its own number of frames (S L95). Deep variant: two convolutions per
stage, three stages (``paper``: widths 32, 64, 64 -- S's deep+wide; ``tiny``: 8, 16, 16).
SSMTL++'s "3D transformer-based" architecture [T 2721] is stood in for by ``transformer_blocks``
pre-norm transformer blocks (multi-head self-attention over the T × S/8 × S/8 spatio-temporal
tokens, MLP ratio 2, no position embedding: the convolutions before them carry position, as in
convolutional vision transformers) between the last pooling and the temporal pooling [ours: the
SSMTL++ block design is not in the seeds]; ``paper``: 2 blocks, 4 heads; ``tiny``: 1 block, 2
heads. Output: w × S/8 × S/8 features.

**Tasks** (the ``tasks`` argument; loss weights 1, S Eq. 5, L129-133):

* ``"arrow"`` -- arrow of time (S L103-109, Eq. 1): the 2t + 1 frames forward (class 0) or
  reversed (class 1); cross-entropy. Score: p(backward) of the forward cube (S L139-141).
* ``"irregularity"`` -- motion irregularity (S L111-115, Eq. 2): consecutive frames (class 0) or
  intermittent ones: frame i kept, then t previous and t next frames chosen with random gaps in
  {1, 2, 3, 4} (class 1) [ours: at least one gap ≥ 2, so an intermittent sample always differs
  from the consecutive one]. Score: p(intermittent) of the consecutive cube (S L139-141).
* ``"middle"`` -- middle box prediction (S L117-121, Eq. 3): the 2t crops without frame i predict
  the crop of frame i; L1 loss. Decoder (S L97): as many ×2 nearest upsamplings as poolings (3) and
  as many 3×3 2D convs as 3D convs (6), the last with C filters [ours: sigmoid output, batch norm
  and ReLU after the others]. Score: mean absolute error (S L139-141).
* ``"jigsaw"`` -- an SSMTL++ addition [ours, see below]: every frame of the 2t + 1 cube is cut into
  2 × 2 tiles shuffled by one of the 24 permutations (the same for all frames; identity with
  probability 1/2, otherwise one of the other 23), and the head classifies the permutation. Score:
  1 − p(identity) of the unshuffled cube.
* ``"distill"`` (only with ``distill_dim > 0``; off by default and in smoke runs) -- knowledge
  distillation (S L123-127, Eq. 4): the head regresses ``batch["teacher"]`` (N × distill_dim,
  e.g. a detector's class probabilities), L1, weight ``distill_weight`` = 0.2 (S L167: λ = 0.2 on
  Avenue and ShanghaiTech). The teacher outputs are the pipeline's to provide: a run without a
  detector's features cannot use it. Score: mean absolute difference (S Eq. 6).

Classification heads (S L99): 2D conv with 32 filters (``tiny``: 8) + batch norm + ReLU [ours], 2×2
max-pooling, a fully connected layer with 2 units (24 for the jigsaw head).

Which proxy tasks SSMTL++v2 uses is not in the seeds (the thesis says only "new sets of proxy
tasks"). The default ``tasks`` are SSMTL's three self-supervised tasks plus a jigsaw task -- a
self-supervised task that needs no teacher network; spatio-temporal jigsaw puzzles are a proxy
task of later object-centric work (Wang et al., ECCV 2022) and, as we recall the SSMTL++ paper
(not in the seeds), one of the tasks it studies. Pass ``tasks=("arrow", "irregularity",
"middle")`` for plain SSMTL.

**Object score** (S L135-141, Eq. 6): the average of the task scores above. Frame scores (S L143):
object scores re-assembled into a pixel map, 3D mean filter, frame score = max of the map,
temporal Gaussian filter -- done by the object runner (:attr:`ObjectHost.frame_filter`).

**Block placement**: Paper D puts the 3D SSMCTB into SSMTL++v2 without saying where; following the
papers' rule of a block "closer to the output" (Paper C T L2206) we replace the last 3D conv of
the backbone's last stage (``late`` = ``backbone.stage3.3``, w → w); ``middle`` =
``backbone.stage2.3`` and ``early`` = ``backbone.stage1.3`` (extra). Every site is a 3D
convolution, so only 3D blocks fit ("sspcab3d", "ssmctb3d"; :attr:`SSMTLPlusPlus.block_kinds`;
``replace_layer`` refuses a 2D block; the object runner builds the 3D form of the run's block for
a 3D convolution). λ (``block_weight``) = 0.1 (Paper D T 2599).

**Schedule** (S L169): Adam, lr 1e-3, 30 epochs, batch 64 (the deep+wide architecture) --
SSMTL's; SSMTL++'s own values are not in the seeds. ``tiny``: 10 epochs.
"""

from __future__ import annotations

import itertools
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vadlib.models.layers import conv_bn_relu, double_conv_bn_relu
from vadlib.models.object_hosts import HostContext, ObjectHost, Schedule
from vadlib.models.registry import register_host

__all__ = [
    "DEFAULT_TASKS",
    "MAX_GAP",
    "PERMUTATIONS",
    "SIZES",
    "TASKS",
    "T_HALF",
    "WIDTHS",
    "Backbone3d",
    "SSMTLPlusPlus",
    "intermittent_indices",
    "jigsaw",
]

SIZES = ("tiny", "paper")
#: (stage-1 width, stage-2/3 width, head width, transformer blocks, heads) per size
WIDTHS = {"paper": (32, 64, 32, 2, 4), "tiny": (8, 16, 8, 1, 2)}
TASKS = ("arrow", "irregularity", "middle", "jigsaw", "distill")
DEFAULT_TASKS = ("arrow", "irregularity", "middle", "jigsaw")
#: t: frames on each side of the centre (S L167)
T_HALF = 3
#: the largest gap of an intermittent sequence (S L111)
MAX_GAP = 4
#: the 24 orders of the 2 × 2 jigsaw tiles; index 0 is the identity
PERMUTATIONS = tuple(itertools.permutations(range(4)))
EPOCHS = {"paper": 30, "tiny": 10}


def intermittent_indices(n: int, centre: int, generator: torch.Generator, t: int = T_HALF,
                         max_gap: int = MAX_GAP) -> Tensor:
    """N × (2t + 1) frame indices of intermittent sequences around ``centre``: frame ``centre``
    kept, t earlier and t later frames reached by random gaps in {1, …, max_gap}, at least one gap
    ≥ 2 per sequence."""
    gaps = torch.randint(1, max_gap + 1, (n, 2 * t), generator=generator)
    regular = (gaps == 1).all(1)
    if regular.any():  # force one gap >= 2 where all were 1
        pos = torch.randint(0, 2 * t, (int(regular.sum()),), generator=generator)
        gaps[regular, pos] = torch.randint(2, max_gap + 1, (int(regular.sum()),), generator=generator)
    before = centre - gaps[:, :t].cumsum(1).flip(1)
    after = centre + gaps[:, t:].cumsum(1)
    return torch.cat((before, torch.full((n, 1), centre), after), 1)


def jigsaw(cube: Tensor, perm: Tensor) -> Tensor:
    """Shuffle the 2 × 2 tiles of every frame of ``cube`` (N×T×C×S×S, S even) by
    ``PERMUTATIONS[perm[k]]`` for object k (tile j of the output is tile perm(j) of the input)."""
    n, t, c, s, _ = cube.shape
    h = s // 2
    tiles = cube.reshape(n, t, c, 2, h, 2, h).permute(0, 3, 5, 1, 2, 4, 6).reshape(n, 4, t, c, h, h)
    order = torch.tensor(PERMUTATIONS, device=cube.device)[perm.to(cube.device)]     # N × 4
    tiles = tiles[torch.arange(n, device=cube.device)[:, None], order]
    return tiles.reshape(n, 2, 2, t, c, h, h).permute(0, 3, 4, 1, 5, 2, 6).reshape(n, t, c, s, s)


class _TokenBlock(nn.Module):
    """Pre-norm transformer block: x + MHSA(LN(x)), then x + MLP(LN(x)) (GELU, ratio 2)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        y = self.norm1(x)
        x = x + self.attention(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class Backbone3d(nn.Module):
    """Shared 3D CNN + transformer blocks: N×C×T×S×S -> N×w×S/8×S/8 (module docstring)."""

    def __init__(self, c_in: int, w1: int, w2: int, blocks: int, heads: int):
        super().__init__()
        self.stage1 = double_conv_bn_relu(c_in, w1, dims=3)
        self.stage2 = double_conv_bn_relu(w1, w2, dims=3)
        self.stage3 = double_conv_bn_relu(w2, w2, dims=3)
        self.transformer = nn.Sequential(*(_TokenBlock(w2, heads) for _ in range(blocks)))

    def forward(self, x: Tensor) -> Tensor:
        for stage in (self.stage1, self.stage2, self.stage3):
            x = F.max_pool3d(stage(x), (1, 2, 2))
        n, c, t, h, w = x.shape
        tokens = self.transformer(x.flatten(2).transpose(1, 2))           # N × (T·h·w) × c
        x = tokens.transpose(1, 2).reshape(n, c, t, h, w)
        return x.amax(dim=2)                                               # global temporal pooling


class _ClassHead(nn.Module):
    def __init__(self, c_in: int, width: int, side: int, classes: int):
        super().__init__()
        self.conv = nn.Sequential(*conv_bn_relu(c_in, width))
        self.fc = nn.Linear(width * max(side // 2, 1) ** 2, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        return self.fc((F.max_pool2d(x, 2) if x.shape[-1] >= 2 else x).flatten(1))


class _MiddleDecoder(nn.Module):
    def __init__(self, w1: int, w2: int, c_out: int):
        super().__init__()
        self.stage3 = nn.Sequential(*conv_bn_relu(w2, w2), *conv_bn_relu(w2, w2))
        self.stage2 = nn.Sequential(*conv_bn_relu(w2, w1), *conv_bn_relu(w1, w1))
        self.stage1 = nn.Sequential(*conv_bn_relu(w1, w1), nn.Conv2d(w1, c_out, 3, padding=1), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        for stage in (self.stage3, self.stage2, self.stage1):
            x = stage(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return x


@register_host
class SSMTLPlusPlus(ObjectHost):
    """SSMTL++ (Bărbălău et al., CVIU 2023) on SSMTL's tasks (Georgescu et al., CVPR 2021) as an
    :class:`ObjectHost` (see the module docstring).

    ``SSMTLPlusPlus(size="tiny" | "paper", in_channels=3, seed=0, *, tasks=DEFAULT_TASKS,
    transformer_blocks=None, distill_dim=0, distill_weight=0.2)``; ``transformer_blocks`` None =
    the size's (2 paper, 1 tiny; 0 gives SSMTL's pure 3D CNN); ``distill_dim > 0`` adds the
    distillation task (batches then carry ``"teacher"``, N × distill_dim). ``seed`` seeds the
    weights and the task samples (the global torch generator is left untouched).
    """

    name = "ssmtl"
    label = "Bărbălău et al. (SSMTL++)"
    window = 2 * T_HALF * MAX_GAP + 1
    needs_flow = False
    block_positions: ClassVar[dict[str, tuple[str, ...]]] = {
        "early": ("backbone.stage1.3",),
        "middle": ("backbone.stage2.3",),
        "late": ("backbone.stage3.3",),
    }
    default_position = "late"
    block_weight = 0.1  # Paper D T 2599
    #: block kinds this host takes: every site is a 3D convolution, so a block placed there is the
    #: 3D form ("sspcab" / "ssmctb" name the family; replace_layer refuses a 2D block)
    block_kinds = ("sspcab3d", "ssmctb3d")

    def __init__(self, size: str = "tiny", in_channels: int = 3, seed: int = 0, *,
                 tasks: tuple[str, ...] | list[str] = DEFAULT_TASKS,
                 transformer_blocks: int | None = None, distill_dim: int = 0,
                 distill_weight: float = 0.2):
        super().__init__(size, in_channels, seed)
        tasks = tuple(tasks)
        unknown = [t for t in tasks if t not in TASKS or t == "distill"]
        if unknown or not tasks:
            raise ValueError(f"tasks must be a non-empty subset of {', '.join(DEFAULT_TASKS)} "
                             f"(distillation: distill_dim > 0), got {tasks!r}")
        if distill_dim < 0:
            raise ValueError(f"distill_dim must be >= 0, got {distill_dim!r}")
        self.tasks = tasks + (("distill",) if distill_dim > 0 else ())
        self.distill_dim, self.distill_weight = int(distill_dim), float(distill_weight)
        side = self.side
        if side % 8:
            raise ValueError(f"crop side must be a multiple of 8, got {side}")
        w1, w2, wh, blocks, heads = WIDTHS[size]
        blocks = blocks if transformer_blocks is None else int(transformer_blocks)
        s = side // 8
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.backbone = Backbone3d(in_channels, w1, w2, blocks, heads)
            self.heads = nn.ModuleDict()
            for task, classes in (("arrow", 2), ("irregularity", 2), ("jigsaw", len(PERMUTATIONS))):
                if task in self.tasks:
                    self.heads[task] = _ClassHead(w2, wh, s, classes)
            if "middle" in self.tasks:
                self.heads["middle"] = _MiddleDecoder(w1, w2, in_channels)
            if self.distill_dim:
                self.heads["distill"] = _ClassHead(w2, wh, s, self.distill_dim)
        self._draws = 0

    # ---------------------------------------------------------------- inputs
    def _generator(self) -> torch.Generator:
        self._draws += 1
        return torch.Generator().manual_seed(self.seed * 1_000_003 + self._draws)

    def _features(self, cube: Tensor) -> Tensor:
        """Backbone features of N×T×C×S×S cubes."""
        return self.backbone(cube.transpose(1, 2))

    def _centre(self, cube: Tensor) -> Tensor:
        c = self.window // 2
        return cube[:, c - T_HALF:c + T_HALF + 1]

    def _middle_input(self, regular: Tensor) -> tuple[Tensor, Tensor]:
        keep = [j for j in range(2 * T_HALF + 1) if j != T_HALF]
        return regular[:, keep], regular[:, T_HALF]

    def _teacher(self, batch: dict, n: int) -> Tensor:
        teacher = batch.get("teacher")
        if not isinstance(teacher, Tensor) or tuple(teacher.shape) != (n, self.distill_dim):
            raise ValueError(f"the distillation task needs batch['teacher'] of shape "
                             f"{(n, self.distill_dim)}, got {None if teacher is None else tuple(teacher.shape)}")
        return teacher

    # ---------------------------------------------------------------- host interface
    def training_loss(self, batch: dict) -> tuple[Tensor, dict[str, float]]:
        """Σ of the task losses (cross-entropy; L1 for the middle box; distill_weight × L1 for
        distillation) on the samples each task generates from the normal objects."""
        cube = self.check_batch(batch)["appearance"]
        n = cube.shape[0]
        g = self._generator()
        regular = self._centre(cube)
        samples, labels_of = [regular], {}
        ones, zeros = torch.ones(n, dtype=torch.long), torch.zeros(n, dtype=torch.long)
        if "arrow" in self.tasks:
            samples.append(regular.flip(1))
        if "irregularity" in self.tasks:
            idx = intermittent_indices(n, self.window // 2, g).to(cube.device)
            samples.append(cube[torch.arange(n, device=cube.device)[:, None], idx])
        if "jigsaw" in self.tasks:
            identity = torch.rand(n, generator=g) < 0.5
            perm = torch.where(identity, torch.zeros(n, dtype=torch.long),
                               torch.randint(1, len(PERMUTATIONS), (n,), generator=g))
            samples.append(jigsaw(regular, perm))
            labels_of["jigsaw"] = perm
        features = self._features(torch.cat(samples)).split(n)
        f_regular, rest = features[0], list(features[1:])
        loss = cube.new_zeros(())
        logs: dict[str, float] = {}

        def add(task: str, value: Tensor, weight: float = 1.0) -> None:
            nonlocal loss
            loss = loss + weight * value
            logs[task] = float(value.detach())

        dev = cube.device
        if "arrow" in self.tasks:
            logits = self.heads["arrow"](torch.cat((f_regular, rest.pop(0))))
            add("arrow", F.cross_entropy(logits, torch.cat((zeros, ones)).to(dev)))
        if "irregularity" in self.tasks:
            logits = self.heads["irregularity"](torch.cat((f_regular, rest.pop(0))))
            add("irregularity", F.cross_entropy(logits, torch.cat((zeros, ones)).to(dev)))
        if "jigsaw" in self.tasks:
            add("jigsaw", F.cross_entropy(self.heads["jigsaw"](rest.pop(0)), labels_of["jigsaw"].to(dev)))
        if "middle" in self.tasks:
            frames, target = self._middle_input(regular)
            add("middle", F.l1_loss(self.heads["middle"](self._features(frames)), target))
        if "distill" in self.tasks:
            add("distill", F.l1_loss(self.heads["distill"](f_regular), self._teacher(batch, n)),
                self.distill_weight)
        return loss, logs

    @torch.no_grad()
    def task_scores(self, batch: dict) -> dict[str, Tensor]:
        """Each task's anomaly score of each object (N each), in eval mode (S Eq. 6)."""
        cube = self.check_batch(batch)["appearance"]
        regular = self._centre(cube)
        was_training = self.training
        self.eval()
        try:
            features = self._features(regular)
            scores = {}
            if "arrow" in self.tasks:
                scores["arrow"] = torch.softmax(self.heads["arrow"](features), 1)[:, 1]
            if "irregularity" in self.tasks:
                scores["irregularity"] = torch.softmax(self.heads["irregularity"](features), 1)[:, 1]
            if "jigsaw" in self.tasks:
                scores["jigsaw"] = 1.0 - torch.softmax(self.heads["jigsaw"](features), 1)[:, 0]
            if "middle" in self.tasks:
                frames, target = self._middle_input(regular)
                prediction = self.heads["middle"](self._features(frames))
                scores["middle"] = (prediction - target).abs().flatten(1).mean(1)
            if "distill" in self.tasks:
                teacher = self._teacher(batch, cube.shape[0])
                scores["distill"] = (self.heads["distill"](features) - teacher).abs().mean(1)
        finally:
            self.train(was_training)
        return scores

    @torch.no_grad()
    def object_scores(self, batch: dict) -> Tensor:
        """The average of the task scores (S Eq. 6), N values."""
        return torch.stack(list(self.task_scores(batch).values())).mean(0)

    @classmethod
    def schedule(cls, size: str = "paper") -> Schedule:
        """SSMTL's (S L169): Adam 1e-3, batch 64 (deep+wide), 30 epochs; ``tiny``: 10 epochs."""
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        return Schedule(epochs=EPOCHS[size], batch_size=64, lr=1e-3, optimizer="adam",
                        lr_schedule="multistep",
                        source="Georgescu et al., CVPR 2021 (SSMTL, seed 003 L169): 30 epochs, Adam "
                               "lr 1e-3, batch 64 for the deep+wide 3D CNN; SSMTL++'s values are not "
                               "in the seeds" + (" (size='tiny': 10 epochs, ours)" if size == "tiny" else ""))

    @classmethod
    def schedule_for(cls, ctx: HostContext) -> Schedule:
        return cls.schedule(ctx.size)
