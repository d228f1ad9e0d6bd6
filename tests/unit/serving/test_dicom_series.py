"""serving.dicom_series and serving.tiling without a server: reading, tiling/blending, writing."""
from __future__ import annotations

import numpy as np
import pydicom
import pytest

from serving import dicom_series as D
from serving import tiling as T
from support.dicom import BAD_SERIES, bad_series, ct_small, write_series


# --------------------------------------------------------------- reading
def test_read_series_sorts_along_the_slice_normal_and_keeps_hu(tmp_path):
    paths = write_series(tmp_path / "s", n=5)
    slices = D.read_series(tmp_path / "s")
    assert [s.path for s in slices] == paths  # file names and InstanceNumber disagree
    z = [float(s.dataset.ImagePositionPatient[2]) for s in slices]
    assert z == sorted(z)
    raw = pydicom.dcmread(str(paths[2])).pixel_array
    np.testing.assert_array_equal(slices[2].hu, raw.astype(np.float64) - 1024.0)


def test_read_series_orders_by_position_along_an_oblique_normal(tmp_path):
    paths = write_series(tmp_path / "s", n=3, shape=(32, 32))
    # Rotate the plane: rows along y, columns along z, so the normal is +x.
    for i, p in enumerate(paths):
        ds = pydicom.dcmread(str(p))
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, 1]
        ds.ImagePositionPatient = [10.0 * (3 - i), 0, 0]  # x decreases with i
        ds.save_as(str(p))
    assert [s.path for s in D.read_series(tmp_path / "s")] == paths[::-1]


def test_read_series_falls_back_to_instance_number(tmp_path):
    paths = write_series(tmp_path / "s", n=3, shape=(32, 32))
    for p in paths:
        ds = pydicom.dcmread(str(p))
        del ds.ImagePositionPatient
        ds.save_as(str(p))
    assert [s.path for s in D.read_series(tmp_path / "s")] == paths[::-1]  # InstanceNumber n - i


def test_rle_compressed_slices_are_decoded(tmp_path):
    from pydicom.uid import RLELossless
    paths = write_series(tmp_path / "s", n=2, shape=(64, 64))
    want = [pydicom.dcmread(str(p)).pixel_array for p in paths]
    for p in paths:
        ds = pydicom.dcmread(str(p))
        ds.compress(RLELossless)
        ds.save_as(str(p))
    slices = D.read_series(tmp_path / "s")
    assert slices[0].dataset.file_meta.TransferSyntaxUID == RLELossless
    for s, w in zip(slices, want):
        np.testing.assert_array_equal(s.hu, w - 1024.0)


@pytest.mark.parametrize("kind", BAD_SERIES)
def test_bad_series_raise_clear_errors_naming_the_file(tmp_path, kind):
    folder, reason, name = bad_series(tmp_path, kind)
    with pytest.raises(D.DicomSeriesError) as err:
        D.read_series(folder)
    assert reason in str(err.value) and name in str(err.value)


# ------------------------------------------------- parity with ingestion
@pytest.mark.parametrize("variant", ["ct_small", "slope", "unsigned"])
def test_slices_are_encoded_exactly_as_ingestion_encodes_them(variant):
    from tfx_pipeline.ingest.decode import Decoded, decode_dicom_dataset
    from tfx_pipeline.ingest.records import Record, to_example_bytes

    ds = ct_small()
    if variant == "slope":
        ds.RescaleSlope, ds.RescaleIntercept = 0.5, -1000.25
    if variant == "unsigned":
        arr = (ds.pixel_array.astype(np.int32) + 100).astype(np.uint16)
        ds.PixelRepresentation, ds.PixelData = 0, arr.tobytes()
    stored, scale, offset = D.stored_values(ds)
    want = decode_dicom_dataset(ds)
    np.testing.assert_array_equal(stored, want.pixels[..., 0])
    assert (scale, offset) == (want.value_scale, want.value_offset)
    tiles = np.stack([stored[:64, :64], stored[64:, 64:]])
    got = D.tile_examples(tiles, scale, offset)
    for n, t in enumerate(tiles):
        record = Record(f"tile/{n}", {"input": Decoded(t[:, :, None], offset, scale, "CT")},
                        modality="CT")
        assert got[n] == to_example_bytes(record)


