"""Soak test of the local server: sustained mixed traffic, a version pushed and removed mid-run.

``tfxgan serve`` runs as a subprocess (``python -m tfx_pipeline.cli serve``), so a
crash shows as an exit code. Four stand-in generators (``serving.testing``,
with a Conv2D so the oneDNN convolution kernels run) are served: paired,
inpainting and two unconditional ones. ``--clients`` threads send valid gRPC
and REST predict requests of batch 1-4 to every model, with malformed requests
(bad dtype, shape, image bytes, model name, framing, a huge declared batch)
interleaved. At a third of the run a new version of one model is copied in;
at two thirds it is removed again.

Reported: crashes (server exit code), failed valid requests, malformed
requests answered with INTERNAL/UNKNOWN (a server bug) or not answered, p50 /
p99 latency of valid requests, and the server's RSS over time. The process
exits non-zero when any of the first three is not zero.

Usage (the target run is 10 minutes)::

    .venv/bin/python bench/soak_serving.py --duration 600 --clients 8 \\
        --out bench/results/soak_serving.json
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from serving import testing  # noqa: E402
from trainer import features as F  # noqa: E402
from trainer import registry  # noqa: E402

MODELS = {  # served name -> kind (registry names, so the generated models.config is the real one)
    name: registry.get(name).kind
    for name in ("pix2pix_wgan_gp", "pconv_inpainting", "vanilla_gan", "dcgan")
}
PUSHED_MODEL = "dcgan"  # gets version 2 copied in, then removed
BAD_CODES = {"INTERNAL", "UNKNOWN"}  # a malformed request must never get these


def write_models(root: Path, size: int) -> Path:
    """Version 1 of every model, and a staged version 2 of PUSHED_MODEL under root/staged."""
    for name, kind in MODELS.items():
        testing.write_standin_model(root / name, 1, kind, size=size, channels=1, conv=True,
                                    model_name=name, warmup_records=1)
    testing.write_standin_model(root / "staged", 2, MODELS[PUSHED_MODEL], size=size, channels=1,
                                conv=True, model_name=PUSHED_MODEL, warmup_records=1)
    return root / "staged" / "2"


def start_server(config: Path, log_path: Path, poll_s: float = 1.0) -> testing.ServeProcess:
    """``tfxgan serve`` in its own process, gRPC and REST on free ports."""
    return testing.ServeProcess(["--model-config-file", config, "--port", "0",
                                 "--rest-api-port", "0",
                                 "--file-system-poll-wait-seconds", poll_s], log_path)


def _valid_inputs(kind: str, batch: int, size: int, rng) -> dict:
    return testing.sample_inputs(kind, batch, size, channels=1, seed=int(rng.integers(1 << 20)))


def _malformed(i: int, grpc_c, rest_c, rest_address: str, size: int):
    """The i-th malformed request (cycling through the kinds); returns its status code name."""
    from serving.errors import ServingError

    kinds = ["wrong dtype", "bad image", "unknown model", "huge declared batch", "wrong rank",
             "REST bad JSON", "REST Content-Length -1", "REST list signature_name"]
    kind = kinds[i % len(kinds)]
    try:
        if kind == "wrong dtype":
            grpc_c.predict("vanilla_gan", {F.IN_SEEDS: np.array([1.5])})
        elif kind == "bad image":
            grpc_c.predict("pix2pix_wgan_gp", {F.IN_IMAGES: np.array([b"not a png"], object)})
        elif kind == "unknown model":
            grpc_c.predict(f"no_such_model_{i}", {F.IN_SEEDS: np.array([1])})
        elif kind == "huge declared batch":
            req = grpc_c.predict_request("vanilla_gan", {F.IN_SEEDS: np.array([1], np.int64)})
            t = req.inputs[F.IN_SEEDS]
            t.ClearField("tensor_content")
            t.tensor_shape.dim[0].size = 1 << 20
            t.int64_val.append(3)
            grpc_c.predict_raw(req)
        elif kind == "wrong rank":
            grpc_c.predict("pconv_inpainting", {F.IN_IMAGES: np.array([[b"x"]], object),
                                                F.IN_MASKS: np.array([[b"x"]], object)})
        elif kind == "REST bad JSON":
            status, _ = rest_c.request("POST", "/v1/models/vanilla_gan:predict", b"{not json")
            return f"HTTP {status}"
        elif kind == "REST Content-Length -1":
            host, port = rest_address.rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=30) as s:
                s.sendall(b"POST /v1/models/vanilla_gan:predict HTTP/1.1\r\n"
                          b"Content-Length: -1\r\n\r\n" b'{"instances": [1]}')
                head = s.recv(64)
            m = re.match(rb"HTTP/1.1 (\d+)", head)
            return f"HTTP {int(m.group(1))}" if m else "no answer"
        else:
            status, _ = rest_c.request("POST", "/v1/models/vanilla_gan:predict",
                                       json.dumps({"signature_name": ["x"],
                                                   "instances": [1]}).encode())
            return f"HTTP {status}"
    except ServingError as e:
        return e.code.name
    except OSError as e:
        return f"no answer ({type(e).__name__})"
    return "OK"


def _bad_answer(code: str) -> bool:
    return code in BAD_CODES or code == "OK" or code.startswith("no answer") or \
        code.startswith("HTTP 5") or code == "HTTP 200"


def run(duration_s: float = 600.0, clients: int = 8, size: int = 32, malformed_every: int = 5,
        rss_every_s: float = 5.0, workdir: str | None = None, model_root: Path | None = None,
        models: dict[str, str] | None = None, pushed_model: str = PUSHED_MODEL) -> dict:
    """Run the soak; returns the report. With ``model_root`` (``<name>/1`` stand-ins of
    ``size``, one channel, for each of ``models``) those are copied instead of written, and
    the version pushed mid-run is a copy of ``pushed_model``'s version 1."""
    from serving.client import GrpcClient, RestClient, ServingError
    from serving.config import write_serving_configs

    models = dict(models or MODELS)
    tmp = Path(workdir or tempfile.mkdtemp(prefix="soak-serving-"))
    root = tmp / "models"
    if model_root is None:
        staged = write_models(root, size)
    else:
        for name in models:
            shutil.copytree(Path(model_root) / name / "1", root / name / "1")
        staged = root / pushed_model / "1"
    cfg = write_serving_configs(tmp / "cfg", str(root), gans=list(models))["models.config"]
    server = start_server(cfg, tmp / "server.log")
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    malformed: dict[str, int] = {}
    bad_malformed: list[str] = []
    versions: dict[int, int] = {}
    stop = threading.Event()
    t_start = time.monotonic()

    def client(idx: int):
        rng = np.random.default_rng(idx)
        names = list(models)
        with GrpcClient(server.grpc, timeout=60) as g, RestClient(server.rest, timeout=60) as r:
            i = 0
            while not stop.is_set():
                i += 1
                if i % malformed_every == 0:
                    code = _malformed(idx * 100003 + i, g, r, server.rest, size)
                    with lock:
                        malformed[code] = malformed.get(code, 0) + 1
                        if _bad_answer(code):
                            bad_malformed.append(code)
                    continue
                name = names[int(rng.integers(len(names)))]
                batch = int(rng.integers(1, 5))
                inputs = _valid_inputs(models[name], batch, size, rng)
                use_rest = rng.random() < 0.25
                t0 = time.perf_counter()
                try:
                    out = (r if use_rest else g).predict(name, inputs)
                    shape = out[F.OUT_PIXELS].shape
                    if shape != (batch, size, size, 1):
                        raise ValueError(f"{name}: output shape {shape}, batch {batch}")
                except (ServingError, ValueError, OSError) as e:
                    if stop.is_set() and server.poll() is not None:
                        return
                    with lock:
                        failures.append(f"{'REST' if use_rest else 'gRPC'} {name} batch "
                                        f"{batch}: {e}")
                    continue
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    if name == pushed_model and not use_rest:
                        versions[out.version] = versions.get(out.version, 0) + 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    rss: list[tuple[float, float]] = []
    events: list[tuple[float, str]] = []
    pushed = removed = False
    exit_code = None
    while (now := time.monotonic() - t_start) < duration_s:
        if server.poll() is not None:
            exit_code = server.poll()
            break
        if not pushed and now >= duration_s / 3:
            incoming = root / pushed_model / ".incoming-2"
            shutil.copytree(staged, incoming)
            incoming.rename(root / pushed_model / "2")
            events.append((round(now, 1), "version 2 copied in"))
            pushed = True
        if not removed and now >= 2 * duration_s / 3:
            shutil.rmtree(root / pushed_model / "2")
            events.append((round(now, 1), "version 2 removed"))
            removed = True
        mb = server.rss_mb()
        if mb is not None:
            rss.append((round(now, 1), round(mb, 1)))
        stop.wait(rss_every_s)
    stop.set()
    for t in threads:
        t.join(120)
    died = server.poll()            # exited on its own before being stopped: a crash
    server.stop()
    exit_code = exit_code if exit_code is not None else died
    lat = np.array(latencies) * 1e3 if latencies else np.zeros(1)
    rss_values = [v for _, v in rss] or [0.0]
    report = {
        "duration_s": round(time.monotonic() - t_start, 1), "clients": clients, "size": size,
        "models": list(models), "crashes": 0 if exit_code is None else 1,
        "server_exit_code": exit_code,
        "valid_ok": len(latencies), "valid_failed": len(failures),
        "failures": failures[:20],
        "malformed": malformed, "malformed_bad_answers": len(bad_malformed),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "requests_per_s": round(len(latencies) / max(duration_s, 1e-9), 1),
        "rss_mb": {"first": rss_values[0], "max": max(rss_values), "last": rss_values[-1],
                   "samples": rss},
        "pushed_model_versions_served": {str(k): v for k, v in sorted(versions.items())},
        "events": events, "server_log": str(tmp / "server.log"),
    }
    if workdir is None and report["crashes"] == 0:
        shutil.rmtree(tmp / "models", ignore_errors=True)
    return report


def passed(report: dict) -> bool:
    return (report["crashes"] == 0 and report["valid_failed"] == 0
            and report["malformed_bad_answers"] == 0 and report["valid_ok"] > 0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--size", type=int, default=32, help="stand-in image size")
    p.add_argument("--malformed-every", type=int, default=5,
                   help="every N-th request of a client is malformed")
    p.add_argument("--out", help="write the JSON report here")
    args = p.parse_args(argv)
    report = run(args.duration, args.clients, args.size, args.malformed_every)
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    summary = {k: v for k, v in report.items() if k not in ("rss_mb", "failures")}
    summary["rss_mb"] = {k: v for k, v in report["rss_mb"].items() if k != "samples"}
    print(json.dumps(summary, indent=2))
    for f in report["failures"]:
        print("FAILED:", f, file=sys.stderr)
    return 0 if passed(report) else 1


if __name__ == "__main__":
    sys.exit(main())
