"""bench/bench_class_shares.py, the command docs/EVALUATION.md gives, for 8 steps:
the raw generator's class shares along the run and every kept weight average scored."""
import json

import pytest

from support.bench import run_bench

# About a minute; the default suite is close to its 30-minute budget on 2 cores.
pytestmark = [pytest.mark.tfx, pytest.mark.slow]


def test_bench_class_shares_scores_the_trajectory_and_the_averages(tmp_path):
    out = tmp_path / "shares.json"
    proc = run_bench("bench_class_shares.py", "--gan", "dcgan", "--seeds", "0", "--steps", "8",
                     "--every", "4", "--samples", "64", "--json", str(out), timeout=900)
    result = json.loads(out.read_text())
    assert result["gan"] == "dcgan" and result["steps"] == 8
    (row,) = result["rows"]
    assert [t["step"] for t in row["trajectory"]] == [4, 8]
    assert set(row["final"]) == {"raw", "ema0.995w", "ema0.999@2", "ema0.998@2", "tail@4",
                                 "tail@6"}
    for s in [*row["trajectory"], *row["final"].values()]:
        assert 0.0 <= s["tv"] <= 1.0 and 0 <= s["top"] < 10
        assert s["least_share"] <= 0.1 <= s["top_share"]
    assert all(v["fd_x_floor"] > 0 for v in row["final"].values())
    assert "TV" in proc.stdout and "real-vs-real" in proc.stdout
