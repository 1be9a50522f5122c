"""Plots for evaluation and replay reports: one function per figure, each returns the PNG path.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no
global backend switch), so this is safe in servers, threads and headless CI.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 110


def _save(fig: Figure, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(out, format="png", dpi=DPI, bbox_inches="tight")
    return out


def _empty_note(ax: object, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")  # type: ignore[attr-defined]


def plot_iou_histogram(
    ious: Sequence[float], path: str | Path, *, title: str = "IoU per dialogue", bins: int = 20
) -> Path:
    """Histogram of per-sample IoUs on [0, 1] with the mean marked; returns the saved path."""
    values = [float(v) for v in ious if v is not None and not math.isnan(float(v))]
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("IoU")
    ax.set_ylabel("count")
    if values:
        ax.hist(values, bins=bins, range=(0.0, 1.0), color="#3a7bd5", edgecolor="white")
        mean = float(np.mean(values))
        ax.axvline(mean, color="#d9534f", linestyle="--", label=f"mean {mean:.3f} (n={len(values)})")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="best")
    else:
        _empty_note(ax, "no scored samples")
    ax.set_title(title)
    return _save(fig, path)


def plot_turn_latency(
    latencies_by_turn: Mapping[int, Sequence[float]] | Sequence[Sequence[float]],
    path: str | Path,
    *,
    title: str = "Latency per user turn",
) -> Path:
    """Box plot of turn latency (ms) for each user-turn position (1st, 2nd, ...); returns the path.

    ``latencies_by_turn`` maps a 0-based turn position to the latencies seen there (or is a
    list indexed by position).
    """
    items = (
        sorted(latencies_by_turn.items())
        if isinstance(latencies_by_turn, Mapping)
        else list(enumerate(latencies_by_turn))
    )
    items = [(k, [float(v) for v in vs]) for k, vs in items if len(vs) > 0]
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    ax.set_xlabel("user turn")
    ax.set_ylabel("latency (ms)")
    if items:
        positions = [k + 1 for k, _ in items]
        ax.boxplot([vs for _, vs in items], positions=positions, widths=0.6, showfliers=True)
        means = [float(np.mean(vs)) for _, vs in items]
        ax.plot(positions, means, marker="o", color="#d9534f", label="mean")
        for x, (_, vs) in zip(positions, items, strict=True):
            ax.annotate(f"n={len(vs)}", (x, 0), xycoords=("data", "axes fraction"), ha="center",
                        va="bottom", fontsize=7, color="0.4")
        ax.set_xticks(positions, [str(p) for p in positions])
        ax.legend(loc="upper left")
    else:
        _empty_note(ax, "no turns ran")
    ax.set_title(title)
    return _save(fig, path)


def plot_replay_ious(
    labels: Sequence[str], ious: Sequence[float | None], path: str | Path, *, title: str = "Replay vs stored mask"
) -> Path:
    """Bar chart of IoU per replayed turn (missing values drawn as 0 and hatched); returns the path."""
    fig = Figure(figsize=(max(4.0, 0.45 * len(labels) + 2.0), 3.6))
    ax = fig.add_subplot()
    ax.set_ylim(0.0, 1.05)
    ax.set_ylabel("IoU")
    if labels:
        heights = [0.0 if v is None else float(v) for v in ious]
        bars = ax.bar(range(len(labels)), heights, color="#3a7bd5")
        for bar, value in zip(bars, ious, strict=True):
            if value is None:
                bar.set_hatch("//")
                bar.set_facecolor("white")
                bar.set_edgecolor("0.5")
        ax.bar_label(bars, labels=["n/a" if v is None else f"{v:.2f}" for v in ious], fontsize=8, padding=2)
        ax.set_xticks(range(len(labels)), list(labels), rotation=45, ha="right", fontsize=8)
    else:
        _empty_note(ax, "no segmenting turns")
    ax.set_title(title)
    return _save(fig, path)
