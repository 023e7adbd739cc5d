"""ThermalSynth stage 4: post-processing and screen compositing (Paper B §3.4, Eq. B.5).

Paper B (thesis seed L1773-L1802; Fig. B.3 caption L1730; spec ``paper_A_B.md`` §2.3.4) takes
three effects of Bhatia & Lacy's infrared-sensor stack "based on Kane" and composites the result:

1. **Gaussian blur** with a 3 × 3 kernel on "the area around the synthetic humans" (the rendered
   edges are too sharp). σ is not given; ``sigma=0`` lets OpenCV derive it from the kernel size
   (σ = 0.3 ((3 - 1) 0.5 - 1) + 0.8 = 0.8).
2. **Random noise**: uniformly distributed random numbers, linearly interpolated with the
   rendered foreground value: ``F' = (1 - t) F + t U``. t and the range of U are not given: we use
   t = 0.1 and U ~ U(0, 255) (the whole 8-bit range, i.e. U(0, 1) on Unity's display scale), and
   apply it only to the figure -- the pixels the blurred foreground covers (F > 0) -- since the
   paper adds it "to our rendered figures" and noise elsewhere would brighten the whole
   background through the screen blend.
3. **Compression artefacts**: encode the foreground as JPEG with quality 5 (0-100) and decode it
   (block-DCT mosquito noise and block artefacts). We use OpenCV's libjpeg codec
   (``cv2.imencode`` / ``cv2.imdecode``) on the whole 8-bit foreground frame, so the 8 × 8 blocks sit
   on the frame grid as in a camera. At quality 5 the DC quantiser step is 160, so an all-black
   block comes back as grey level 8 (-1024 / 160 rounds to -6, i.e. 128 - 120): encoded whole, the
   black around the person would turn grey and the screen blend would lift the *entire*
   background by up to 8 levels. The paper uses the rendered people's segmentation masks "in the
   post-processing step to better blend the synthetic foreground with the background" (L1732);
   we therefore keep the decoded foreground only on the figure's support -- the pixels the blurred
   figure covers, dilated by ``mask_margin`` = 1 px so that some ringing around the silhouette
   survives -- and set it to 0 elsewhere (``PostProcess(jpeg_mask=False)`` keeps the whole frame).
4. **Compositing in screen mode**, Eq. B.5 for 8-bit images:
   ``C = 255 - (255 - F)(255 - B) / 255`` with B the real background and F the synthetic
   foreground. F = 0 leaves B unchanged, so pixels without a person need no mask. We round C to
   the nearest integer (half to even).

Order (the Fig. B.3 strip, left to right): shader -> blur -> noise -> JPEG (kept on the figure's
support) -> screen composite (:func:`composite` blends only the foreground's box, where F > 0).
The caption's "the final result is the sum of all single instances" is read as this chain.

Every function keeps the shape and dtype of its input (uint8 stays uint8 -- rounded and clipped to
0-255 --, float stays float); the JPEG round trip needs values in 0-255.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["PostProcess", "composite", "gaussian_blur", "jpeg_roundtrip", "screen", "uniform_noise"]

BLUR_KSIZE = 3
JPEG_QUALITY = 5
NOISE_T = 0.1
NOISE_RANGE = (0.0, 255.0)


def _like(values: np.ndarray, dtype) -> np.ndarray:
    """``values`` (float) in the dtype of the input: uint8 rounded and clipped, floats cast."""
    if np.dtype(dtype) == np.uint8:
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return values.astype(dtype, copy=False)


def _check_image(image, name: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3)):
        raise ValueError(f"{name} must be H × W or H × W × 1/3, got shape {image.shape}")
    if image.dtype != np.uint8 and not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"{name} must be uint8 or floating point, got {image.dtype}")
    return image


def gaussian_blur(image: np.ndarray, ksize: int = BLUR_KSIZE, sigma: float = 0.0) -> np.ndarray:
    """``ksize`` × ``ksize`` Gaussian blur (OpenCV, borders reflected); shape and dtype kept."""
    image = _check_image(image)
    if ksize < 1 or ksize % 2 == 0:
        raise ValueError(f"ksize must be a positive odd number, got {ksize}")
    if image.dtype == np.uint8:  # OpenCV keeps uint8 (rounded)
        return cv2.GaussianBlur(image, (ksize, ksize), sigma).reshape(image.shape)
    out = cv2.GaussianBlur(image.astype(np.float32), (ksize, ksize), sigma)
    return out.reshape(image.shape).astype(image.dtype)


def uniform_noise(image: np.ndarray, rng: np.random.Generator | int | None = None, t: float = NOISE_T,
                  low: float = NOISE_RANGE[0], high: float = NOISE_RANGE[1],
                  mask: np.ndarray | None = None) -> np.ndarray:
    """``F' = (1 - t) F + t U`` with U ~ U(low, high) on the pixels of ``mask`` (default: F > 0,
    the figure); other pixels unchanged. Shape and dtype kept."""
    image = _check_image(image)
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must lie in [0, 1], got {t}")
    rng = np.random.default_rng(rng)
    mask = image > 0 if mask is None else np.broadcast_to(np.asarray(mask, bool), image.shape)
    out = image.astype(np.float64)
    u = rng.uniform(low, high, size=int(mask.sum()))
    out[mask] = (1.0 - t) * out[mask] + t * u
    return _like(out, image.dtype)


def jpeg_roundtrip(image: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """Encode as JPEG with ``quality`` (0-100) and decode (OpenCV/libjpeg); deterministic.

    Grayscale H × W (or H × W × 1) and H × W × 3 (RGB order; converted for OpenCV's BGR) are
    accepted; values are rounded and clipped to 0-255 before encoding. Shape and dtype kept.
    """
    image = _check_image(image)
    if not 0 <= quality <= 100:
        raise ValueError(f"quality must lie in 0-100, got {quality}")
    data = _like(image.astype(np.float64), np.uint8) if image.dtype != np.uint8 else image
    colour = data.ndim == 3 and data.shape[2] == 3
    encode = cv2.cvtColor(data, cv2.COLOR_RGB2BGR) if colour else data.reshape(data.shape[:2])
    ok, buffer = cv2.imencode(".jpg", encode, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - libjpeg does not fail on valid 8-bit images
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR if colour else cv2.IMREAD_GRAYSCALE)
    if colour:
        decoded = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    decoded = decoded.reshape(image.shape)
    return decoded if image.dtype == np.uint8 else decoded.astype(image.dtype)


def screen(foreground: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Eq. B.5: ``C = 255 - (255 - F)(255 - B) / 255``.

    Both uint8 -> uint8 (rounded to nearest); otherwise float in 8-bit units (no rounding).
    The two must have the same shape.
    """
    foreground, background = _check_image(foreground, "foreground"), _check_image(background, "background")
    if foreground.shape != background.shape:
        raise ValueError(f"foreground {foreground.shape} and background {background.shape} differ in shape")
    f, b = foreground.astype(np.float64), background.astype(np.float64)
    composite = 255.0 - (255.0 - f) * (255.0 - b) / 255.0
    if foreground.dtype == np.uint8 and background.dtype == np.uint8:
        return _like(composite, np.uint8)
    return composite.astype(np.result_type(foreground.dtype, background.dtype, np.float32))


def composite(foreground: np.ndarray, background: np.ndarray) -> np.ndarray:
    """:func:`screen` of a uint8 foreground onto a uint8 background, computed only inside the
    foreground's bounding box (elsewhere F = 0 and Eq. B.5 gives C = B exactly)."""
    foreground, background = np.asarray(foreground), np.asarray(background)
    if foreground.shape != background.shape:
        raise ValueError(f"foreground {foreground.shape} and background {background.shape} differ in shape")
    out = background.copy()
    rows = np.flatnonzero(foreground.any(axis=tuple(range(1, foreground.ndim))))
    if rows.size:
        cols = np.flatnonzero(foreground.any(axis=0 if foreground.ndim == 2 else (0, 2)))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        out[box] = screen(foreground[box], background[box])
    return out


@dataclass(frozen=True)
class PostProcess:
    """The post-processing chain with its settings; :meth:`__call__` turns a shaded foreground
    (float, 8-bit units, 0 off the figure) into the uint8 foreground F that is composited.
    Set ``blur_ksize=1``, ``noise_t=0`` or ``jpeg_quality=None`` to switch a step off."""

    blur_ksize: int = BLUR_KSIZE
    blur_sigma: float = 0.0
    noise_t: float = NOISE_T
    noise_low: float = NOISE_RANGE[0]
    noise_high: float = NOISE_RANGE[1]
    jpeg_quality: int | None = JPEG_QUALITY
    jpeg_mask: bool = True
    mask_margin: int = 1

    def __call__(self, shaded: np.ndarray, rng: np.random.Generator | int | None = None,
                 steps: list | None = None) -> np.ndarray:
        """Run the chain (``rng``: the noise generator or its seed); if ``steps`` is a list, the
        input and each intermediate image are appended to it (a Fig. B.3 strip)."""
        image = np.asarray(shaded, np.float32)
        if steps is not None:
            steps.append(image.copy())
        if self.blur_ksize > 1:
            image = gaussian_blur(image, self.blur_ksize, self.blur_sigma)
            if steps is not None:
                steps.append(image.copy())
        if self.noise_t > 0:
            image = uniform_noise(image, rng, self.noise_t, self.noise_low, self.noise_high)
            if steps is not None:
                steps.append(image.copy())
        image = _like(image, np.uint8)
        if self.jpeg_quality is not None:
            support = image > 0  # the figure after blur and noise
            if self.mask_margin > 0:
                size = 2 * self.mask_margin + 1
                support = cv2.dilate(support.astype(np.uint8), np.ones((size, size), np.uint8)) > 0
            image = jpeg_roundtrip(image, self.jpeg_quality)
            if self.jpeg_mask:
                image[~support] = 0
            if steps is not None:
                steps.append(image.copy())
        return image
