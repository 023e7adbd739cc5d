# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Paper F — CM-MAE: curriculum masking for masked autoencoders
#
# N. Madan, N.-C. Ristea, R. T. Ionescu, K. Nasrollahi, T. B. Moeslund, *CM-MAE: Curriculum Masking
# for learning Masking Autoencoders* (technical report, 2023); thesis Paper F and Chapter 4. A learnable
# masking module first helps and then opposes the masked autoencoder on a schedule, producing masks
# of increasing difficulty. Representations are evaluated by k-NN on a 100-class ImageNet subset.

# %% tags=["parameters"]
profile = "smoke"  # smoke | quick | full (vadlib.profiles)
data_root = None  # None: $VADLIB_DATA or ~/.cache/vadlib/data
device = "auto"  # auto | cpu | cuda
seed = 0
overrides = {}  # any other profile knob, e.g. {"max_steps": 5}

# %%
from IPython.display import display

from vadlib import notebook, plots, reported
from vadlib.papers import f_cm_mae

nb = notebook.setup("06_F_curriculum_mae", profile=profile, data_root=data_root, device=device, seed=seed,
                    overrides=overrides)
print(nb.banner())

# %% [markdown]
# ## The data
#
# This paper uses the 100-class ImageNet subset (under smoke: a small class-structured image folder in the same layout). Under the smoke profile every dataset is a synthetic twin written in the
# official on-disk layout (`vadlib data synth`) and read by the same loader as the real set; under
# quick and full it is the real dataset under the data root (`vadlib data status` says what is
# there, `vadlib data fetch NAME` how to get it).

# %%
import matplotlib.pyplot as plt

from vadlib.data import preview

for name in ['imagenet100']:
    root = nb.dataset(name)
    preview.gallery(name, root, title=f"{name} ({nb.settings.data_source})")
    plt.show()

# %% [markdown]
# ## The curriculum
#
# The masking module's progressive-reconstruction weight per epoch as the thesis states it: +1
# (the module helps the MAE) for the first η epochs, then negative (it opposes the MAE), starting
# at −0.001 and doubling every η epochs; in the "updated settings" the module trains only in the
# first 20 % of each interval. A run shorter than the paper's 200 epochs (smoke, quick) maps its
# steps onto those 200 epochs, so every stage happens, compressed.

# %%
from vadlib.models.curriculum_masking import CurriculumSchedule

fig = plots.curriculum_figure({"thesis, η = 50": CurriculumSchedule.thesis(), "η = 30": CurriculumSchedule.thesis(eta=30),
                               "updated settings": CurriculumSchedule.updated_settings()}, f_cm_mae.PAPER_EPOCHS)
nb.figure(fig, "F_curriculum_weights")
plt.show()

# %% [markdown]
# ## Tables F.1–F.3 — same vs alternate cycles, re-initialisation, update interval
#
# MAE and CM-MAE pre-trained alike (ViT-B/16 at 224 in full, 200 epochs on the ImageNet-100 subset;
# a tiny ViT on the 32-pixel twin under smoke), then classified by their 5 nearest training images
# in the frozen encoder's mean-pooled features. "Acc@5" is the thesis's: right when any of the 5
# neighbours has the label (not the usual top-5). The CM-MAE rows use η = 50 and λ_div = 2 (Table
# F.6's λ_div = 2 row prints exactly their 38.1 / 60.4); rows that name the same configuration in
# different tables are one cached run. Under smoke the twin is easy enough for any features to
# classify it: the numbers test the pipeline, not the paper.
#
# Augmentation: the thesis names none and says CM-MAE follows MAE, so pre-training uses MAE's
# recipe (RandomResizedCrop with scale 0.2–1 and bicubic interpolation, then a horizontal flip,
# drawn from the run's seeded generator); every evaluation (k-NN, linear probe, the images shown
# below) uses the fixed short-side resize + centre crop. The linear probe each run also computes
# (a logistic regression on the same frozen features of all training images; not in the thesis)
# is shown beside the k-NN accuracies after Table F.4.

