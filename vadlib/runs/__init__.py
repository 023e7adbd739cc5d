"""How one experiment runs: the Experiment base and its cache (experiment.py), the code units in
every cache key (code.py), the training loop (train.py), cached speed measurements (timing.py),
and one module per family of runs. Nothing here imports vadlib.papers, vadlib.plots or
vadlib.notebook."""
