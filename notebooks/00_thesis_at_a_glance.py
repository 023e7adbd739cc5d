# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The thesis at a glance
#
# N. Madan, *Towards Limited Label Learning for Visual Surveillance*, PhD thesis, Aalborg University,
# 2023. Six papers:
#
# | paper | topic | notebook |
# |---|---|---|
# | A | attention-gated HRNet one-stage tracker (MOT16/17) | `01_A_attention_tracker` |
# | B | ThermalSynth: synthetic thermal data, falls into water | `02_B_thermalsynth` |
# | C | SSPCAB: masked convolutional block for anomaly detection | `03_C_sspcab` |
# | D | SSMCTB: its transformer successor, 2D and 3D | `04_D_ssmctb` |
# | E | socially unacceptable trajectories for video anomaly detection | `05_E_trajectories` |
# | F | curriculum masking for masked autoencoders (CM-MAE) | `06_F_curriculum_mae` |
#
# This notebook shows every numeric table the thesis prints, as transcribed once in
# `vadlib/reported/`, and audits the thesis's own arithmetic: every printed mean and overall value is
# recomputed from the cells it summarises, every improvement quoted in the text is recomputed from
# the tables, and every table the overview chapters copy from a paper is compared cell by cell.

# %% tags=["parameters"]
profile = "smoke"  # smoke | quick | full (vadlib.profiles)
data_root = None  # None: $VADLIB_DATA or ~/.cache/vadlib/data
device = "auto"  # auto | cpu | cuda
seed = 0
overrides = {}  # any other profile knob, e.g. {"max_steps": 5}

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from vadlib import notebook, reported

nb = notebook.setup("00_thesis_at_a_glance", profile=profile, data_root=data_root, device=device, seed=seed,
                    overrides=overrides)
print(nb.banner())

# %% [markdown]
# ## The tables of the thesis
#
# Each table's id, paper, caption and the lines of the seed text it was transcribed from. Tables the
# overview chapters repeat verbatim (`same as`) are loaded from their source table.

# %%
catalogue = reported.index()[["table_id", "paper", "caption", "seed", "lines", "unit", "same_as"]]
display(nb.table("thesis_tables", catalogue, caption="Every numeric table of the thesis, as transcribed."))

# %% [markdown]
# Every table, as printed (`-`: not reported; empty: blank in the print). Each paper's notebook
# saves its own tables under `figures/tables/` with the reproduced numbers beside them.

# %%
for table_id in reported.table_ids():
    meta = reported.info(table_id)
    display(Markdown(f"**Table {table_id}** (Paper {meta['paper']}, lines {meta['lines']}). {meta['caption']}"))
    display(reported.load_table(table_id))

# %% [markdown]
# ## Auditing the thesis's own arithmetic
#
# `exact`: the recomputed value, rounded to the printed precision, is the printed value.
# `rounding`: off by no more than the rounding of the printed inputs can explain.
# `erratum`: off by more — a typo, a copy error or a wrong mean in the thesis.

# %%
audit = reported.audit()
display(nb.table("thesis_audit", audit, caption="Every recomputed number of the thesis and its verdict."))

# %%
counts = pd.crosstab(audit.paper, audit.verdict).reindex(columns=list(reported.VERDICTS), fill_value=0)
fig, ax = plt.subplots(figsize=(6, 3))
counts.plot.barh(stacked=True, ax=ax, color=["#009E73", "#E69F00", "#D55E00"])
ax.set_xlabel("checked numbers")
ax.set_ylabel("paper")
ax.set_title("Audit of the thesis's arithmetic")
ax.invert_yaxis()
nb.figure(fig, "audit_verdicts", paper="thesis")
plt.show()

# %% [markdown]
# ## Errata
#
# The numbers whose recomputation disagrees with the print by more than rounding. Each row names
# the seed lines to read; the paper notebooks discuss the ones that matter for reproduction.

# %%
errata = reported.errata()
display(nb.table("thesis_errata", errata[["id", "where", "printed", "recomputed", "lines", "quote", "note"]],
                 caption="Errata found by the audit."))

# %% [markdown]
# ## Regression check
#
# Table shapes, cell sums and audit verdicts over the whole thesis, checked by nbval.

# %%
# NBVAL_CHECK_OUTPUT
print(reported.summary())
# Expected output:
# 2.1     7 rows x  8 numeric columns, cell sum 30004.80
# 3.1     1 rows x  5 numeric columns, cell sum 4.68
# 4.1     2 rows x  2 numeric columns, cell sum 207.90
# 5.1     8 rows x  3 numeric columns, cell sum 1304.36
# 5.2     3 rows x  2 numeric columns, cell sum 365.40
# 5.3    16 rows x 15 numeric columns, cell sum 22053.10
# 5.4    17 rows x  8 numeric columns, cell sum 8318.04
# 5.5     7 rows x  2 numeric columns, cell sum 1088.10
# A.1     3 rows x  3 numeric columns, cell sum 1083.60
# A.2     7 rows x  8 numeric columns, cell sum 30004.80
# A.3     3 rows x  2 numeric columns, cell sum 452.80
# A.4     3 rows x  2 numeric columns, cell sum 458.10
# A.5     4 rows x  2 numeric columns, cell sum 614.70
# B.1     2 rows x  5 numeric columns, cell sum 4.68
# B.2     2 rows x  3 numeric columns, cell sum 536.58
# B.3     2 rows x  4 numeric columns, cell sum 664.00
# C.1    18 rows x  4 numeric columns, cell sum 4869.34
# C.2    16 rows x 10 numeric columns, cell sum 14631.50
# C.3    27 rows x  8 numeric columns, cell sum 7449.83
# C.4     8 rows x  4 numeric columns, cell sum 2195.39
# C.5     3 rows x  4 numeric columns, cell sum 828.35
# C.6     2 rows x  3 numeric columns, cell sum 35.20
# C.S1    8 rows x  4 numeric columns, cell sum 2195.39
# C.S2    3 rows x  4 numeric columns, cell sum 828.35
# C.S3    2 rows x  3 numeric columns, cell sum 35.20
# D.1     7 rows x  1 numeric columns, cell sum 58.00
# D.2    34 rows x  1 numeric columns, cell sum 2884.20
# D.3    16 rows x 15 numeric columns, cell sum 22053.10
# D.4     8 rows x  3 numeric columns, cell sum 1304.36
# D.5    35 rows x  8 numeric columns, cell sum 11566.41
# D.6     3 rows x  2 numeric columns, cell sum 365.40
# D.7     3 rows x  4 numeric columns, cell sum 65.00
# D.8    17 rows x  1 numeric columns, cell sum 1442.00
# D.9     4 rows x  1 numeric columns, cell sum 340.30
# D.10   16 rows x  1 numeric columns, cell sum 1368.70
# D.11    4 rows x  1 numeric columns, cell sum 339.70
# D.12    7 rows x  1 numeric columns, cell sum 594.60
# E.1    15 rows x  2 numeric columns, cell sum 1860.80
# E.2     2 rows x  2 numeric columns, cell sum 317.50
# F.1     3 rows x  2 numeric columns, cell sum 295.80
# F.2     3 rows x  2 numeric columns, cell sum 296.40
# F.3     3 rows x  2 numeric columns, cell sum 295.30
# F.4     2 rows x  2 numeric columns, cell sum 207.90
# F.5     8 rows x  2 numeric columns, cell sum 775.00
# F.6     4 rows x  2 numeric columns, cell sum 393.00
# audit: 107 exact, 6 rounding, 6 erratum
