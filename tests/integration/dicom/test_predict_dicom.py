"""`tfxgan predict --dicom`: a real CT series through a served pix2pix generator.

The generator is a pointwise stand-in exported by ``trainer.export`` with the
real serving signatures (the project's Transform graph, CT window (0, 2000)),
served by the local TF-Serving-API server; its input (64x64) is smaller than
the slices (160x200), so slices are tiled and blended.
"""
from __future__ import annotations

import numpy as np
import pydicom
import pytest

from serving import dicom_series as D
from support.dicom import (BAD_SERIES, STANDIN_WINDOW, bad_series, expected_hu, pointwise,
                           write_series)
from support.transform_graph import Filter, ct_small_items, write_examples, write_transform_graph
from tfx_pipeline.cli import main as tfxgan
from trainer import features as F

MODEL = "pix2pix_wgan_gp"
VERSION = 3
SIZE = 64
WINDOW = STANDIN_WINDOW


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from trainer import registry
    from trainer.export import export_generator
    import tensorflow_transform as tft

    root = tmp_path_factory.mktemp("dicom_model")
    examples = write_examples(ct_small_items(6, SIZE), root)
    hp = registry.get(MODEL).hparams(dict(image_size=SIZE, channels=1, base_filters=8))
    shapes = registry.get(MODEL).load().input_shapes(hp)
    transform = write_transform_graph(examples, shapes, 16, root / "transform")
    path = root / "models" / MODEL / str(VERSION)
    export_generator(MODEL, Filter(pointwise), hp, str(path), tft.TFTransformOutput(transform),
                     is_ct=True, ct_window=WINDOW)
    return path


@pytest.fixture(scope="module")
def ct_server(model_dir):
    from serving.server import LocalServer, ServerOptions

    s = LocalServer(ServerOptions(model_name=MODEL, model_base_path=str(model_dir.parent),
                                  poll_seconds=0))
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def direct(model_dir):
    """The exported model called in-process (no server): examples [N] -> pixels [N, H, W, 1]."""
    import tensorflow as tf
    fn = tf.saved_model.load(str(model_dir)).signatures[F.EXAMPLE_SIGNATURE]
    return lambda examples: fn(examples=tf.constant(examples))[F.OUT_PIXELS].numpy()


def _predict(server, series, out, *extra, rest=False):
    addr = server.rest_address if rest else server.grpc_address
    return tfxgan(["predict", "--dicom", str(series), "--output", str(out), "--model", MODEL,
                     "--server", addr, "--batch-size", "5", *(["--rest"] if rest else []),
                     *extra])


def _read(out):
    return [pydicom.dcmread(str(p)) for p in sorted(out.iterdir())]


def _hu(ds):
    return ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def test_predict_dicom_writes_a_derived_series(ct_server, direct, tmp_path, capsys):
    write_series(tmp_path / "in", n=4, shape=(160, 200))
    source = D.read_series(tmp_path / "in")
    assert _predict(ct_server, tmp_path / "in", tmp_path / "out") == 0
    printed = capsys.readouterr().out.split()
    out = _read(tmp_path / "out")
    assert len(out) == len(source) == len(printed) == 4
    assert len({d.SeriesInstanceUID for d in out}) == 1
    assert out[0].SeriesInstanceUID != source[0].dataset.SeriesInstanceUID
    for d, s in zip(out, source):
        src = s.dataset
        assert d.SOPInstanceUID != src.SOPInstanceUID
        for tag in ("StudyInstanceUID", "PatientID", "PatientName", "ImagePositionPatient",
                    "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "WindowCenter",
                    "WindowWidth"):
            assert d[tag].value == src[tag].value, tag
        assert list(d.ImageType)[:2] == ["DERIVED", "SECONDARY"]
        assert f"{MODEL} v{VERSION}" in d.SeriesDescription
        assert f"{MODEL} version {VERSION}" in d.DerivationDescription
        assert (d.Rows, d.Columns) == (160, 200)
        hu = _hu(d)
        # Within the generator's quantisation (1 HU) of the model applied pointwise ...
        assert np.max(np.abs(hu - expected_hu(s.hu))) <= 1.0
        # ... and exactly what calling the exported model directly gives.
        np.testing.assert_array_equal(hu, np.rint(D.denoise_slice(s, direct, (SIZE, SIZE))))
    z = [float(d.ImagePositionPatient[2]) for d in out]
    assert z == sorted(z) and len(set(z)) == 4


def test_predict_dicom_over_rest_gives_the_grpc_result(ct_server, tmp_path):
    write_series(tmp_path / "in", n=2, shape=(160, 200))
    assert _predict(ct_server, tmp_path / "in", tmp_path / "grpc") == 0
    assert _predict(ct_server, tmp_path / "in", tmp_path / "rest", rest=True) == 0
    for a, b in zip(_read(tmp_path / "grpc"), _read(tmp_path / "rest")):
        np.testing.assert_array_equal(a.pixel_array, b.pixel_array)


@pytest.mark.parametrize("shape", [(160, 200), (40, 50)])
def test_a_constant_phantom_comes_back_constant(ct_server, tmp_path, shape):
    write_series(tmp_path / "in", n=2, pixels=lambda i: np.full(shape, 1024 + 40, np.int16))
    assert _predict(ct_server, tmp_path / "in", tmp_path / "out", "--tile-overlap", "8") == 0
    for d in _read(tmp_path / "out"):
        hu = _hu(d)
        assert hu.shape == shape
        assert np.ptp(hu) == 0, "tile edges visible"
        assert abs(hu[0, 0] - expected_hu(40.0)) <= 1.0


@pytest.mark.parametrize("kind", BAD_SERIES)
def test_bad_series_write_nothing(ct_server, tmp_path, capsys, kind):
    folder, reason, name = bad_series(tmp_path, kind)
    out = tmp_path / "result"
    assert _predict(ct_server, folder, out) == 1
    err = capsys.readouterr().err
    assert reason in err and name in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".result")]


def test_a_server_failure_mid_series_writes_nothing(ct_server, tmp_path):
    from serving.client import GrpcClient, ServingError
    from serving.errors import Code

    write_series(tmp_path / "in", n=3, shape=(160, 200))

    class FailingThird(GrpcClient):
        calls = 0

        def predict(self, *args, **kwargs):
            FailingThird.calls += 1
            if FailingThird.calls == 3:
                raise ServingError(Code.UNAVAILABLE, "connection reset")
            return super().predict(*args, **kwargs)

    with FailingThird(ct_server.grpc_address) as c, pytest.raises(ServingError):
        D.predict_series(c, MODEL, tmp_path / "in", tmp_path / "out", batch_size=4)
    assert FailingThird.calls == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_model_errors_are_reported(ct_server, tmp_path, capsys):
    write_series(tmp_path / "in", n=1, shape=(32, 32))
    rc = tfxgan(["predict", "--dicom", str(tmp_path / "in"), "--output", str(tmp_path / "o"),
                   "--model", "nope", "--server", ct_server.grpc_address])
    assert rc == 1 and "NOT_FOUND" in capsys.readouterr().err
    rc = tfxgan(["predict", "--dicom", str(tmp_path / "in"), "--output", str(tmp_path / "o"),
                   "--model", MODEL, "--server", ct_server.grpc_address, "--count", "2"])
    assert rc == 2 and "--dicom cannot be combined with --count" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