# %%
for table_id in ("F.1", "F.2", "F.3"):
    display(nb.table(table_id, reproduced=f_cm_mae.table(nb.settings, table_id)))

# %% [markdown]
# ## Table F.4 — updated settings (and Table 4.1)
#
# The final method: the module trained only in the first 20 % of each curriculum interval, λ_div =
# 5, η = 100 (η is not stated for these settings; our assumption).

# %%
f4 = f_cm_mae.table(nb.settings, "F.4")
display(nb.table("F.4", reproduced=f4))

# %%
display(nb.table("4.1", reproduced=f_cm_mae.table(nb.settings, "4.1")))

# %%
# the linear probe beside k-NN (not printed in the thesis, so not saved with the tables)
for table_id in ("F.1", "F.2", "F.3", "F.4"):
    print(table_id)
    print(f_cm_mae.table(nb.settings, table_id, probe=True).round(2).to_string(index=False))

# %% [markdown]
# ## Tables F.5 and F.6 — ablations of the masking losses
#
# F.5: the easy task (the module always helps) with the Gaussian binarisation loss alone at
# λ_GL = 1, 2, 5, 10, then with the mask-ratio KL at λ_KL = 1, 2, 5, 10. F.6: the curriculum with
# λ_div = 1, 2, 5, 10. Smoke runs the first rows only (`ablation_limit`).

# %%
for table_id in ("F.5", "F.6"):
    display(nb.table(table_id, reproduced=f_cm_mae.table(nb.settings, table_id)))

# %% [markdown]
# ### The Gaussian loss's scale against the thesis's magnitude remark
#
# The thesis prints L_GL as the normal density, 1/(σ√2π)·exp(−(z − μ)²/2σ²) (Eq. F.2), and also
# remarks that at λ_GL = λ_KL = 10 "the magnitudes of the Progressive loss, Gaussian loss, and KL
# loss become nearly equal". The two statements disagree: the cell below measures the weighted
# terms at initialisation on the twin (8 training images, tiny model, seed 0). With the printed
# density, 10·L_GL is about 9× the reconstruction loss; with the reference code's scale σ√2π
# (`gauss_scale="code"`, 11.05× smaller) the three terms are nearly equal, as the remark says. We
# keep the printed formula as the default (the seed states it; the remark is an observation) and
# expose `gauss_scale="code"` as a model option: under the default, λ_GL = 10 weighs binarisation
# about 11× more than the thesis's tuning implies, which matters for Table F.5's λ_GL sweep.

# %%
from vadlib.runs.pretraining import loss_magnitudes, run_config

magnitudes = loss_magnitudes(run_config(nb.settings, f_cm_mae.TABLE_ROWS["F.5"][7][1]))
print("weighted CMM loss terms at init (λ_GL = λ_KL = 10, λ_div = 2):")
print("  " + ", ".join(f"{name} {value:.3g}" for name, value in magnitudes.items()))

# %% [markdown]
# ## Training curves
#
# Per step: the MAE's loss, the share of patches the masking module scores below ½ (1 − the mean
# score; the MAE itself always sees the top K = 25 %; the baseline's random mask is 75 %), the
# curriculum weight, and the k-NN
# accuracy at the evaluation points, for the baseline, the thesis curriculum and the updated
# settings.

# %%
specs = {"MAE": f_cm_mae.MAE_BASELINE, "CM-MAE (η = 50)": f_cm_mae.SAME_CYCLE,
         "CM-MAE (updated)": f_cm_mae.UPDATED_SETTINGS}
history = f_cm_mae.curves(nb.settings, specs)
fig = plots.training_curves_figure(history)
nb.figure(fig, "F_training_curves")
plt.show()

