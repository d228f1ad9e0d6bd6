"""Warmup replay, version hot-swap under load, version labels and server-side batching."""
from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest

from serving import testing
from serving.errors import ServingError
from trainer import features as F
from trainer import registry

from .conftest import SIZE

GAN = "vanilla_gan"
WARMUP = 3


@pytest.fixture(scope="module")
def versions_root(tmp_path_factory):
    """vanilla_gan versions 1 and 2 (different biases), 3 warmup records each."""
    root = tmp_path_factory.mktemp("versions")
    for v in (1, 2):
        testing.write_standin_model(root / GAN, v, registry.UNCONDITIONAL,
                                    size=SIZE, model_name=GAN, warmup_records=WARMUP)
    return root


@pytest.fixture(scope="module")
def expected(versions_root):
    """Per-version in-process outputs for seeds 0..63."""
    import tensorflow as tf

    seeds = np.arange(64, dtype=np.int64)
    out = {}
    for v in (1, 2):
        fn = tf.saved_model.load(str(versions_root / GAN / str(v))).signatures[F.SERVING_SIGNATURE]
        out[v] = fn(seeds=tf.constant(seeds))[F.OUT_GENERATED].numpy()
    assert not np.allclose(out[1], out[2])
    return out


def _publish(src_version_dir, base, version):
    """Copy a version in under a temporary name, then rename it into place (atomic)."""
    tmp = base / f".incoming-{version}"
    shutil.copytree(src_version_dir, tmp)
    tmp.rename(base / str(version))


def _server(model_root, **kw):
    from serving.config import write_serving_configs
    from serving.server import LocalServer, ServerOptions

    cfg = write_serving_configs(model_root / "cfg", str(model_root), gans=[GAN],
                                stable=kw.pop("stable", None), canary=kw.pop("canary", None))
    return LocalServer(ServerOptions(model_config_file=str(cfg["models.config"]), **kw))


def test_warmup_requests_are_replayed_at_load(server):
    lv = server.manager.resolve("pix2pix_wgan_gp")
    assert lv.warmup_replayed == 2
    lv = server.manager.resolve("vanilla_gan")
    assert lv.warmup_replayed == 2


def test_version_with_failing_warmup_is_not_served(tmp_path, versions_root):
    from serving.client import GrpcClient

    base = tmp_path / GAN
    base.mkdir()
    _publish(versions_root / GAN / "1", base, 1)
    with _server(tmp_path, poll_seconds=0.2) as s, GrpcClient(s.grpc_address) as c:
        # Version 2's warmup request is garbage for this model: its load must fail.
        testing.write_standin_model(base, 2, registry.UNCONDITIONAL, size=SIZE, model_name=GAN,
                                    warmup_inputs=[{F.IN_SEEDS: np.array([[1, 2]], np.int64)}])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = {int(v["version"]): v for v in c.get_model_status(GAN)["model_version_status"]}
            if states.get(2, {}).get("state") == "END":
                break
            time.sleep(0.1)
        assert states[2]["state"] == "END"
        assert states[2]["status"]["error_code"] == "INVALID_ARGUMENT"
        assert "must have rank 1" in states[2]["status"]["error_message"]
        assert states[1]["state"] == "AVAILABLE"
        assert c.predict(GAN, {F.IN_SEEDS: np.array([0], np.int64)}).version == 1
        # Once the failed version's folder is removed, its error no longer shows in the status.
        shutil.rmtree(base / "2")
        deadline = time.monotonic() + 30
        while (time.monotonic() < deadline
               and len(c.get_model_status(GAN)["model_version_status"]) > 1):
            time.sleep(0.1)
        st = c.get_model_status(GAN)["model_version_status"]
        assert [(x["version"], x["state"], x["status"]["error_code"]) for x in st] == [
            ("1", "AVAILABLE", "OK")]


