"""Image figures: the masked-convolution footprint (Fig. C.2), anomaly-map grids, localization
contours and the map explorer.

Every function returns a matplotlib figure (or an ipywidgets box) and reads only arrays or models
it is given, so the notebooks decide what is plotted and ``nb.figure`` saves it.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from vadlib.plots.axes import bare
from vadlib.plots.widgets import interactive


def masked_footprint(kernel_size: int = 1, dilation: int = 1, mask_size: int = 1, dims: int = 2) -> np.ndarray:
    """Which input positions an output of the masked convolution sees, measured on the layer.

    The gradient of one output (all weights set to 1) with respect to the input, at the central
    output position: nonzero exactly where the implemented kernel has learnable weights. Returns a
    boolean array of side 2k' + 2d + m (2D: (k, k); 3D: (k, k, k)) centred on the masked region.
    """
    import torch

    from vadlib.models.blocks import MaskedConv2d, MaskedConv3d
    cls = MaskedConv2d if dims == 2 else MaskedConv3d
    layer = cls(1, kernel_size, dilation, mask_size=mask_size, bias=False)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    side = 2 * kernel_size + 2 * dilation + mask_size
    size = 3 * side  # room on every side so padding never touches the footprint
    x = torch.zeros((1, 1) + (size,) * dims, requires_grad=True)
    centre = (0, 0) + (size // 2,) * dims
    layer(x)[centre].backward()
    grad = x.grad[0, 0].abs() > 0
    low = size // 2 - (side - 1) // 2
    window = tuple(slice(low, low + side) for _ in range(dims))
    return grad[window].numpy()


def masked_kernel_figure(settings: Sequence[tuple[int, int]] = ((1, 1), (2, 1), (1, 2), (3, 0))):
    """The 2D footprints of the masked convolution for several (k', d), plus the 3D one for the
    first setting, each drawn from :func:`masked_footprint` (Fig. C.2 / D.2 / D.3 of the papers)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    colours = ListedColormap(["#f2f2f2", "#0072B2", "#D55E00"])  # invisible, learnable, masked centre
    fig, axes = plt.subplots(1, len(settings) + 2, figsize=(2.2 * (len(settings) + 2), 2.9))
    for ax, (k, d) in zip(axes, settings):
        footprint = masked_footprint(k, d)
        side = footprint.shape[0]
        _draw_footprint(ax, footprint, colours, f"k′={k}, d={d}\nfield {side}×{side}", centre=True)
    k, d = settings[0]
    cube = masked_footprint(k, d, dims=3)
    side = cube.shape[0]
    _draw_footprint(axes[-2], cube[0], colours, f"3D k′={k}, d={d}\nfront slice", centre=False)
    _draw_footprint(axes[-1], cube[side // 2], colours, f"3D k′={k}, d={d}\nmiddle slice", centre=True)
    fig.suptitle("Masked convolution as implemented: learnable corners (blue) around the masked "
                 "centre (orange)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


def _draw_footprint(ax, footprint: np.ndarray, colours, title: str, centre: bool) -> None:
    side = footprint.shape[0]
    shown = footprint.astype(int)
    if centre:
        shown[side // 2, side // 2] = 2
    ax.imshow(shown, cmap=colours, vmin=0, vmax=2)
    ax.set_xticks(np.arange(-0.5, side), minor=True), ax.set_yticks(np.arange(-0.5, side), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.0)
    ax.grid(which="major", visible=False)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_title(title, fontsize=9)


def _display_image(image: np.ndarray) -> np.ndarray:
    """(C, H, W) in [0, 1] → what imshow wants: (H, W, 3) or (H, W)."""
    image = np.asarray(image, dtype=np.float32)
    return np.clip(image.transpose(1, 2, 0) if image.shape[0] == 3 else image[0], 0, 1)


def anomaly_map_grid(examples: dict[str, dict[str, np.ndarray]], rows: Sequence[int] | None = None,
                     title: str = ""):
    """Test images, their ground truth, and each model's anomaly map side by side.

    ``examples`` maps a model label to a run's examples (:func:`vadlib.runs.image_ad.load_examples`);
    all must hold the same test images. Each model's maps share one colour scale (min–max over its
    shown examples), so a map reads relative to that model's own range; the score under each map
    is the model's image score.
    """
    import matplotlib.pyplot as plt

    models = list(examples)
    first = examples[models[0]]
    rows = list(range(len(first["label"]))) if rows is None else list(rows)
    columns = 2 + len(models)
    fig, axes = plt.subplots(len(rows), columns, figsize=(1.9 * columns, 1.9 * len(rows) + 0.5),
                             squeeze=False)
    for r, i in enumerate(rows):
        image = _display_image(first["image"][i])
        axes[r, 0].imshow(image, cmap="gray")
        axes[r, 0].set_ylabel(f"#{first['index'][i]} ({'abnormal' if first['label'][i] else 'normal'})",
                              fontsize=8)
        mask = first["mask"][i] if "mask" in first else np.zeros(image.shape[:2], bool)
        axes[r, 1].imshow(mask, cmap="gray", vmin=0, vmax=1)
        for c, model in enumerate(models, start=2):
            found = examples[model]
            if "map" not in found:
                axes[r, c].text(0.5, 0.5, f"no map\nscore {found['score'][i]:.3g}", ha="center",
                                va="center", fontsize=8, transform=axes[r, c].transAxes)
                continue
            maps = found["map"][rows].astype(np.float32)
            axes[r, c].imshow(image, cmap="gray")
            axes[r, c].imshow(found["map"][i].astype(np.float32), cmap="inferno", alpha=0.6,
                              vmin=float(maps.min()), vmax=float(maps.max()) or 1.0)
            axes[r, c].set_xlabel(f"score {found['score'][i]:.3g}", fontsize=8)
    for c, name in enumerate(["image", "ground truth"] + models):
        axes[0, c].set_title(name, fontsize=9)
    for ax in axes.flat:
        bare(ax)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def f1_threshold(maps: np.ndarray, masks: np.ndarray) -> float:
    """The anomaly-map threshold with the highest pixel F1 over ``maps`` / ``masks``.

    The papers draw contours at a threshold "following [1]" whose rule is not given; this is our
    stand-in, chosen per model so neither model is favoured by a shared cut-off.
    """
    from sklearn.metrics import precision_recall_curve
    truth = np.asarray(masks, bool).ravel()
    if not truth.any():
        return float(np.max(maps))
    precision, recall, thresholds = precision_recall_curve(truth, np.asarray(maps, np.float32).ravel())
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[np.argmax(f1[:-1])])


def held_out_split(labels: Sequence[int]) -> tuple[list[int], list[int]]:
    """(rows shown, rows held out) of a run's kept examples: every other abnormal example is
    shown; the threshold of its contours is chosen on the rest (abnormal and normal), never on
    the images the figure shows."""
    abnormal = [i for i, label in enumerate(labels) if label]
    shown = abnormal[::2]
    return shown, [i for i in range(len(labels)) if i not in shown]


def localization_contours(examples: dict[str, dict[str, np.ndarray]], rows: Sequence[int] | None = None,
                          colours: Sequence[str] = ("#0072B2", "#009E73"), title: str = "",
                          threshold_rows: Sequence[int] | None = None):
    """Figs. C.3 / D.4 / D.5: test images with the ground truth in red and each model's thresholded
    anomaly map as a contour (first model blue, second green), one panel per example.

    Each model's threshold is :func:`f1_threshold` over held-out examples (``threshold_rows``;
    default: the kept examples not shown, see :func:`held_out_split`), so a contour is never tuned
    on the image it is drawn on; the legend states the threshold and how many examples chose it.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D

    models = list(examples)
    first = examples[models[0]]
    shown, held_out = held_out_split(first["label"])
    rows = shown if rows is None else list(rows)
    if threshold_rows is None:
        threshold_rows = held_out if rows == shown else [i for i in range(len(first["label"])) if i not in rows]
    threshold_rows = list(threshold_rows)
    if set(rows) & set(threshold_rows):
        raise ValueError(f"threshold rows {sorted(set(rows) & set(threshold_rows))} are also shown; "
                         "choose the threshold on held-out examples")
    # without held-out ground truth there is nothing to choose a threshold on: no contour
    can_choose = any(np.asarray(first["mask"][i]).any() for i in threshold_rows)
    thresholds = {m: f1_threshold(examples[m]["map"][threshold_rows].astype(np.float32),
                                  examples[m]["mask"][threshold_rows]) if can_choose else np.inf for m in models}
    columns = min(4, len(rows))
    lines = -(-len(rows) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(2.4 * columns, 2.4 * lines + 0.7), squeeze=False)
    for ax, i in zip(axes.flat, rows):
        ax.imshow(_display_image(first["image"][i]), cmap="gray")
        ax.imshow(np.ma.masked_where(~first["mask"][i].astype(bool), first["mask"][i]),
                  cmap=ListedColormap(["red"]), alpha=0.45, vmin=0, vmax=1)
        for model, colour in zip(models, colours):
            anomaly_map = examples[model]["map"][i].astype(np.float32)
            if anomaly_map.max() > thresholds[model] > anomaly_map.min():
                ax.contour(anomaly_map > thresholds[model], levels=[0.5], colors=[colour], linewidths=1.5)
        ax.set_title(f"#{first['index'][i]}", fontsize=8)
    for ax in axes.flat:
        bare(ax)
    for ax in axes.flat[len(rows):]:
        ax.set_axis_off()
    handles = [Line2D([], [], color="red", lw=4, alpha=0.45, label="ground truth")] + [
        Line2D([], [], color=c, lw=1.5, label=f"{m} (map > {thresholds[m]:.3g}, best F1 on {len(threshold_rows)} held-out)"
               if can_choose else f"{m} (no held-out ground truth: no contour)") for m, c in zip(models, colours)]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 0.95 if title else 1))
    return fig


def map_explorer(load: Callable[[str, str], dict[str, np.ndarray]], classes: Sequence[str],
                 models: Sequence[str], *, static_models: Sequence[str] | None = None):
    """Pick a class and a model, step through its test examples: image, ground truth, anomaly map.

    ``load(class_name, model)`` returns a run's examples. Interactive: an ipywidgets box (shown by
    the notebook). Headless: a static :func:`anomaly_map_grid` of the first class for
    ``static_models`` (default: all), so the executed notebook still shows the maps.
    """
    if not interactive():
        shown = list(static_models or models)
        return anomaly_map_grid({m: load(classes[0], m) for m in shown},
                                title=f"{classes[0]} (static view; open the notebook in JupyterLab to explore)")
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    class_box = widgets.Dropdown(options=list(classes), description="class")
    model_box = widgets.Dropdown(options=list(models), description="model")
    example_box = widgets.IntSlider(min=0, max=0, description="example")
    output = widgets.Output()

    def draw(*_):
        found = load(class_box.value, model_box.value)
        example_box.max = len(found["label"]) - 1
        with output:
            output.clear_output(wait=True)
            fig = anomaly_map_grid({model_box.value: found}, rows=[min(example_box.value, example_box.max)])
            fig.set_size_inches(6, 2.4)
            plt.show()

    for box in (class_box, model_box, example_box):
        box.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([class_box, model_box, example_box]), output])
