"""The explorer page's layout: Bokeh models over :class:`sweep.explore.data.PageData`,
driven by one ``CustomJS`` controller (``explore.js``), written as one standalone
HTML file with BokehJS inlined (``bokeh.resources.INLINE``): it opens from disk,
offline, with no server and no kernel.
"""
from __future__ import annotations

import base64
import html
import json
from importlib import resources

import numpy as np

from .data import PageData

BOKEH_MISSING = ("The bokeh package is required for the explorer page: "
                 "pip install 'optimizer-sweep[plot]'")
CELL_COLOR = "#111111"  # the clicked cell: its outline, path and loss curve
PIN_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")
PANEL = (300, 250)  # a heatmap's width and height, px, before the page fits them to the window
PANELS_PER_ROW = 3
METRIC_SHORT = {"final_loss": "final f − f*", "best_loss": "best f − f*", "distance": "distance",
                "steps_to_tol": "steps to tol", "test_error": "test error",
                "test_loss": "test loss", "train_error": "train error"}
MODEL_SHORT = {"final_loss": "train loss", "best_loss": "best train loss"}
SUMMARY_LABELS = {"median": "median over the seeds", "mean": "mean over the seeds",
                  "best": "best seed", "worst": "worst seed"}
# Bokeh renders each Div in a shadow root: the style sheet is given to every Div.
STYLE = """
  :host { font-family: system-ui, sans-serif; color: #222; }
  h2 { font-size: 19px; margin: 0 0 4px 0; }
  .sweep-cells { border-collapse: collapse; font-size: 13px; }
  .sweep-cells th, .sweep-cells td { padding: 2px 7px; text-align: right; white-space: nowrap; }
  .sweep-cells th { border-bottom: 1px solid #999; font-weight: 600; }
  .sweep-cells td:first-child, .sweep-cells td:nth-child(2) { text-align: left; }
  .sweep-swatch { display: inline-block; width: 11px; height: 11px; margin-right: 5px;
                  vertical-align: -1px; border: 1px solid #555; }
  .sweep-hint { color: #555; font-size: 13px; margin: 4px 0; }
  .sweep-dot { display: inline-block; width: 5px; height: 5px; margin: 0 8px 1px 3px;
               border-radius: 50%; border: 1px solid #333; background: white; }
"""


def bokeh() -> None:
    """Check that bokeh imports; a ConfigError naming the extra when it does not."""
    try:
        import bokeh  # noqa: F401
    except ImportError:
        from ..errors import ConfigError

        raise ConfigError(BOKEH_MISSING) from None


def _metric_names(data: PageData) -> dict:
    if data.kind == "model":
        return {m: MODEL_SHORT.get(m, METRIC_SHORT.get(m, m)) for m in data.metrics}
    short = {m: METRIC_SHORT.get(m, m) for m in data.metrics}
    if not data.loss_log:  # f* unknown: losses are f itself
        short = {m: s.replace(" − f*", "") for m, s in short.items()}
    return short


def _spec(data: PageData) -> str:
    """What the controller needs besides the big arrays, as JSON."""
    from bokeh.palettes import Viridis256

    from ..plot import DIVERGED_COLOR, NOT_REACHED_COLOR

    return json.dumps({
        "optimizers": data.optimizers, "dims": data.dims, "sizes": data.sizes,
        "labels": data.labels, "symbols": data.symbols, "x": data.x, "y": data.y,
        "metrics": data.metrics, "metric_labels": data.metric_labels,
        "metric_short": _metric_names(data),
        "scales": {m: {"log": s.log, "low": s.low, "high": s.high} for m, s in data.scales.items()},
        "palette": list(Viridis256), "diverged_color": DIVERGED_COLOR,
        "not_reached_color": NOT_REACHED_COLOR, "censor_steps": data.censor_steps,
        "cell_color": CELL_COLOR, "pin_colors": list(PIN_COLORS),
        "path_steps": data.path_steps.tolist(), "path_source": data.path_source,
        "loss_log": data.loss_log,
        "trajectory_title": _trajectory_title(data),
        "sensitivity": data.sensitivity,
        "kind": data.kind, "curves": sorted(data.curves), "replicates": data.replicates,
        "summaries": list(SUMMARY_LABELS),
    }, allow_nan=False)


