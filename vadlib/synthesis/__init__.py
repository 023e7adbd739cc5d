"""Self-supervised anomaly synthesis: the artificial anomalies that image hosts train on
(Perlin-noise texture blending for DRAEM, Poisson-blended patches for NSA, cut-and-paste patches and
scars for CutPaste). One module per recipe, each citing its paper."""