def test_hot_swap_under_concurrent_requests_has_zero_failures(tmp_path, versions_root, expected):
    from serving.client import GrpcClient, RestClient

    base = tmp_path / GAN
    base.mkdir()
    _publish(versions_root / GAN / "1", base, 1)
    errors, seen = [], []
    stop = threading.Event()

    with _server(tmp_path, poll_seconds=0.1) as s:
        def grpc_worker(i):
            versions = []
            with GrpcClient(s.grpc_address) as c:
                while not stop.is_set():
                    seeds = np.arange(i, i + 4, dtype=np.int64)
                    try:
                        r = c.predict(GAN, {F.IN_SEEDS: seeds}, timeout=30)
                    except ServingError as e:
                        errors.append(e)
                        continue
                    versions.append(r.version)
                    if not np.array_equal(r[F.OUT_GENERATED], expected[r.version][i:i + 4]):
                        errors.append(f"thread {i}: wrong values for version {r.version}")
            seen.append(versions)

        def rest_worker():
            with RestClient(s.rest_address) as c:
                while not stop.is_set():
                    try:
                        g = c.predict(GAN, {F.IN_SEEDS: np.arange(2, dtype=np.int64)})[F.OUT_GENERATED]
                    except ServingError as e:
                        errors.append(e)
                        continue
                    if not any(np.array_equal(g, expected[v][:2]) for v in (1, 2)):
                        errors.append("REST: values of neither version")

        threads = [threading.Thread(target=grpc_worker, args=(i,)) for i in range(4)]
        threads.append(threading.Thread(target=rest_worker))
        for t in threads:
            t.start()
        time.sleep(0.5)
        _publish(versions_root / GAN / "2", base, 2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and s.manager.available_versions(GAN) != [2]:
            time.sleep(0.05)
        time.sleep(0.5)  # keep requests flowing on the new version
        stop.set()
        for t in threads:
            t.join(60)
        status = s.manager.version_states(GAN)
        new_version = s.manager.resolve(GAN)

    assert errors == []
    assert len(seen) == 4 and all(seen_i for seen_i in seen)
    for versions in seen:  # each client moves from 1 to 2 once, never back
        assert versions == sorted(versions) and versions[-1] == 2
    assert any(1 in v for v in seen)
    assert [(v, st.state) for v, st in status] == [(2, "AVAILABLE"), (1, "END")]
    assert new_version.warmup_replayed == WARMUP  # warmed up before it took traffic


def test_version_labels_route_to_pinned_versions(tmp_path, versions_root):
    from serving.client import GrpcClient, RestClient

    base = tmp_path / GAN
    base.mkdir()
    for v in (1, 2):
        _publish(versions_root / GAN / str(v), base, v)
    with _server(tmp_path, stable=1, canary=2, poll_seconds=0) as s, \
            GrpcClient(s.grpc_address) as g, RestClient(s.rest_address) as r:
        seeds = {F.IN_SEEDS: np.array([5], np.int64)}
        assert g.predict(GAN, seeds, label="stable").version == 1
        assert g.predict(GAN, seeds, label="canary").version == 2
        assert g.predict(GAN, seeds).version == 2
        np.testing.assert_array_equal(r.predict(GAN, seeds, label="stable")[F.OUT_GENERATED],
                                      g.predict(GAN, seeds, version=1)[F.OUT_GENERATED])
        st = r.get_model_status(GAN, label="canary")["model_version_status"]
        assert [(x["version"], x["state"]) for x in st] == [("2", "AVAILABLE")]
        assert g.get_model_metadata(GAN, label="stable")["model_spec"]["version"] == "1"
        with pytest.raises(ServingError, match="Unrecognized servable version label: beta"):
            g.predict(GAN, seeds, label="beta")


def test_server_side_batching_merges_concurrent_requests(tmp_path, versions_root, expected):
    import concurrent.futures as cf

    from serving.client import GrpcClient
    from serving.config import BatchingConfig

    base = tmp_path / GAN
    base.mkdir()
    _publish(versions_root / GAN / "1", base, 1)
    batching = BatchingConfig(max_batch_size=8, batch_timeout_micros=50_000, num_batch_threads=1)
    with _server(tmp_path, poll_seconds=0, enable_batching=True, batching=batching) as s, \
            GrpcClient(s.grpc_address) as c:
        batcher = s.manager.resolve(GAN).batcher(F.SERVING_SIGNATURE)
        calls_before = batcher.batches_run  # the warmup requests
        with cf.ThreadPoolExecutor(16) as pool:
            futs = {i: pool.submit(c.predict, GAN, {F.IN_SEEDS: np.array([i], np.int64)})
                    for i in range(16)}
            for i, f in futs.items():
                np.testing.assert_array_equal(f.result()[F.OUT_GENERATED], expected[1][i:i + 1])
        assert batcher.rows_run - WARMUP == 16
        assert batcher.batches_run - calls_before < 16  # requests were merged
        with pytest.raises(ServingError, match="Task size 9 is larger than maximum input batch "
                                               "size 8") as e:
            c.predict(GAN, {F.IN_SEEDS: np.arange(9, dtype=np.int64)})
        assert e.value.code.name == "INVALID_ARGUMENT"


def test_bad_version_folders_are_ignored_and_polling_goes_on(tmp_path, versions_root):
    """A 20-digit folder (int64 overflow) and a non-ASCII digit folder are no versions: status
    stays OK and a real new version is still picked up."""
    from serving.client import GrpcClient

    base = tmp_path / GAN
    base.mkdir()
    _publish(versions_root / GAN / "1", base, 1)
    with _server(tmp_path, poll_seconds=0.1) as s, GrpcClient(s.grpc_address) as c:
        _publish(versions_root / GAN / "1", base, "9" * 20)
        _publish(versions_root / GAN / "1", base, "٣")
        time.sleep(0.5)  # a few polls over the bad folders
        _publish(versions_root / GAN / "2", base, 2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and s.manager.available_versions(GAN) != [2]:
            time.sleep(0.05)
        assert s.manager.available_versions(GAN) == [2]
        st = c.get_model_status(GAN)["model_version_status"]
        assert [(x["version"], x["state"]) for x in st] == [("2", "AVAILABLE"), ("1", "END")]
        assert all(x["status"]["error_code"] == "OK" for x in st)
        shutil.rmtree(base / ("9" * 20))
        assert c.predict(GAN, {F.IN_SEEDS: np.array([0], np.int64)}).version == 2
