"""The regression gate: reports/stats.py, reports/compare.py and the
vggbench-compare / vggbench-ab command lines, on logs the tests write (the
statistical edge cases) and on real runs of a tiny config."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from reports import ab, calibrate, compare, compare_cli, settings_key, stats

PYTHON = sys.executable
TINY = ("-m benchmarks --model={model} --image_size=32 --num_classes=10 "
        "--batch_size=4 --num_batches=3 --num_warmup_batches=1 "
        "--display_every=3")


def write_log(path, ips, *, model="vgg11", cut=False, summary=True,
              evaluation=None, **parameters):
    """A dllogger JSON log as the harness writes it: PARAMETER, a step
    entry, the summary.  ``evaluation``: (top1, top5, examples)."""
    params = {"model.name": model, "model.image_size": 32,
              "data.batch_size": 8, "mode": "train", "data": "synthetic",
              "log.log_path": str(path), **parameters}
    entries = [("PARAMETER", params), (5, {"train.ips": ips})]
    if evaluation:
        top1, top5, n = evaluation
        entries.append((6, {"eval.top1": top1, "eval.top5": top5,
                            "eval.examples": n}))
    if summary:
        entries.append(([], {"train.total_ips": ips,
                             "train.step_time_p50_ms": 8000 / ips,
                             "train.step_time_p90_ms": 8800 / ips,
                             "train.compile_time_s": 2.0}))
    text = "".join("DLLL " + json.dumps({"type": "LOG", "step": step,
                                         "data": data}) + "\n"
                   for step, data in entries)
    with open(path, "w") as f:
        f.write(text[:-30] if cut else text)
    return str(path)


def write_side(folder, values, **kw):
    os.makedirs(folder, exist_ok=True)
    return [write_log(os.path.join(folder, f"run{i}.json"), v, **kw)
            for i, v in enumerate(values)]


def run_cli(argv, capsys):
    status = compare_cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def verdicts(out_json):
    return {f["name"]: f["verdict"]
            for g in json.loads(out_json)["groups"] for f in g["figures"]}


# --- statistics ---------------------------------------------------------

def test_u_test_exact_values():
    _, p = stats.mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert p == pytest.approx(2 / math.comb(10, 5))
    # 3 vs 3: U takes 0..9 in 1,1,2,3,3,3,3,2,1,1 of the 20 orderings.
    _, p = stats.mann_whitney([1, 3, 5], [2, 4, 6])  # U = 3: 2 x 7/20
    assert p == pytest.approx(0.7)
    _, p = stats.mann_whitney([1, 4, 5], [2, 3, 6])  # U = 4: the middle
    assert p == pytest.approx(1.0)
    # U = 1 of 16 (4 vs 4): P(U <= 1) = 2/70 each tail.
    _, p = stats.mann_whitney([1, 2, 3, 5], [4, 6, 7, 8])
    assert p == pytest.approx(4 / 70)


def test_u_test_large_samples_use_the_normal_approximation():
    rng = np.random.default_rng(0)
    a = list(rng.normal(100, 3, 40))
    _, p_same = stats.mann_whitney(a, list(rng.normal(100, 3, 40)))
    _, p_shift = stats.mann_whitney(a, list(rng.normal(90, 3, 40)))
    assert p_shift < 1e-6 < p_same


def test_runs_needed_before_the_test_can_decide():
    assert stats.runs_to_decide(1, 1, 0.05) == 3   # 4 a side: 2/70 < 0.05
    assert stats.runs_to_decide(4, 4, 0.05) == 0
    assert stats.runs_to_decide(4, 4, 0.01) == 1   # 5 a side: 2/252


def test_wilson_and_newcombe_intervals():
    low, high = stats.wilson(0, 10)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = stats.difference_interval(700, 1000, 600, 1000)
    assert high < 0 and low > -0.15


# --- verdicts on written logs -------------------------------------------

def test_a_a_with_jitter_says_same_or_unknown(tmp_path, capsys):
    rng = np.random.default_rng(1)
    for trial in range(5):
        a = write_side(tmp_path / f"a{trial}", rng.normal(100, 4, 5))
        b = write_side(tmp_path / f"b{trial}", rng.normal(100, 4, 5))
        status, out, _ = run_cli([",".join(a), ",".join(b), "--json"], capsys)
        assert status == 0
        assert set(verdicts(out).values()) <= {"SAME", "UNKNOWN"}


def test_a_twenty_percent_slowdown_with_jitter_says_slower(tmp_path, capsys):
    rng = np.random.default_rng(2)
    write_side(tmp_path / "a", rng.normal(100, 4, 5))
    write_side(tmp_path / "b", rng.normal(80, 4, 5))
    status, out, _ = run_cli([str(tmp_path / "a"), str(tmp_path / "b")], capsys)
    assert status == 1
    img_row = next(line for line in out.splitlines() if line.startswith("img/s"))
    assert "SLOWER" in img_row
    status, out, _ = run_cli([str(tmp_path / "b"), str(tmp_path / "a"),
                              "--json"], capsys)
    assert status == 0 and verdicts(out)["img/s"] == "FASTER"


def test_one_run_a_side_is_unknown_and_says_how_many_more(tmp_path, capsys):
    a = write_log(tmp_path / "a.json", 100)
    b = write_log(tmp_path / "b.json", 50)
    status, out, _ = run_cli([a, b], capsys)
    assert status == 0
    img_row = next(line for line in out.splitlines() if line.startswith("img/s"))
    assert "UNKNOWN" in img_row and "3 more runs a side" in img_row


def test_a_small_real_change_is_same(tmp_path):
    """Significant but within the threshold: it does not count."""
    base = compare.speed_figure("img/s", [100, 100.5, 101, 101.5, 102],
                                [97, 97.5, 98, 98.5, 99], True, 0.05, 0.05)
    assert base.p < 0.05 and base.verdict == compare.SAME


def test_a_big_change_the_runs_cannot_confirm_is_unknown():
    f = compare.speed_figure("img/s", [100, 60, 101, 59, 100],
                             [60, 99, 61, 100, 58], True, 0.05, 0.05)
    assert f.verdict == compare.UNKNOWN and "more runs a side" in f.note


def test_mismatched_settings_are_refused_naming_them(tmp_path, capsys):
    write_side(tmp_path / "a", [100, 101], model="vgg11")
    write_side(tmp_path / "b", [100, 101], model="vgg16")
    status, out, err = run_cli([str(tmp_path / "a"), str(tmp_path / "b")],
                               capsys)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "model.name" in err and "--ignore_setting" in err
    status, _, _ = run_cli([str(tmp_path / "a"), str(tmp_path / "b"),
                            "--ignore_setting=model.name"], capsys)
    assert status == 0


def test_paths_are_ignored_but_whether_data_is_read_is_not(tmp_path, capsys):
    a = write_log(tmp_path / "a.json", 100, **{"data.data_dir": "/x/one"})
    b = write_log(tmp_path / "b.json", 100, **{"data.data_dir": "/y/two"})
    c = write_log(tmp_path / "c.json", 100)
    assert run_cli([a, b], capsys)[0] == 0
    status, _, err = run_cli([a, c], capsys)
    assert status == 2 and "data.data_dir" in err
    assert settings_key.kind("log.log_path") == settings_key.IGNORED
    assert settings_key.kind("model.precision") == "work"


def test_groups_compare_like_with_like(tmp_path, capsys):
    write_side(tmp_path / "a", [100] * 4, model="vgg11")
    write_side(tmp_path / "a16", [50] * 4, model="vgg16")
    write_side(tmp_path / "b", [100] * 4, model="vgg11")
    write_side(tmp_path / "b16", [40] * 4, model="vgg16")
    status, out, _ = run_cli([f"{tmp_path}/a,{tmp_path}/a16",
                              f"{tmp_path}/b,{tmp_path}/b16", "--json"], capsys)
    groups = json.loads(out)["groups"]
    by_model = {g["settings"]["model.name"]: g["figures"][0]["verdict"]
                for g in groups}
    assert by_model == {"vgg11": "SAME", "vgg16": "SLOWER"} and status == 1


def test_truncated_and_unreadable_logs_are_named(tmp_path, capsys):
    write_side(tmp_path / "a", [100, 101, 99, 100])
    write_side(tmp_path / "b", [100, 101, 99])
    cut = write_log(tmp_path / "b" / "cut.json", 100, cut=True)
    junk = tmp_path / "b" / "junk.log"
    junk.write_text("not a log\n")
    status, out, err = run_cli([str(tmp_path / "a"), str(tmp_path / "b")],
                               capsys)
    assert status == 2 and "img/s" in out  # the rest is still compared
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert any(cut in line and "cut off" in line for line in lines)
    assert any(str(junk) in line and "not a dllogger log" in line
               for line in lines)
    status, _, err = run_cli([str(tmp_path / "a"), str(tmp_path / "none")],
                             capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert str(tmp_path / "none") in err and "does not exist" in err
    (tmp_path / "empty").mkdir()
    status, _, err = run_cli([str(tmp_path / "a"), str(tmp_path / "empty")],
                             capsys)
    assert status == 2 and "no finished logs for the new side" in err


def test_accuracy_interval_from_the_examples(tmp_path, capsys):
    a = write_log(tmp_path / "a.json", 100, evaluation=(0.70, 0.90, 5000))
    b = write_log(tmp_path / "b.json", 100, evaluation=(0.60, 0.90, 5000))
    status, out, _ = run_cli([a, b, "--json"], capsys)
    assert status == 1 and verdicts(out)["eval top-1"] == "WORSE"
    assert verdicts(out)["eval top-5"] == "UNKNOWN"  # +/-1.2 points > 1
    c = write_log(tmp_path / "c.json", 100, evaluation=(0.70, 0.90, 100000))
    d = write_log(tmp_path / "d.json", 100, evaluation=(0.70, 0.90, 100000))
    status, out, _ = run_cli([c, d, "--json"], capsys)
    assert status == 0 and verdicts(out)["eval top-5"] == "SAME"


def test_plot_is_written(tmp_path, capsys):
    write_side(tmp_path / "a", [100, 101, 99, 100])
    write_side(tmp_path / "b", [80, 81, 79, 80])
    png = tmp_path / "cmp.png"
    status, _, err = run_cli([str(tmp_path / "a"), str(tmp_path / "b"),
                              f"--plot={png}"], capsys)
    assert status == 1 and png.stat().st_size > 1000 and str(png) in err


def test_usage_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        compare_cli.main([str(tmp_path)])
    assert e.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# --- vggbench-ab and real runs ------------------------------------------

def test_ab_interleaves():
    assert [s for s, _ in ab.order(3)] == ["a", "b", "b", "a", "a", "b"]
    assert ab.command_line("run {log}", "/t/x y.json") == "run '/t/x y.json'"
    assert ab.command_line("run", "/t/x.json") == "run --log_path=/t/x.json"


def test_calibration_blocks_follow_ab_order():
    blocks = calibrate.aa_blocks(list(range(9)), 2)  # the 9th run left over
    assert blocks == [([0, 3], [1, 2]), ([4, 7], [5, 6])]


def test_ab_stops_a_run_past_its_timeout_and_keeps_the_others(tmp_path):
    done = write_log(tmp_path / "done.json", 100)
    out = tmp_path / "ab"
    proc = subprocess.run(
        [PYTHON, "scripts/ab.py", "--a=sleep 60; echo {log}",
         f"--b=cp {done} {{log}}", "--rounds=1", f"--out={out}",
         "--timeout=1"], capture_output=True, text=True, timeout=60,
        cwd=REPO)
    assert proc.returncode == 2
    assert "A run 1 stopped after --timeout=1 s" in proc.stderr
    assert os.listdir(out / "b") == ["b001.json"]


@pytest.fixture(scope="module")
def real_ab(tmp_path_factory):
    """vggbench-ab over two tiny real training commands, one round."""
    out = tmp_path_factory.mktemp("ab") / "runs"
    command = f"{PYTHON} {TINY.format(model='vgg11')}"
    proc = subprocess.run(
        [PYTHON, "scripts/ab.py", f"--a={command}", f"--b={command}",
         "--rounds=1", f"--out={out}", "--timeout=240", "--json"],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    return out, proc


def test_ab_end_to_end_on_real_runs(real_ab):
    out, proc = real_ab
    assert proc.returncode == 0, proc.stderr
    assert "[1/2] A run 1" in proc.stderr and "[2/2] B run 1" in proc.stderr
    figures = verdicts(proc.stdout)
    assert figures["img/s"] == "UNKNOWN"  # one run a side
    assert sorted(os.listdir(out / "a")) == ["a001.json"]


def test_real_vgg11_against_vgg16_is_refused_naming_the_model(real_ab,
                                                               tmp_path,
                                                               repo_dir):
    out, _ = real_ab
    log = tmp_path / "vgg16.json"
    subprocess.run([PYTHON, *TINY.format(model="vgg16").split(),
                    f"--log_path={log}"], capture_output=True, timeout=300,
                   cwd=repo_dir, check=True)
    proc = subprocess.run([PYTHON, "scripts/compare.py", str(out / "a"),
                           str(log)], capture_output=True, text=True,
                          timeout=120, cwd=repo_dir)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "model.name" in proc.stderr and '"vgg11"' in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
