"""Paper C (notebook 03): SSPCAB's image and video tables."""

from __future__ import annotations

from vadlib import image_ad, video_ad


def plan(settings) -> list:
    return image_ad.plan_sspcab(settings) + video_ad.plan_sspcab_video(settings)