def _trajectory_title(data: PageData) -> str:
    where = {"recorded": "recorded", "computed": "computed for this page"}.get(data.path_source, "")
    return f"Path θ₀, θ₁ over the contours ({where})" if where else "Path θ₀, θ₁"


def _axis(fig, which: str, data: PageData, dim: str, mode: str, values) -> None:
    from bokeh.models import FixedTicker

    axis = fig.xaxis if which == "x" else fig.yaxis
    axis.axis_label = data.long_names[dim]
    labels = data.labels[dim]
    if mode == "index":
        every = max(1, -(-len(values) // 8))
        ticks = list(range(0, len(values), every))
        axis.ticker = FixedTicker(ticks=ticks)
        axis.major_label_overrides = {i: labels[i] for i in ticks}
    elif len(values) <= 6:  # few values: label them, not round numbers between them
        axis.ticker = FixedTicker(ticks=[float(v) for v in values])
        axis.major_label_overrides = {float(v): labels[i] for i, v in enumerate(values)}
    if which == "x" and mode == "index" and sum(len(s) for s in labels) > 5 * len(labels):
        axis.major_label_orientation = 0.7


def _heatmaps(data: PageData, selection_callback):
    """One figure per optimizer, its quad source, its outline source."""
    from bokeh.models import ColumnDataSource, HoverTool, Range1d, Selection, TapTool
    from bokeh.plotting import figure

    from ..plot import _edges

    modes = {d: data.axis_mode[d] for d in (data.x, data.y)}
    xv, yv = data.values[data.x], data.values[data.y]
    xe, ye = _edges(xv, modes[data.x]), _edges(yv, modes[data.y])
    iy, ix = np.meshgrid(np.arange(len(yv)), np.arange(len(xv)), indexing="ij")
    ix, iy = ix.ravel(), iy.ravel()
    xl, yl = data.labels[data.x], data.labels[data.y]
    figures, sources, outlines = [], [], []  # outlines: (outline source, dot source)
    centre = {d: (np.sqrt(e[1:] * e[:-1]) if modes[d] == "log" else (e[1:] + e[:-1]) / 2)
              for d, e in ((data.x, xe), (data.y, ye))}
    for o, name in enumerate(data.optimizers):
        selection = Selection(name=f"tap:{o}")
        selection.js_on_change("indices", selection_callback)
        source = ColumnDataSource(
            data={"left": xe[ix], "right": xe[ix + 1], "bottom": ye[iy], "top": ye[iy + 1],
                  "ix": ix.astype(np.int32), "iy": iy.astype(np.int32),
                  "cx": centre[data.x][ix], "cy": centre[data.y][iy],
                  "xlabel": [xl[i] for i in ix], "ylabel": [yl[i] for i in iy],
                  "color": ["#ffffff"] * len(ix), "text": [""] * len(ix)},
            selected=selection, name=f"heat:{name}")
        outline = ColumnDataSource(data={"left": [], "right": [], "bottom": [], "top": [],
                                         "color": [], "width": []}, name=f"outline:{name}")
        title = name + (f" ({data.ignored[name]})" if data.ignored[name] else "")
        fig = figure(width=PANEL[0], height=PANEL[1], title=title, toolbar_location=None,
                     x_axis_type="log" if modes[data.x] == "log" else "linear",
                     y_axis_type="log" if modes[data.y] == "log" else "linear",
                     x_range=Range1d(float(xe[0]), float(xe[-1])),
                     y_range=Range1d(float(ye[0]), float(ye[-1])), name=f"heatmap:{name}")
        cells = fig.quad(left="left", right="right", bottom="bottom", top="top",
                         fill_color="color", line_color="white", line_width=0.5, source=source,
                         nonselection_fill_alpha=1.0, selection_fill_alpha=1.0,
                         nonselection_line_alpha=1.0, selection_line_color="white")
        fig.quad(left="left", right="right", bottom="bottom", top="top", fill_color=None,
                 line_color="color", line_width="width", source=outline)
        # Where only some squares of the map have a stored path, a dot marks them.
        dots = ColumnDataSource(data={"x": [], "y": []}, name=f"dots:{name}")
        fig.scatter("x", "y", source=dots, size=4, color="white", line_color="#333333",
                    line_width=0.8)
        fig.add_tools(TapTool(renderers=[cells]),
                      HoverTool(renderers=[cells], tooltips=[
                          (data.long_names[data.x], "@xlabel"),
                          (data.long_names[data.y], "@ylabel"),
                          ("value", "@text")]))
        fig.grid.visible = False
        fig.title.text_font_size = "13px"
        _axis(fig, "x", data, data.x, modes[data.x], xv)
        _axis(fig, "y", data, data.y, modes[data.y], yv)
        figures.append(fig)
        sources.append(source)
        outlines.append((outline, dots))
    return figures, sources, outlines


def _colorbar(data: PageData):
    """A figure that holds only the colour bar, and one colour mapper per metric."""
    from bokeh.models import ColorBar, LinearColorMapper, LogColorMapper
    from bokeh.palettes import Viridis256
    from bokeh.plotting import figure

    mappers = []
    for m in data.metrics:
        scale = data.scales[m]
        kind = LogColorMapper if scale.log else LinearColorMapper
        mappers.append(kind(palette=Viridis256, low=scale.low, high=scale.high))
    first = mappers[data.metrics.index(data.metric)]
    bar = ColorBar(color_mapper=first, title=data.metric_labels[data.metric], width=14,
                   title_text_font_size="12px", title_text_font_style="normal",
                   major_label_text_font_size="12px", name="colorbar")
    holder = figure(width=120, height=PANEL[1], toolbar_location=None, min_border_left=0,
                    outline_line_color=None, x_range=(0, 1), y_range=(0, 1))
    holder.axis.visible = False
    holder.grid.visible = False
    holder.scatter([0], [0], alpha=0)  # a renderer, so that Bokeh does not warn of none
    holder.add_layout(bar, "left")
    return holder, bar, mappers


def _trajectory_figure(data: PageData):
    from bokeh.models import ColumnDataSource, Range1d
    from bokeh.plotting import figure

    from ..plot import MINIMUM_COLOR

    (x0, x1), (y0, y1) = data.xlim, data.ylim
    ratio = (y1 - y0) / (x1 - x0)
    side = 430
    width, height = (side, max(260, int(side * ratio))) if ratio <= 1 else \
        (max(260, int(side / ratio)), side)
    if not 1 / 3 < ratio < 3:
        width, height = side, 360
    fig = figure(width=width + 40, height=height + 40, title="Click a heatmap cell to see its path",
                 x_range=Range1d(x0, x1), y_range=Range1d(y0, y1), tools="pan,wheel_zoom,reset",
                 name="trajectory", match_aspect=1 / 3 < ratio < 3)
    fig.toolbar.logo = None
    fig.xaxis.axis_label = "θ₀"
    fig.yaxis.axis_label = "θ₁"
    fig.grid.visible = False
    if data.contours is not None:
        url = "data:image/png;base64," + base64.b64encode(data.contours).decode("ascii")
        fig.image_url(url=[url], x=x0, y=y0, w=x1 - x0, h=y1 - y0, anchor="bottom_left")
    if len(data.minimizers):
        fig.scatter(data.minimizers[:, 0], data.minimizers[:, 1], marker="star", size=18,
                    fill_color=MINIMUM_COLOR, line_color="black", legend_label="minimum")
    lines = ColumnDataSource(data={"xs": [], "ys": [], "color": [], "width": [], "label": []},
                             name="path")
    ends = ColumnDataSource(data={"x": [], "y": [], "color": [], "marker": []}, name="path_ends")
    fig.multi_line("xs", "ys", line_color="color", line_width="width", source=lines)
    fig.scatter("x", "y", marker="marker", color="color", size=8, line_width=2, source=ends)
    if len(data.minimizers):
        fig.legend.location = "top_left"
        fig.legend.background_fill_alpha = 0.6
    return fig, lines, ends


def _loss_figure(data: PageData):
    from bokeh.models import ColumnDataSource, Range1d
    from bokeh.plotting import figure

    # Fixed ranges that the controller sets to the curves shown (an automatic range of
    # no data makes BokehJS warn on a log axis).
    last = int(data.path_steps[-1]) if data.path_steps.size else 1
    model = data.kind == "model"
    title = "Click a heatmap cell to see its training curves" if model else "Loss along the path"
    fig = figure(width=500 if model else 430, height=320 if model else 300, title=title,
                 y_axis_type="log" if data.loss_log else "linear", tools="pan,wheel_zoom,reset",
                 x_range=Range1d(0, last), y_range=Range1d(*((1e-3, 10) if data.loss_log
                                                             else (0, 1))), name="loss")
    fig.toolbar.logo = None
    fig.xaxis.axis_label = "step t"
    fig.yaxis.axis_label = data.loss_label
    lines = ColumnDataSource(data={"xs": [], "ys": [], "color": [], "width": [], "label": [],
                                   "alpha": []}, name="loss_lines")
    fig.multi_line("xs", "ys", line_color="color", line_width="width", line_alpha="alpha",
                   source=lines)
    if model:  # the test loss beside the training loss, dashed
        test = ColumnDataSource(data={"xs": [], "ys": [], "color": [], "width": [], "label": [],
                                      "alpha": []}, name="test_loss_lines")
        fig.multi_line("xs", "ys", line_color="color", line_width="width", line_alpha="alpha",
                       line_dash="dashed", source=test)
        fig.yaxis.axis_label = "loss: training (solid), test (dashed)"
    return fig, lines


def _error_figure(data: PageData):
    """A model's test error along training (the controller fills it), or None."""
    from bokeh.models import ColumnDataSource, Range1d
    from bokeh.plotting import figure

    if data.kind != "model" or "test_error" not in data.curves:
        return None
    last = int(data.path_steps[-1]) if data.path_steps.size else 1
    fig = figure(width=500, height=320, title="Test error along training",
                 tools="pan,wheel_zoom,reset", x_range=Range1d(0, last),
                 y_range=Range1d(-0.02, 1.02), name="error")
    fig.toolbar.logo = None
    fig.xaxis.axis_label = "step t"
    fig.yaxis.axis_label = "test error (share misclassified)"
    lines = ColumnDataSource(data={"xs": [], "ys": [], "color": [], "width": [], "label": [],
                                   "alpha": []}, name="error_lines")
    fig.multi_line("xs", "ys", line_color="color", line_width="width", line_alpha="alpha",
                   source=lines)
    return fig


def _sensitivity_figure(data: PageData):
    from bokeh.models import ColumnDataSource, FactorRange, Legend, LegendItem, Range1d
    from bokeh.plotting import figure

    from ..plot import _optimizer_colors

    first = data.sensitivity[data.metric]
    factors = [(name, data.symbols.get(a, a)) for name in data.optimizers for a in first["axes"]]
    colors = _optimizer_colors(data.optimizers)
    source = ColumnDataSource(data={
        "factor": factors, "color": [colors[f[0]] for f in factors],
        "main": [v for row in first["main"] for v in row],
        "total": [v for row in first["total"] for v in row]}, name="sensitivity")
    # Wide enough for the axes' labels (start, schedule) and the optimizers' names.
    width = sum(max(30, 7 * len(f[1]) + 14) for f in factors) + 30 * len(data.optimizers)
    fig = figure(x_range=FactorRange(*factors, group_padding=1.2), y_range=Range1d(0, 1.22),
                 width=max(560, width + 80, 7 * len(first["title"]) + 40), height=300,
                 toolbar_location=None,
                 title=first["title"], name="sensitivity_plot")
    fig.vbar(x="factor", top="total", width=0.75, fill_color="color", fill_alpha=0.3,
             line_color="color", source=source)
    fig.vbar(x="factor", top="main", width=0.4, fill_color="color", line_color="color",
             source=source)
    fig.yaxis.axis_label = "share of Var(Y)"
    fig.yaxis.ticker = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    fig.xgrid.visible = False
    fig.xaxis.major_label_text_font_size = "13px"
    fig.xaxis.group_text_font_size = "13px"
    # The legend's swatches in grey (the bars take each optimizer's colour).
    grey = "#555555"
    # (zero-height bars: a renderer with no data would draw no swatch)
    main_key = fig.vbar(x=[factors[0]], top=[0], width=0.4, fill_color=grey, line_color=None)
    total_key = fig.vbar(x=[factors[0]], top=[0], width=0.75, fill_color=grey, fill_alpha=0.3,
                         line_color=None)
    fig.add_layout(Legend(items=[LegendItem(label="main effect", renderers=[main_key]),
                                 LegendItem(label="total effect", renderers=[total_key])],
                          orientation="horizontal", location="top_right",
                          background_fill_alpha=0.8))
    return fig, source


def _legend_html(data: PageData) -> str:
    from ..plot import DIVERGED_COLOR, NOT_REACHED_COLOR

    swatch = "<span class='sweep-swatch' style='background:{}'></span>{}"
    items = [swatch.format(DIVERGED_COLOR, "diverged")]
    if data.censor_steps is not None:
        items.append(swatch.format(NOT_REACHED_COLOR,
                                   f"did not reach tol in {data.censor_steps:,} steps "
                                   f"(steps to tol)"))
    items.append(swatch.format(CELL_COLOR, "clicked cell (outline)"))
    if 0 < data.path_cells.size < data.cells:
        what = "training curves are" if data.kind == "model" else "a path is"
        items.append(f"<span class='sweep-dot'></span>{what} stored (where only some are)")
    return "<p class='sweep-hint'>" + "<br>".join(items) + "</p>"


def build(data: PageData) -> str:
    """The page's HTML (one string, BokehJS inlined)."""
    bokeh()
    from bokeh.document import Document
    from bokeh.embed import file_html
    from bokeh.layouts import column, gridplot, row
    from bokeh.models import Button, ColumnDataSource, CustomJS, Div, InlineStyleSheet, Select
    from bokeh.resources import INLINE

    style = InlineStyleSheet(css=STYLE)

    def div(text="", **kwargs):
        return Div(text=text, stylesheets=[style], **kwargs)

    controller = CustomJS(code=resources.files(__package__).joinpath("explore.js").read_text(
        encoding="utf-8"))
    heat_figs, heat, outline = _heatmaps(data, controller)
    holder, bar, mappers = _colorbar(data)
    model = data.kind == "model"
    trajectory, path_lines, path_ends = _trajectory_figure(data)
    loss, loss_lines = _loss_figure(data)
    error = _error_figure(data)
    sens_fig, sens_source = _sensitivity_figure(data)

    metric_select = Select(title="metric", name="metric", value=data.metric,
                           options=[(m, data.metric_labels[m]) for m in data.metrics], width=210)
    metric_select.js_on_change("value", controller)
    selects = []
    for d in data.dims:
        if d in (data.x, data.y):
            continue
        options = [(str(i), label) for i, label in enumerate(data.labels[d])]
        value = "0"
        if d in data.replicates:  # a summary over the seeds first, then each seed
            options = [(k, text) for k, text in SUMMARY_LABELS.items()] + \
                [(str(i), f"{data.symbols.get(d, d)} {label}") for i, label in
                 enumerate(data.labels[d])]
            value = "median"
        select = Select(title=data.long_names[d], name=f"axis:{d}", value=value,
                        options=options, width=210, disabled=data.sizes[d] == 1)
        select.js_on_change("value", controller)
        selects.append(select)
    pin = Button(label="Pin this cell (0/4)", name="pin", width=210, disabled=True)
    clear = Button(label="Clear pins", name="clear", width=210, disabled=True)
    pin.js_on_event("button_click", controller)
    clear.js_on_event("button_click", controller)
    info = div(name="info", width=560)
    notes = "".join(f"<p class='sweep-hint'>{html.escape(n)}</p>" for n in data.notes)
    what = "training and test curves" if model else "path, loss curve"
    seeds = " Over the seeds, a map shows their median unless the seed selector says " \
        "otherwise; a click then shows every seed." if data.replicates else ""
    header = div(f"<h2>{html.escape(data.title)}</h2>"
                 f"<p class='sweep-hint'>Each map shows one cell per square: the axes not drawn "
                 f"are set by the selectors on the left. Click a square for its {what} "
                 f"and numbers; the URL keeps the view, so a link reopens it.{seeds}</p>{notes}",
                 width=1100, name="header")
    sens_note = div(name="sensitivity_note", width=900)

    cells = ColumnDataSource(data={**{m: data.cell_values[m] for m in data.metrics},
                                   "diverged": data.diverged}, name="cells")
    # The paths flat, row after row (float32: binary in the page, typed arrays in JS).
    # (a model records no θ: no x, y columns, which would be shorter than the others)
    plane = {} if model else {"x": data.path_x.ravel(), "y": data.path_y.ravel()}
    paths = ColumnDataSource(data={**plane, "loss": data.path_loss.ravel(),
                                   **{name: values.ravel() for name, values in
                                      data.curves.items()}}, name="paths")
    path_cells = ColumnDataSource(data={"cell": data.path_cells}, name="path_cells")
    controller.args = dict(
        spec=_spec(data), cells=cells, paths=paths, path_cells=path_cells, heat=heat,
        outline=[o for o, _ in outline], dots=[d for _, d in outline], bar=bar,
        mappers=mappers, metric_select=metric_select, selects=selects,
        sensitivity=sens_source, sensitivity_plot=sens_fig, sensitivity_note=sens_note,
        path_lines=path_lines, path_ends=path_ends, loss_lines=loss_lines,
        trajectory_plot=trajectory, loss_plot=loss, info=info, pin_button=pin, clear_button=clear,
        heat_figs=heat_figs, colorbar_holder=holder, error_plot=error,
        test_loss_lines=loss.select_one({"name": "test_loss_lines"}),
        error_lines=error.select_one({"name": "error_lines"}) if error else None)

    # The maps in a grid of at most three columns, the colour bar beside it; the page fits
    # the panels' size to the window when it opens (and when the window is resized).
    grid = gridplot(heat_figs, ncols=min(len(heat_figs), PANELS_PER_ROW), merge_tools=False,
                    toolbar_location=None)
    controls = column(metric_select, *selects, pin, clear, div(_legend_html(data), width=210))
    if model:  # no landscape: the curves along training, then the numbers
        below = column(row(loss, *([error] if error else [])), info)
    else:
        below = row(trajectory, column(loss, info))
    layout = column(header, row(controls, grid, holder), below, column(sens_fig, sens_note))
    document = Document()
    document.add_root(layout)
    document.js_on_event("document_ready", controller)
    document.title = data.title
    return file_html(document, INLINE, data.title)
