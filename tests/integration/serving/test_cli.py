"""`tfxgan predict`, `model-status`, `model-metadata` against the local server."""
from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image

from serving import testing
from tfx_pipeline.cli import main as tfxgan
from trainer import features as F
from trainer import registry

from .conftest import SIZE


def _read_png(path):
    return np.asarray(Image.open(io.BytesIO(path.read_bytes())))


def test_predict_images_over_grpc_writes_generated_pngs(server, tmp_path, in_process, capsys):
    files = []
    for i in range(3):
        p = tmp_path / f"in{i}.png"
        p.write_bytes(testing.random_png(SIZE, seed=i))
        files.append(p)
    rc = tfxgan(["predict", "--server", server.grpc_address, "--model", "pix2pix_wgan_gp",
                   "--batch-size", "2", "--output", str(tmp_path / "out"), *map(str, files)])
    assert rc == 0
    written = capsys.readouterr().out.split()
    assert len(written) == 3
    want = in_process("pix2pix_wgan_gp",
                      {F.IN_IMAGES: np.array([f.read_bytes() for f in files], dtype=object)})
    for i, f in enumerate(files):
        out = tmp_path / "out" / f"{f.stem}_pix2pix_wgan_gp.png"
        assert str(out) in written
        np.testing.assert_array_equal(_read_png(out), want[F.OUT_PIXELS][i, ..., 0])


def test_predict_seeds_over_rest(server, tmp_path, in_process):
    rc = tfxgan(["predict", "--rest", "--server", server.rest_address, "--model", "vanilla_gan",
                   "--count", "3", "--seed", "10", "--output", str(tmp_path)])
    assert rc == 0
    want = in_process("vanilla_gan", {F.IN_SEEDS: np.arange(10, 13, dtype=np.int64)})
    for i, s in enumerate(range(10, 13)):
        got = _read_png(tmp_path / f"seed_{s}_vanilla_gan.png")
        np.testing.assert_array_equal(got, want[F.OUT_PIXELS][i, ..., 0])


def test_predict_inpainting_with_masks_and_version(server, tmp_path):
    inputs = testing.sample_inputs(registry.INPAINTING, 1, SIZE)
    img, mask = tmp_path / "img.png", tmp_path / "mask.png"
    img.write_bytes(inputs[F.IN_IMAGES][0])
    mask.write_bytes(inputs[F.IN_MASKS][0])
    rc = tfxgan(["predict", "--server", server.grpc_address, "--model", "pconv_inpainting",
                   "--version", "1", str(img), "--masks", str(mask), "--output", str(tmp_path)])
    assert rc == 0 and (tmp_path / "img_pconv_inpainting.png").exists()


def test_status_and_metadata_commands(server, capsys):
    for flags in (["--server", server.grpc_address], ["--rest", "--server", server.rest_address]):
        assert tfxgan(["model-status", *flags, "--model", "vanilla_gan"]) == 0
        st = json.loads(capsys.readouterr().out)
        assert st["model_version_status"][0]["state"] == "AVAILABLE"
        assert tfxgan(["model-metadata", *flags, "--model", "vanilla_gan"]) == 0
        md = json.loads(capsys.readouterr().out)
        assert F.SERVING_SIGNATURE in md["metadata"]["signature_def"]["signature_def"]


def test_errors_show_status_code_and_message(server, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    rc = tfxgan(["predict", "--server", server.grpc_address, "--model", "pix2pix_wgan_gp",
                   str(bad), "--output", str(tmp_path)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "INVALID_ARGUMENT: " in err and "images: every value must be a PNG or JPEG image" in err
    rc = tfxgan(["model-status", "--server", server.grpc_address, "--model", "nope"])
    assert rc == 1
    assert "NOT_FOUND: Could not find any versions of model nope" in capsys.readouterr().err
    rc = tfxgan(["predict", "--rest", "--server", server.rest_address, "--model", "vanilla_gan",
                   "--count", "1", "--label", "canary", "--output", str(tmp_path)])
    assert rc == 1
    assert "INVALID_ARGUMENT: Unrecognized servable version label: canary" in \
        capsys.readouterr().err
    # Wrong inputs for the kind are refused before anything is sent.
    rc = tfxgan(["predict", "--server", server.grpc_address, "--model", "vanilla_gan",
                   str(bad), "--output", str(tmp_path)])
    assert rc == 1 and "--count" in capsys.readouterr().err


def test_serve_command_runs_until_sigterm(config_dir, tmp_path):
    """`tfxgan serve` in its own process: prints its ports, serves, stops cleanly on SIGTERM."""
    from serving.client import GrpcClient, RestClient
    from serving.config import write_serving_configs

    mon = write_serving_configs(tmp_path, "/unused", gans=["dcgan"],
                                prometheus_path="/metrics")["monitoring.config"]
    server = testing.ServeProcess(
        ["--model-config-file", config_dir / "models.config", "--port", "0",
         "--rest-api-port", "0", "--monitoring-config-file", mon,
         "--file-system-poll-wait-seconds", "0"], log_path=tmp_path / "serve.log")
    try:
        assert server.rest is not None, "REST is on: its address must be printed"
        with GrpcClient(server.grpc) as g, RestClient(server.rest) as r:
            assert g.predict("vanilla_gan", {F.IN_SEEDS: np.array([1], np.int64)}).version == 1
            status, body = r.request("GET", "/metrics")
            assert status == 200 and b"request_count" in body
        assert server.rss_mb() > 0
    finally:
        code = server.stop()
    assert code == 0, (tmp_path / "serve.log").read_text()[-3000:]   # SIGTERM: a clean exit
    assert server.poll() == 0 and server.rss_mb() is None


def test_serve_process_names_the_exit_of_a_server_that_did_not_start(tmp_path):
    import pytest
    with pytest.raises(RuntimeError, match=r"tfxgan serve did not start \(exit [1-9]\d*\): "
                                           r"printed ''; see .*serve.log"):
        testing.ServeProcess(["--model-config-file", tmp_path / "missing.config", "--port", "0"],
                             log_path=tmp_path / "serve.log")
    assert "missing.config" in (tmp_path / "serve.log").read_text()


def test_address_line_round_trips():
    from serving.server import address_line, parse_address_line
    assert parse_address_line(address_line("127.0.0.1:8500", "127.0.0.1:8501") + "\n") == (
        "127.0.0.1:8500", "127.0.0.1:8501")
    assert parse_address_line(address_line("[::]:1", None)) == ("[::]:1", None)
    assert parse_address_line("Traceback (most recent call last):") is None