# ------------------------------------------------------ tiling and blending
@pytest.mark.parametrize("shape", [(160, 200), (40, 50), (64, 64), (64, 130), (30, 300)])
def test_tiling_an_identity_model_reproduces_the_input_exactly(shape):
    image = np.random.default_rng(0).integers(-1000, 3000, shape).astype(np.float64)
    out = T.apply_tiled(image, (64, 64), lambda t: t, batch_size=3)
    assert out.shape == image.shape
    np.testing.assert_allclose(out, image, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(np.rint(out), image)


def test_tiles_cover_the_image_with_the_requested_overlap():
    starts = T.tile_starts(200, 64, 16)
    assert starts[0] == 0 and starts[-1] == 200 - 64
    assert all(b - a <= 64 - 16 for a, b in zip(starts, starts[1:]))
    weights = T.tile_weights(starts, 64)
    total = np.zeros(200)
    for s, w in zip(starts, weights):
        total[s:s + 64] += w
    np.testing.assert_allclose(total, 1.0, atol=1e-12)  # a partition of unity: no seams


@pytest.mark.parametrize("shape", [(160, 200), (40, 50)])
def test_a_constant_phantom_through_a_pointwise_model_stays_constant(shape):
    model = lambda t: np.tanh(t / 500.0) * 700.0 + 13.0  # noqa: E731  pointwise, not identity
    out = T.apply_tiled(np.full(shape, 37.0), (64, 64), model)
    want = np.tanh(37.0 / 500.0) * 700.0 + 13.0
    assert np.ptp(out) < 1e-9 and abs(out[0, 0] - want) < 1e-9


def test_a_pointwise_model_gives_the_whole_image_result():
    image = np.random.default_rng(1).normal(0, 300, (160, 200))
    model = lambda t: np.sign(t) * np.sqrt(np.abs(t))  # noqa: E731
    np.testing.assert_allclose(T.apply_tiled(image, (64, 48), model, overlap=(20, 10)),
                               model(image), atol=1e-9)


def test_tile_arguments_are_checked():
    with pytest.raises(ValueError, match="overlap must be in"):
        T.tile_starts(100, 64, 64)
    with pytest.raises(ValueError, match="expected an \\[H, W\\] or \\[H, W, C\\] image"):
        T.tile_image(np.zeros((4, 4, 1, 1)), (8, 8))


def test_tiling_keeps_channels_apart():
    image = np.random.default_rng(2).integers(0, 255, (70, 90, 3)).astype(np.float64)
    model = lambda t: t * np.array([1.0, 2.0, 3.0])  # noqa: E731  per-channel, pointwise
    np.testing.assert_allclose(T.apply_tiled(image, (32, 32), model), model(image), atol=1e-9)


# ---------------------------------------------------------- model metadata
def _metadata(dtype="DT_UINT16", dims=(-1, 64, 64, 1), version="3"):
    shape = {"dim": [{"size": str(d)} for d in dims]}
    return {"model_spec": {"name": "m", "version": version},
            "metadata": {"signature_def": {"signature_def": {
                "serving_tf_example": {"inputs": {"examples": {"dtype": "DT_STRING"}},
                                       "outputs": {"pixels": {"dtype": dtype,
                                                              "tensor_shape": shape}}}}}}}


def test_served_model_reads_tile_size_and_version():
    m = D.served_model(_metadata(dims=(-1, 48, 80, 1)), "m")
    assert m.tile == (48, 80) and m.version == 3


@pytest.mark.parametrize("md, msg", [(_metadata(dtype="DT_UINT8"), "is not a CT model"),
                                     (_metadata(dims=(-1, -1, -1, 1)), "known height and width"),
                                     ({"metadata": {}}, "no 'serving_tf_example' signature")])
def test_served_model_rejects_non_ct_models(md, msg):
    with pytest.raises(ValueError, match=msg):
        D.served_model(md, "m")


# ----------------------------------------------------------------- writing
PROV = D.Provenance("pix2pix_wgan_gp", 7, (64, 64), (16, 16))


def test_write_series_makes_a_derived_series(tmp_path):
    src = write_series(tmp_path / "in", n=3)
    slices = D.read_series(tmp_path / "in")
    hu = [s.hu * 0.5 + 0.4 for s in slices]  # non-integers: rounded on writing
    paths = D.write_series(slices, hu, tmp_path / "out", PROV)
    assert [p.name for p in paths] == ["slice_0001.dcm", "slice_0002.dcm", "slice_0003.dcm"]
    out = [pydicom.dcmread(str(p)) for p in paths]
    assert len({d.SeriesInstanceUID for d in out}) == 1
    assert out[0].SeriesInstanceUID != slices[0].dataset.SeriesInstanceUID
    assert len({d.SOPInstanceUID for d in out} | {s.dataset.SOPInstanceUID for s in slices}) == 6
    for d, s, h in zip(out, slices, hu):
        src_ds = s.dataset
        for tag in ("StudyInstanceUID", "PatientName", "PatientID", "StudyDate", "StudyID",
                    "FrameOfReferenceUID", "ImagePositionPatient", "ImageOrientationPatient",
                    "PixelSpacing", "SliceThickness", "WindowCenter", "WindowWidth"):
            assert d[tag].value == src_ds[tag].value, tag
        assert list(d.ImageType)[:2] == ["DERIVED", "SECONDARY"]
        assert "pix2pix_wgan_gp v7" in d.SeriesDescription
        assert "pix2pix_wgan_gp version 7" in d.DerivationDescription
        assert d.SourceImageSequence[0].ReferencedSOPInstanceUID == src_ds.SOPInstanceUID
        assert d.file_meta.MediaStorageSOPInstanceUID == d.SOPInstanceUID
        assert (d.RescaleSlope, d.RescaleIntercept, d.PixelRepresentation) == (1, 0, 1)
        got = d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)
        np.testing.assert_array_equal(got, np.rint(h))
    # CT_small spans about -896..1167 HU: halved it fits 12 bits.
    assert out[0].BitsStored == 12 and out[0].HighBit == 11
    assert [int(d.InstanceNumber) for d in out] == [1, 2, 3]
    assert sorted(p.name for p in src[0].parent.iterdir()) == sorted(p.name for p in src)


