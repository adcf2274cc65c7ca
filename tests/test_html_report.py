"""`vssl report` in a real process on a store written here: the encoder × task table with mean ranks, one chart per
task with every seed, the Kendall τ map, CKA images and loss curves when present, and the CSV and LaTeX exports."""

import subprocess
import sys

from vssl.evaluation.cka import write_heatmap_png
from vssl.results.store import Result, ResultStore

VALUES = {  # encoder → protocol → per-seed top-1
    "random": {"knn": [40.0, 42.0], "linear": [50.0, 52.0]},
    "vcop": {"knn": [70.0, 66.0], "linear": [90.0, 92.0]},
    "rho": {"knn": [60.0, 61.0], "linear": [95.0, 93.0]},
    "pace": {"knn": [45.0, 47.0], "linear": [55.0, 57.0]},
}


def test_the_report_shows_means_ranks_seeds_and_exports(tmp_path):
    store = tmp_path / "results.sqlite"
    rows = [Result("run", encoder, protocol, "world32", "test", "motion", "top1", value, seed, "h")
            for encoder, protocols in VALUES.items() for protocol, values in protocols.items()
            for seed, value in enumerate(values)]
    ResultStore(store).add(rows)
    write_heatmap_png([[1.0, 0.5], [0.5, 1.0]], tmp_path / "cka" / "vcop_vs_rho.png")
    logs = tmp_path / "pretrain" / "vcop" / "seed0"
    (logs / "logs" / "version_0").mkdir(parents=True)
    (logs / "logs" / "version_0" / "metrics.csv").write_text("epoch,step,train/loss_step\n0,0,2.0\n0,1,1.5\n")
    (logs / "config.yaml").write_text("method: {name: vcop}\n")
    out = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "vssl.app.cli", "report", "--store", str(store), "--out", str(out),
                           "--runs", str(tmp_path / "pretrain"), "--reference", "severe_table_4_4",
                           "--as", "random=None,vcop=VideoMoCo"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    page = (out / "index.html").read_text()
    assert "68.0 ± 2.8" in page  # vcop knn: mean of 70 and 66, sample std 2.83
    # mean ranks: knn order vcop, rho, pace, random; linear order rho, vcop, pace, random
    assert "<td>1.50</td>" in page and "<td>3.00</td>" in page and "<td>4.00</td>" in page
    assert page.count("<svg") == 2 + 1 + 1  # two task charts, one τ map, one loss curve
    assert page.count("<circle") == 16  # every seed of every encoder and task
    assert 'src="cka/vcop_vs_rho.png"' in page and (out / "cka" / "vcop_vs_rho.png").is_file()
    assert "+0.33" in page  # τ of the knn and linear rankings of vcop, rho, pace (random is the floor): (2 − 1) / 3
    tex = (out / "tables.tex").read_text()
    assert "vcop & 68.0 $\\pm$ 2.8 & 91.0 $\\pm$ 1.4 \\\\" in tex and tex.startswith("\\begin{tabular}{lrr}")
    assert "world32,motion" in (out / "tables.csv").read_text()
    assert "<td class=\"name\">random (None)</td><td>77.3</td>" in page  # the published row, first column UCF101
    assert "vcop (VideoMoCo)" in page and "<td>0.185</td>" in page  # VideoMoCo's UCF-RC counting error
