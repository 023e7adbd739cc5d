"""ThermalSynth stage 3: the thermal shader (Paper B Eq. B.1-B.4, Table B.1).

Paper B §3.3 (thesis seed L1736-L1769; overview chapter 3 L594-L606; spec ``paper_A_B.md``
§2.3.3), after Kane, "Simulation of night-vision and infrared sensors" (Game Engine Gems 2):

* Eq. B.1 (Stefan-Boltzmann): ``j* = ε σ T⁴`` with T the absolute temperature (K) and σ the
  Stefan-Boltzmann constant. The paper prints σ = 5.6704 × 10⁻⁸ W m⁻² K⁻⁴; we use the exact SI
  value 5.670374419 × 10⁻⁸ (:data:`SIGMA`; :data:`SIGMA_PAPER` is the printed one -- the two
  change ``p`` by 2 × 10⁻⁵, far below one grey level).
* Table B.1 emissivities ε_m (:data:`EMISSIVITY`): human skin 0.95, cotton 0.95, asphalt 0.95,
  water 0.93, snow 0.90. The generated people are made of skin and cotton only (L1752).
* Eq. B.2: albedo colour -> luminance ``L = 0.2126 R + 0.7152 G + 0.0722 B`` (R, G, B in [0, 1]).
* Eq. B.3: colour emissivity ``ε_c = (1 - L) · 0.15 + 0.84`` (0.84: average emissivity of a white
  surface; 0.15: white-black difference), so ε_c ∈ [0.84, 0.99].
* "The material and color emissivities are then blended using a blend factor of 0.31" and the
  blend goes into Eq. B.1. The direction is not stated; we read ``ε = (1 - 0.31) ε_m + 0.31 ε_c``
  (a lerp from the material towards the colour value; spec [I]).
* Eq. B.4: ``p = j* · G + L_level`` with G = 0.05, level 20 (set by hand for the best blend,
  Fig. B.5). The paper also says the radiation is "mapped to an intensity range between [0,1] so
  it can be displayed by Unity" without giving the mapping. We read ``p`` in 8-bit grey levels
  (0-255), the scale of the screen compositing Eq. B.5 that follows; the alternatives are in
  :func:`shader_range`.

**Contradictions in the thesis, exposed as parameters** (spec §2.9 items 1-2):

1. Temperature: Paper B uses T = 300.5 K (L1752), the overview chapter T = 300.4 K (L594).
   ``temperature_k`` defaults to 300.5 (the paper itself); :data:`TEMPERATURE_K_CHAPTER_3` = 300.4.
   dp/dT = 4 G j*/T ≈ 0.29 grey levels per kelvin, so the 0.1 K difference moves p by 0.03.
2. Emissivity: Table B.1 + the colour blend (L1752-L1764) versus the discussion's "consistent
   value of 0.972 ... applied uniformly to the entire foreground image" (L1866). The default is
   the method section (table + blend); ``uniform_emissivity=0.972`` gives the discussion's variant:
   every foreground pixel gets ε = 0.972, bypassing both the table and the colour blend (our
   reading of "uniformly to the entire foreground"). :data:`VARIANTS` holds the three readings.

**What the stated constants produce** (:func:`shader_range`; printed by
``python -m vadlib.thermal``): with T = 300.5 K and ε between 0.9159 (white albedo) and
0.9624 (black albedo), j* spans 423.5-445.0 W/m² and p spans 41.17-42.25. The 0.972 variant gives
p = 42.47; T = 300.4 K shifts everything by -0.03. On the 8-bit scale every person is therefore an
almost flat silhouette of grey level 41 or 42 (16 % of full scale): the temperature, materials and
clothing colours change p by about one grey level, less than the uniform noise and JPEG steps of
post-processing add (see :mod:`vadlib.thermal.postprocess`). Screen-composited onto a background
of grey level B, the person raises it by p (255 - B) / 255: +41 to +42 on a black background,
+20.5 to +21 on B = 128, 0 on white. Contrast comes from the level L = 20 (and the gain), not
from physics -- the synthetic people "contain the same overall texture from head to toe" (L1868).
If instead p were computed on the [0, 1] display scale it would be ≥ 20 and saturate to white
everywhere; if j* were normalised to [0, 1] first (j*/σT⁴ = ε) p would be 20.05 for every pixel
-- neither fits the paper's figures, hence the 8-bit reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

__all__ = ["EMISSIVITY", "SIGMA", "SIGMA_PAPER", "TEMPERATURE_K", "TEMPERATURE_K_CHAPTER_3",
           "UNIFORM_EMISSIVITY_DISCUSSION", "VARIANTS", "MaterialError", "ThermalShader",
           "blended_emissivity", "colour_emissivity", "luminance", "pixel_value", "radiance",
           "shader_range", "shader_report"]

SIGMA = 5.670374419e-8  # W m^-2 K^-4, exact since the 2019 SI redefinition
SIGMA_PAPER = 5.6704e-8  # as printed in Paper B (L1736) and chapter 3 (L594)
TEMPERATURE_K = 300.5  # Paper B, L1752
TEMPERATURE_K_CHAPTER_3 = 300.4  # chapter 3, L594
#: Table B.1 / Table 3.1 (from Kane).
EMISSIVITY = {"skin": 0.95, "cotton": 0.95, "asphalt": 0.95, "water": 0.93, "snow": 0.90}
BLEND = 0.31
GAIN = 0.05
LEVEL = 20.0
WHITE_EMISSIVITY = 0.84  # Eq. B.3: average emissivity of a white surface
WHITE_BLACK_DIFFERENCE = 0.15  # Eq. B.3
UNIFORM_EMISSIVITY_DISCUSSION = 0.972  # L1866
LUMINANCE_WEIGHTS = (0.2126, 0.7152, 0.0722)  # Eq. B.2


class MaterialError(KeyError, ValueError):
    """A material without an emissivity (both a ``KeyError`` and a ``ValueError``)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