def test_bits_stored_follows_the_hu_range():
    assert D.bits_for(np.array([-1000, 1000])) == 12
    assert D.bits_for(np.array([-1024, 3071])) == 13
    assert D.bits_for(np.array([-32768, 32767])) == 16


def test_a_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    write_series(tmp_path / "in", n=3, shape=(32, 32))
    slices = D.read_series(tmp_path / "in")
    real, calls = D.derived_dataset, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(*args, **kwargs)
    monkeypatch.setattr(D, "derived_dataset", failing)
    (tmp_path / "out").mkdir()  # an empty folder may exist already
    with pytest.raises(OSError, match="disk full"):
        D.write_series(slices, [s.hu for s in slices], tmp_path / "out", PROV)
    assert list((tmp_path / "out").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]  # no temporary folder left


def test_a_non_empty_output_folder_is_refused(tmp_path):
    write_series(tmp_path / "in", n=1, shape=(32, 32))
    slices = D.read_series(tmp_path / "in")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(D.DicomSeriesError, match="exists and is not an empty directory"):
        D.write_series(slices, [s.hu for s in slices], tmp_path / "out", PROV)


def test_ct_small_has_what_the_tests_assume():
    ds = ct_small()
    assert (ds.Modality, float(ds.RescaleSlope), float(ds.RescaleIntercept)) == ("CT", 1.0, -1024.0)
