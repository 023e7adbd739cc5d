"""Paper D (notebook 04): SSMCTB's image, volume and video tables."""

from __future__ import annotations

from vadlib import image_ad, video_ad


def plan(settings) -> list:
    return image_ad.plan_ssmctb(settings) + video_ad.plan_ssmctb_video(settings)