# ------------------------------------------------------------------------------- equations

def radiance(emissivity, temperature_k=TEMPERATURE_K, sigma: float = SIGMA):
    """Eq. B.1: ``j* = ε σ T⁴`` (W/m²)."""
    return np.multiply(emissivity, sigma * np.power(np.asarray(temperature_k, np.float64), 4))


def luminance(rgb) -> np.ndarray:
    """Eq. B.2 on ... × 3 RGB in [0, 1]."""
    rgb = np.asarray(rgb, dtype=np.float64)
    if rgb.shape[-1] != 3:
        raise ValueError(f"need RGB in the last axis, got shape {rgb.shape}")
    return rgb @ np.asarray(LUMINANCE_WEIGHTS)


def colour_emissivity(lum):
    """Eq. B.3: ``ε_c = (1 - L) · 0.15 + 0.84``."""
    return (1.0 - np.asarray(lum, np.float64)) * WHITE_BLACK_DIFFERENCE + WHITE_EMISSIVITY


def blended_emissivity(material_eps, colour_eps, blend: float = BLEND):
    """The blend of material and colour emissivity: ``(1 - blend) ε_m + blend ε_c`` (our reading
    of "blended using a blend factor of 0.31")."""
    return (1.0 - blend) * np.asarray(material_eps, np.float64) + blend * np.asarray(colour_eps)


def pixel_value(j, gain: float = GAIN, level: float = LEVEL):
    """Eq. B.4: ``p = j* · G + L`` (8-bit grey levels in our reading)."""
    return np.asarray(j, np.float64) * gain + level


# ---------------------------------------------------------------------------------- shader

