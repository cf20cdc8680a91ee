"""reports.plots: the figures are written and are real PNGs."""

import struct

from test_reports_logs import write_json_log

from reports import plots
from reports.logs import read_log

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path):
    """(width, height) from the IHDR chunk; fails unless it is a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == PNG_MAGIC and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def _log(tmp_path, name, scale=1.0):
    progress = [(s, scale * (10 + s), 3.0 - 0.1 * s) for s in range(2, 20, 2)]
    evals = [(6, 1.0, 0.2, 0.5), (12, 2.0, 0.4, 0.7), (18, 3.0, 0.55, 0.85)]
    return read_log(write_json_log(tmp_path / f"{name}.json",
                                   progress=progress, evals=evals,
                                   summary={"train.total_ips": 20.0}))


def test_one_figure_per_run_is_a_png_of_real_size(tmp_path):
    path = plots.plot_run(_log(tmp_path, "a"), "a", str(tmp_path / "out" / "a.png"))
    width, height = _png_size(path)
    assert (width, height) == (800, 1000)
    assert (tmp_path / "out" / "a.png").stat().st_size > 20_000


def test_overlay_of_several_runs(tmp_path):
    logs = [_log(tmp_path, "a"), _log(tmp_path, "b", scale=2.0)]
    path = plots.plot_overlay(logs, ["a", "b"], str(tmp_path / "overlay.png"))
    assert _png_size(path) == (800, 1000)
    one = plots.plot_run(logs[0], "a", str(tmp_path / "a.png"))
    # Two runs draw more than one: the file is larger.
    assert (tmp_path / "overlay.png").stat().st_size > \
        (tmp_path / "a.png").stat().st_size
    assert one


def test_a_log_with_nothing_to_plot_still_gives_a_figure(tmp_path):
    log = read_log(write_json_log(tmp_path / "empty.json"))
    path = plots.plot_run(log, "empty", str(tmp_path / "empty.png"))
    assert _png_size(path) == (800, 1000)
