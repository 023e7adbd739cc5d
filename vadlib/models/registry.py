"""One registry of the anomaly-detection hosts, image and video, filled by :func:`register_host`.

A host is a class (an :class:`~vadlib.models.hosts.ImageHost` or a
:class:`~vadlib.models.video_hosts.VideoHost`) that says who it is in class attributes and is
registered by one decorator, timm style::

    @register_host
    class DRAEM(ImageHost):
        name = "draem"        # the registry key, also in code units ("host:draem") and run configs
        label = "DRAEM"       # the name tables and figures print

    ctx = HostContext(size="tiny", in_channels=3, seed=0, dataset="mvtec_ad", category="bottle")
    host = create_host("draem", ctx)                 # = host_class("draem").from_context(ctx)
    schedule = host_class("draem").schedule_for(ctx)
    host_names("image")                              # ("draem", "draem3d", "nsa", "cutpaste")
    host_class("ffp", kind="image")                  # ValueError: unknown image host 'ffp'

:class:`HostContext` is what a run knows and a host may use: every host is built from it the same
way, so a runner never branches on a host's name or inspects its signature.

The modules listed in :data:`HOST_MODULES` are imported on the first lookup (so importing this
module stays cheap and their decorators have run before any name is resolved).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

__all__ = ["HostContext", "register_host", "create_host", "host_class", "host_names",
           "HOST_KINDS", "HOST_MODULES"]

#: the families of hosts (an ImageHost's ``kind`` is "image", a VideoHost's "video", an
#: ObjectHost's "object": :mod:`vadlib.models.object_hosts`)
HOST_KINDS = ("image", "video", "object")

#: modules whose classes carry ``@register_host``, in the order :func:`host_names` lists them
HOST_MODULES = (
    "vadlib.models.draem",
    "vadlib.models.draem3d",
    "vadlib.models.nsa",
    "vadlib.models.cutpaste",
    "vadlib.models.plain_ae",
    "vadlib.models.ffp",
    "vadlib.models.mnad",
    "vadlib.models.mae_vad",
    "vadlib.models.georgescu",
    "vadlib.models.hf2vad",
    "vadlib.models.ssmtl",
    "vadlib.models.object_ae",  # a test fixture of the object pipeline, not a thesis row
)

_REGISTRY: dict[str, type] = {}
_discovered = False


@dataclass(frozen=True)
class HostContext:
    """What a run knows and a host may use to build itself and choose its schedule.

    * ``size``: "tiny" | "paper" (widths; the schedule's length for some hosts);
    * ``in_channels``: 1 (grey, BraTS, thermal) or 3 (RGB);
    * ``seed``: weights and the host's own random draws (synthetic anomalies, memory);
    * ``dataset``: the run's dataset name ("mvtec_ad", "brats", "avenue", ...); the schedule of
      some hosts depends on it (FFP, MNAD);
    * ``category``: the class of a per-class dataset (an MVTec AD class); hosts with
      ``needs_category`` (NSA's per-class settings) use it on MVTec AD only;
    * ``anomaly_source``: a ``Dataset`` of ``{"image": C×H×W in [0, 1]}`` items that hosts with
      ``needs_anomaly_source`` texture their synthetic anomalies with (DRAEM: DTD), or None
      (the image itself);
    * ``pretrained``: ImageNet weights for the hosts that have a pretrainable backbone;
    * ``options``: further constructor arguments of the host, as (name, value) pairs (a video
      run's ``host_options``: MNAD's ``variant``, FFP's ``flow``, ...).
    """

    size: str
    in_channels: int
    seed: int
    dataset: str
    category: str | None = None
    anomaly_source: Any = None
    pretrained: bool = False
    options: tuple[tuple[str, Any], ...] = ()


def register_host(cls: type) -> type:
    """Class decorator: add ``cls`` to the registry under ``cls.name``.

    The class must define ``name`` and ``label`` itself (a subclass does not inherit its parent's
    registry entry) and descend from ImageHost or VideoHost (``kind`` "image" or "video")."""
    if getattr(cls, "kind", None) not in HOST_KINDS:
        raise TypeError(f"{cls.__qualname__} is not an ImageHost or a VideoHost "
                        f"(kind {getattr(cls, 'kind', None)!r})")
    for attribute in ("name", "label"):
        value = cls.__dict__.get(attribute)
        if not isinstance(value, str) or not value:
            raise TypeError(f"{cls.__qualname__} must set its own class attribute {attribute!r} "
                            f"to register as a host")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"host name {cls.name!r} is taken by {existing.__module__}.{existing.__qualname__}")
    _REGISTRY[cls.name] = cls  # a reloaded module replaces its own entry
    return cls


def _discover() -> None:
    global _discovered
    if not _discovered:
        for module in HOST_MODULES:
            importlib.import_module(module)
        _discovered = True


def _order(cls: type) -> int:
    return HOST_MODULES.index(cls.__module__) if cls.__module__ in HOST_MODULES else len(HOST_MODULES)


def host_names(kind: str | None = None) -> tuple[str, ...]:
    """Names of the registered hosts of ``kind`` ("image" | "video"; None: both), in the order
    of :data:`HOST_MODULES`."""
    if kind is not None and kind not in HOST_KINDS:
        raise ValueError(f"kind must be one of {HOST_KINDS} or None, got {kind!r}")
    _discover()
    ordered = sorted(_REGISTRY.values(), key=_order)  # stable: registration order within a module
    return tuple(cls.name for cls in ordered if kind is None or cls.kind == kind)


def host_class(name: str, kind: str | None = None) -> type:
    """The registered class called ``name`` (optionally required to be of ``kind``)."""
    if name not in _REGISTRY:
        _discover()
    cls = _REGISTRY.get(name)
    if cls is None or (kind is not None and cls.kind != kind):
        what = f"{kind} host" if kind else "host"
        raise ValueError(f"unknown {what} {name!r}; hosts: {', '.join(host_names(kind))}")
    return cls


def create_host(name: str, ctx: HostContext, kind: str | None = None):
    """The host ``name`` (optionally required to be of ``kind``) built from ``ctx``
    (``host_class(name, kind).from_context(ctx)``)."""
    return host_class(name, kind).from_context(ctx)

