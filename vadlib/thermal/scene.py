"""The harbour view every ThermalSynth stage shares: regions, crop and pinhole camera.

Defined in :mod:`vadlib.data.harbour` (see its docstring for the regions and the camera), which
the fall test sets' loader shares; the names are re-exported here and from :mod:`vadlib.thermal`.
"""

from vadlib.data.harbour import FRAME_SHAPE, HARBOUR_VIEW, HarbourView, PinholeCamera, polygon_mask

__all__ = ["FRAME_SHAPE", "HARBOUR_VIEW", "HarbourView", "PinholeCamera", "polygon_mask"]
