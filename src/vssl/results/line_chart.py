"""A small PNG line chart drawn with OpenCV (already a dependency): axes, ticks, one coloured line per series and a
legend, for curves such as recall against tIoU."""

from __future__ import annotations

import os

import cv2
import numpy as np

from vssl.core.io import write_bytes_atomic

SIZE = (640, 420)  # width, height in pixels
MARGIN = (70, 30, 30, 55)  # left, top, right, bottom
COLOURS = [(180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148), (75, 86, 140)]  # BGR
FONT = cv2.FONT_HERSHEY_SIMPLEX


def render_line_chart(x: np.ndarray, series: dict[str, np.ndarray], x_label: str, y_label: str, title: str,
                      y_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """BGR image [H, W, 3] of every series against ``x`` on a y axis spanning ``y_range``."""
    width, height = SIZE
    left, top, right, bottom = MARGIN
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    x = np.asarray(x, dtype=np.float64)
    x0, x1 = float(x.min()), float(x.max()) if x.max() > x.min() else float(x.min()) + 1.0
    y0, y1 = y_range

    def point(xv: float, yv: float) -> tuple[int, int]:
        px = left + (xv - x0) / (x1 - x0) * (width - left - right)
        py = height - bottom - (yv - y0) / (y1 - y0) * (height - top - bottom)
        return int(round(px)), int(round(py))

    cv2.rectangle(image, point(x0, y1), point(x1, y0), (0, 0, 0), 1)
    for tick in np.linspace(y0, y1, 6):
        px, py = point(x0, tick)
        cv2.line(image, (px - 4, py), (px, py), (0, 0, 0), 1)
        cv2.putText(image, f"{tick:.1f}", (px - 38, py + 4), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for tick in np.linspace(x0, x1, 6):
        px, py = point(tick, y0)
        cv2.line(image, (px, py), (px, py + 4), (0, 0, 0), 1)
        cv2.putText(image, f"{tick:.2f}", (px - 14, py + 18), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, x_label, (width // 2 - 30, height - 12), FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, y_label, (6, top - 10), FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, title, (left + 120, top - 10), FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    for k, (name, y) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        points = np.array([point(a, b) for a, b in zip(x, np.asarray(y, dtype=np.float64))], dtype=np.int32)
        cv2.polylines(image, [points], False, colour, 2, cv2.LINE_AA)
        legend_y = top + 18 + 18 * k
        cv2.line(image, (width - right - 150, legend_y - 4), (width - right - 125, legend_y - 4), colour, 2)
        cv2.putText(image, name, (width - right - 118, legend_y), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return image


def write_line_chart_png(path: str | os.PathLike, *args, **kwargs) -> None:
    """:func:`render_line_chart` written atomically as a PNG file."""
    ok, encoded = cv2.imencode(".png", render_line_chart(*args, **kwargs))
    if not ok:
        raise RuntimeError(f"{path}: OpenCV could not encode the chart as PNG")
    write_bytes_atomic(path, encoded.tobytes())
