"""Stand-ins go through the Trainer's export path: every kind's signatures, warmup and
example signature follow the table of kinds."""
import numpy as np
import pytest

from serving import testing
from trainer import features as F
from trainer import kinds

SIZE = 8


def _warmup_requests(version_dir):
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2
    path = str(version_dir / F.WARMUP_FILE)
    return [prediction_log_pb2.PredictionLog.FromString(r.numpy()).predict_log.request
            for r in tf.data.TFRecordDataset(path)]


@pytest.mark.parametrize("kind", sorted(kinds.KINDS))
def test_standin_signatures_warmup_and_examples_follow_the_kind(kind, tmp_path):
    import tensorflow as tf
    k = kinds.get(kind)
    version_dir = testing.write_standin_model(tmp_path / "m", 3, kind, size=SIZE,
                                              model_name="m", warmup_records=2)
    assert version_dir == tmp_path / "m" / "3"
    assert not list((tmp_path / "m").glob(".tmp-*"))                   # renamed into place
    loaded = tf.saved_model.load(str(version_dir))
    assert set(loaded.signatures) == {F.SERVING_SIGNATURE, F.EXAMPLE_SIGNATURE}
    default = loaded.signatures[F.SERVING_SIGNATURE]
    inputs = default.structured_input_signature[1]
    assert {n: inputs[n].dtype.name for n in inputs} == dict(k.serving_inputs)
    assert set(default.structured_outputs) == {F.OUT_GENERATED, F.OUT_PIXELS}

    requests = _warmup_requests(version_dir)
    assert len(requests) == 2
    assert all(r.model_spec.name == "m" and r.model_spec.signature_name == F.SERVING_SIGNATURE
               and set(r.inputs) == set(inputs) for r in requests)

    request = testing.sample_inputs(kind, 2, SIZE, seed=4)
    want = default(**{n: tf.constant(v) for n, v in request.items()})
    if k.generator_role is None:
        examples = [testing.example_bytes(kind, seed=int(s)) for s in request[F.IN_SEEDS]]
    else:
        masks = request.get(F.IN_MASKS, [None] * 2)
        examples = [testing.example_bytes(kind, image, mask=mask)
                    for image, mask in zip(request[F.IN_IMAGES], masks)]
    got = loaded.signatures[F.EXAMPLE_SIGNATURE](examples=tf.constant(examples))
    np.testing.assert_array_equal(got[F.OUT_PIXELS].numpy(), want[F.OUT_PIXELS].numpy())
    assert want[F.OUT_PIXELS].dtype == tf.uint8


def test_versions_differ_and_uint16_pixels(tmp_path):
    import tensorflow as tf
    request = testing.sample_inputs(kinds.PAIRED, 1, SIZE)
    out = {}
    for version, dtype in ((1, "uint8"), (2, "uint8"), (3, "uint16")):
        d = testing.write_standin_model(tmp_path, version, kinds.PAIRED, size=SIZE,
                                        pixel_dtype=dtype, warmup_records=0)
        fn = tf.saved_model.load(str(d)).signatures[F.SERVING_SIGNATURE]
        out[version] = fn(images=tf.constant(request[F.IN_IMAGES]))
        assert not (d / F.WARMUP_FILE).exists()
    assert not np.allclose(out[1][F.OUT_GENERATED], out[2][F.OUT_GENERATED])  # bias 0.1 vs 0.2
    assert out[3][F.OUT_PIXELS].dtype == tf.uint16
    with pytest.raises(ValueError, match="pixel_dtype must be 'uint8' or 'uint16', received 'int8'"):
        testing.write_standin_model(tmp_path, 4, kinds.PAIRED, pixel_dtype="int8")
    with pytest.raises(FileExistsError):
        testing.write_standin_model(tmp_path, 1, kinds.PAIRED, size=SIZE)
