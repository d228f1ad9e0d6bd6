"""A short soak (bench/soak_serving.py): `tfxgan serve` as a subprocess under 8 clients of mixed
valid and malformed traffic while a version is pushed and removed; any crash or failed valid
request fails the test. The 10-minute run is the benchmark itself (BENCHMARKS.md)."""
from __future__ import annotations

from pathlib import Path

from .conftest import MODELS, SIZE


def test_short_soak_has_no_crash_and_no_failed_valid_request(model_root, tmp_path):
    from bench import soak_serving

    report = soak_serving.run(duration_s=24, clients=8, size=SIZE, rss_every_s=1.0,
                              workdir=str(tmp_path), model_root=model_root, models=MODELS,
                              pushed_model="vanilla_gan")
    log_tail = Path(report["server_log"]).read_text()[-3000:]
    assert report["crashes"] == 0, f"server exit code {report['server_exit_code']}\n{log_tail}"
    assert report["valid_failed"] == 0, report["failures"]
    assert report["malformed_bad_answers"] == 0, report["malformed"]
    assert report["valid_ok"] >= 50 and sum(report["malformed"].values()) >= 10, report
    # The pushed version took traffic, and requests went on after it was removed.
    assert report["pushed_model_versions_served"].get("2", 0) > 0, report
    assert [e for _, e in report["events"]] == ["version 2 copied in", "version 2 removed"]