@dataclass(frozen=True)
class ThermalShader:
    """Eq. B.1-B.4 with the paper's constants as defaults (see the module docstring).

    ``uniform_emissivity``: ``None`` -> Table B.1 per material + colour blend (Paper B §3.3);
    a number (0.972 in the discussion, L1866) -> that emissivity for every foreground pixel.
    """

    temperature_k: float = TEMPERATURE_K
    emissivity: Mapping[str, float] = field(default_factory=lambda: dict(EMISSIVITY))
    blend: float = BLEND
    gain: float = GAIN
    level: float = LEVEL
    sigma: float = SIGMA
    uniform_emissivity: float | None = None

    def __post_init__(self):
        if self.temperature_k <= 0:
            raise ValueError(f"temperature_k must be a positive absolute temperature, got "
                             f"{self.temperature_k}")
        if not 0.0 <= self.blend <= 1.0:
            raise ValueError(f"blend must lie in [0, 1], got {self.blend}")

    def material_emissivity(self, material: str) -> float:
        """ε_m of a material; :class:`MaterialError` names the known materials otherwise."""
        try:
            return float(self.emissivity[material])
        except KeyError:
            known = ", ".join(sorted(self.emissivity))
            raise MaterialError(f"no emissivity for material {material!r}; known materials: "
                                f"{known} (pass emissivity={{...}} to add one)") from None

    def emissivity_map(self, material: np.ndarray, albedo: np.ndarray | None,
                       materials: Sequence[str]) -> np.ndarray:
        """Per-pixel blended emissivity (float64), 0 on background pixels (material id 0)."""
        material = np.asarray(material)
        eps = np.zeros(material.shape, np.float64)
        foreground = material > 0
        if self.uniform_emissivity is not None:
            eps[foreground] = self.uniform_emissivity
            return eps
        if material.max(initial=0) > len(materials):
            raise ValueError(f"material id {int(material.max())} but only {len(materials)} "
                             f"materials given ({', '.join(materials)})")
        table = np.array([0.0] + [self.material_emissivity(m) for m in materials])
        eps_m = table[material]
        if albedo is None:  # no colour: the material emissivity alone
            eps[foreground] = eps_m[foreground]
            return eps
        albedo = np.asarray(albedo)
        if albedo.shape != material.shape + (3,):
            raise ValueError(f"albedo has shape {albedo.shape}; need {material.shape + (3,)}")
        if albedo.dtype == np.uint8:
            albedo = albedo / 255.0
        eps_c = colour_emissivity(luminance(albedo[foreground]))
        eps[foreground] = blended_emissivity(eps_m[foreground], eps_c, self.blend)
        return eps

    def shade(self, material: np.ndarray, albedo: np.ndarray | None = None,
              materials: Sequence[str] = ("skin", "cotton")) -> np.ndarray:
        """Thermal foreground value p (float32, 8-bit grey levels) of a rendered frame.

        ``material``: H × W integer map, 0 = background, k = ``materials[k - 1]``; ``albedo``:
        H × W × 3 RGB in [0, 1] (float) or 0-255 (uint8), or ``None`` (material emissivity only).
        Background pixels get 0, which screen compositing leaves unchanged. Only the bounding box
        of the foreground is computed.
        """
        material = np.asarray(material)
        if material.ndim != 2:
            raise ValueError(f"material map must be 2-D (H × W), got shape {material.shape}")
        out = np.zeros(material.shape, np.float32)
        rows = np.flatnonzero(material.any(axis=1))
        if rows.size == 0:
            return out
        cols = np.flatnonzero(material.any(axis=0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        crop_albedo = None if albedo is None else np.asarray(albedo)[box]
        eps = self.emissivity_map(material[box], crop_albedo, materials)
        p = pixel_value(radiance(eps, self.temperature_k, self.sigma), self.gain, self.level)
        out[box] = np.where(material[box] > 0, p, 0.0)
        return out

    def value(self, material: str = "skin", albedo_rgb=None) -> float:
        """p of one pixel of ``material`` with albedo ``albedo_rgb`` (None: no colour blend)."""
        if self.uniform_emissivity is not None:
            eps = self.uniform_emissivity
        elif albedo_rgb is None:
            eps = self.material_emissivity(material)
        else:
            eps = blended_emissivity(self.material_emissivity(material),
                                     colour_emissivity(luminance(albedo_rgb)), self.blend)
        return float(pixel_value(radiance(eps, self.temperature_k, self.sigma), self.gain,
                                 self.level))


#: The thesis's three readings: Paper B's method section, chapter 3's temperature, and the
#: discussion's uniform emissivity.
VARIANTS = {
    "paper_b": ThermalShader(),
    "chapter_3": ThermalShader(temperature_k=TEMPERATURE_K_CHAPTER_3),
    "discussion_0.972": ThermalShader(uniform_emissivity=UNIFORM_EMISSIVITY_DISCUSSION),
}


def shader_range(shader: ThermalShader | None = None, materials: Sequence[str] = ("skin", "cotton"),
                 backgrounds: Sequence[int] = (0, 64, 128, 192, 255)) -> dict:
    """The range of j* and p that the shader's constants produce for ``materials`` over all
    albedos (black to white), what it becomes in 8-bit images, and the alternative readings of
    the unspecified [0, 1] display mapping. Returns a dict (see the module docstring)."""
    shader = shader or ThermalShader()
    if shader.uniform_emissivity is not None:
        eps = np.array([shader.uniform_emissivity])
    else:
        eps_m = np.array([shader.material_emissivity(m) for m in materials])
        eps_c = colour_emissivity(np.array([1.0, 0.0]))  # white, black albedo
        eps = blended_emissivity(eps_m[:, None], eps_c[None, :], shader.blend).ravel()
    j = radiance(eps, shader.temperature_k, shader.sigma)
    p = pixel_value(j, shader.gain, shader.level)
    p_min, p_max = float(p.min()), float(p.max())
    levels = sorted({int(v) for v in np.clip(np.rint(np.linspace(p_min, p_max, 101)), 0, 255)})
    gain_per_kelvin = float(4 * shader.gain * j.mean() / shader.temperature_k)
    return {
        "temperature_k": shader.temperature_k,
        "emissivity": (float(eps.min()), float(eps.max())),
        "radiance_w_m2": (float(j.min()), float(j.max())),
        "p": (p_min, p_max),
        "p_span": p_max - p_min,
        "p_fraction_of_255": (p_min / 255, p_max / 255),
        "uint8_levels": levels,
        "p_per_kelvin": gain_per_kelvin,
        "composite_raise": {int(b): ((255 - b) * p_min / 255, (255 - b) * p_max / 255)
                            for b in backgrounds},
        "if_p_on_0_1_scale": float(np.clip(p_min, 0, 1)),  # saturates: white
        "if_j_normalised_first": (float(pixel_value(eps.min(), shader.gain, shader.level)),
                                  float(pixel_value(eps.max(), shader.gain, shader.level))),
    }


def shader_report() -> str:
    """One line per reading in :data:`VARIANTS` (``python -m vadlib.thermal`` prints it)."""
    lines = []
    for name, shader in VARIANTS.items():
        r = shader_range(shader)
        lines.append(f"{name:>17}: T={r['temperature_k']} K, eps {r['emissivity'][0]:.4f}-"
                     f"{r['emissivity'][1]:.4f}, j* {r['radiance_w_m2'][0]:.2f}-"
                     f"{r['radiance_w_m2'][1]:.2f} W/m2, p {r['p'][0]:.3f}-{r['p'][1]:.3f} "
                     f"(span {r['p_span']:.3f}), uint8 levels {r['uint8_levels']}, "
                     f"raise on B=0/128/255: {r['composite_raise'][0][0]:.1f}/"
                     f"{r['composite_raise'][128][0]:.1f}/{r['composite_raise'][255][0]:.1f}")
    return "\n".join(lines)