# %% [markdown]
# ## Masks and reconstructions (Figs. F.2–F.5)
#
# F.2: the reconstruction after the first epoch with λ_prog fixed at 1 (the module helps) and at
# −0.001, −0.002, −0.1 (it opposes): four CM-MAE runs stopped after the steps of the first of the
# 200 paper epochs (under smoke: one step, so the panels test the pipeline). Then, with an id of
# our own (not a printed figure), the masks along the η = 50 curriculum run. F.3: without the diversity loss the module tends to give every image the
# same mask (the mean pairwise mask distance says how different they are). The thesis contradicts
# itself here: its text (line 3446) calls the diversity-loss figure "Figure F.4", while the
# captions give that content to Fig. F.3 and make F.4 the hard task without the KL loss; we follow
# the captions. F.4 / F.5: without the
# mask-ratio KL, the hard (opposing) task drifts to masking everything and the easy task stays
# below 75 %: the masked-fraction curves show it.

# %%
from vadlib.plots.masks import first_epoch_figure

first_epoch = f_cm_mae.first_epoch_masks(nb.settings)
fig = first_epoch_figure({f"λ_prog = {lam:g}": kept for lam, kept in first_epoch.items()},
                         title="after the first epoch, per progressive-loss factor (Fig. F.2)")
nb.figure(fig, "F.2_first_epoch_lambda_prog")
plt.show()

# %%
curriculum_masks = f_cm_mae.masks(nb.settings, f_cm_mae.SAME_CYCLE)
fig = plots.masks_figure(curriculum_masks, title="CM-MAE (η = 50): masks and reconstructions along training")
nb.figure(fig, "F_masks_over_curriculum")
plt.show()

# %%
without_div = f_cm_mae.masks(nb.settings, f_cm_mae.FIGURE_RUNS["no_div"])
print(f"mean pairwise mask distance at the end: without L_div {plots.mask_diversity(without_div):.3f}, "
      f"with L_div (λ = 2) {plots.mask_diversity(curriculum_masks):.3f}")
fig = plots.masks_figure(without_div, [len(without_div["epoch"]) - 1], title="without L_div (Fig. F.3, left)")
nb.figure(fig, "F.3_masks_without_div")
plt.show()

# %%
no_kl = f_cm_mae.curves(nb.settings, {"hard task, no L_KL (Fig. F.4)": f_cm_mae.FIGURE_RUNS["hard_no_kl"],
                                      "easy task, no L_KL (Fig. F.5)": f_cm_mae.FIGURE_RUNS["easy_no_kl"],
                                      "easy task, L_KL λ = 10": f_cm_mae.FIGURE_RUNS["easy_kl"]})
fig = plots.masked_fraction_figure(no_kl)
nb.figure(fig, "F.4_F.5_masked_fraction")
plt.show()

# %% [markdown]
# ### Mask viewer
#
# Pick an image and an evaluation point of the CM-MAE run (static under papermill).

# %%
plots.show(plots.mask_viewer(curriculum_masks))

# %% [markdown]
# ## Transcription check
#
# Every table above is the thesis's print, transcribed once in `vadlib/reported/`. The cell below is a
# regression check run by nbval: the shape and cell sum of each table, and the verdicts of the
# arithmetic audit for this paper (notebook `00_thesis_at_a_glance` lists them all).

# %%
# NBVAL_CHECK_OUTPUT
print(reported.summary("F"))
# Expected output:
# 4.1     2 rows x  2 numeric columns, cell sum 207.90
# F.1     3 rows x  2 numeric columns, cell sum 295.80
# F.2     3 rows x  2 numeric columns, cell sum 296.40
# F.3     3 rows x  2 numeric columns, cell sum 295.30
# F.4     2 rows x  2 numeric columns, cell sum 207.90
# F.5     8 rows x  2 numeric columns, cell sum 775.00
# F.6     4 rows x  2 numeric columns, cell sum 393.00
# audit: 10 exact, 1 rounding, 1 erratum
