"""SR generators start as classical resampling; perceptual_weights="none"; the hole loss."""
import pathlib
import sys

import numpy as np
import pytest
import tensorflow as tf

from trainer import baselines, registry
from trainer.models.sr_generators import sr_generator_hr, sr_generator_lr

sys.path.insert(0, str(pathlib.Path(__file__).parent / "helpers"))
from tiny_configs import batch_for, tiny  # noqa: E402


def _images(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32")


@pytest.mark.parametrize("body", ["hr", "lr"])
@pytest.mark.parametrize("detail", [False, True])
def test_g_hr_at_init_is_the_bicubic_baseline(body, detail):
    lr = _images([3, 8, 8, 3])
    g = sr_generator_hr(8, 3, 4, base_filters=4, num_res_blocks=1, body=body,
                        detail_input=detail)
    np.testing.assert_allclose(g(lr, training=False).numpy(),
                               baselines.bicubic_upsample(lr, (32, 32)), atol=1e-5)


def test_g_hr_lr_body_puts_each_tail_channel_on_its_own_sub_pixel():
    """The LR body's tail is a sub-pixel convolution: LR position (i, j), tail channel
    (dy * scale + dx) * C + c lands on HR pixel (i * scale + dy, j * scale + dx), channel c."""
    g = sr_generator_hr(8, 3, 2, base_filters=4, num_res_blocks=1, body="lr")
    assert g.get_layer("res0_conv1").output.shape[1:3] == (8, 8)     # the body runs at LR
    tail = g.get_layer("tail")
    kernel, bias = tail.get_weights()                                  # [3, 3, 4, 12], [12]
    marked = np.zeros_like(bias)
    marked[(1 * 2 + 0) * 3 + 2] = 0.5                                  # dy=1, dx=0, channel 2
    tail.set_weights([np.zeros_like(kernel), marked])
    lr = np.zeros([1, 8, 8, 3], "float32")
    residual = g(lr, training=False).numpy()[0]                        # bicubic(0) = 0
    expected = np.zeros([16, 16, 3], "float32")
    expected[1::2, 0::2, 2] = 0.5
    np.testing.assert_allclose(residual, expected, atol=1e-6)
    with pytest.raises(ValueError, match="body must be one of"):
        sr_generator_hr(8, 3, 2, base_filters=4, num_res_blocks=1, body="mid")


def _randomise(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in model.get_weights()])


@pytest.mark.parametrize("body", ["hr", "lr"])
def test_g_hr_detail_input_leaves_flat_and_ramp_images_bicubic_whatever_the_weights(body):
    """With detail_input, any weights give r = 0 on an image without detail; a plain
    branch with the same (random) weights adds a colour-dependent offset."""
    side = 32  # the ramp's centre lies beyond the branch's reach of the image's edges
    flat = np.ones([3, side, side, 3], "float32") * np.array([-0.8, 0.1, 0.6], "float32")
    ramp = np.broadcast_to(np.linspace(-0.5, 0.5, side, dtype="float32")[None, None, :, None],
                           [1, side, side, 3]).copy()
    for detail, expect_bicubic in ((True, True), (False, False)):
        g = sr_generator_hr(side, 3, 4, base_filters=4, num_res_blocks=2, body=body,
                            detail_input=detail)
        _randomise(g)
        out = g(flat, training=False).numpy()
        bicubic = baselines.bicubic_upsample(flat, (4 * side, 4 * side))
        assert np.allclose(out, bicubic, atol=1e-5) == expect_bicubic
        if detail:
            # a linear ramp equals its 3x3 mean: bicubic away from the edges
            out = g(ramp, training=False).numpy()
            up = baselines.bicubic_upsample(ramp, (4 * side, 4 * side))
            centre = slice(4 * 12, 4 * 20)
            np.testing.assert_allclose(out[:, centre, centre], up[:, centre, centre], atol=1e-4)
            textured = _images([1, side, side, 3])           # and it does change detail
            assert not np.allclose(g(textured, training=False).numpy(),
                                   baselines.bicubic_upsample(textured, (4 * side, 4 * side)),
                                   atol=1e-3)
            assert all(not getattr(layer, "use_bias", False) for layer in g.layers)


def test_g_lr_at_init_is_average_pooling():
    hr = _images([2, 32, 32, 1])
    g = sr_generator_lr(32, 1, 4, base_filters=4, num_res_blocks=1)
    expected = hr.reshape(2, 8, 4, 8, 4, 1).mean(axis=(2, 4))
    np.testing.assert_allclose(g(hr, training=False).numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("which", ["hr", "lr"])
def test_sr_generators_clip_to_the_serving_range(which):
    g = (sr_generator_hr(8, 1, 4, base_filters=4, num_res_blocks=1) if which == "hr"
         else sr_generator_lr(32, 1, 4, base_filters=4, num_res_blocks=1))
    tail = g.get_layer("tail")
    kernel, bias = tail.get_weights()
    tail.set_weights([np.full_like(kernel, 5.0), np.full_like(bias, 3.0)])  # a huge residual
    x = _images([2, *g.input_shape[1:]])
    y = g(x, training=False).numpy()
    assert y.min() >= -1.0 and y.max() <= 1.0
    assert np.isclose(y, 1.0).any() or np.isclose(y, -1.0).any()


@pytest.mark.parametrize("name,loss", [("srrescycgan", "perceptual_loss"),
                                       ("pconv_inpainting", "content_loss")])
def test_perceptual_weights_none_builds_no_vgg_and_reports_zero(name, loss):
    spec = registry.get(name)
    module = spec.load()
    hp = spec.hparams({**tiny(name), "perceptual_weights": "none"})
    gan = module.build(hp)
    assert gan.vgg is None
    data = tf.data.Dataset.from_tensor_slices(batch_for(module, hp, 4)).batch(4)
    logs = gan.fit(data, epochs=1, verbose=0).history
    assert logs[loss] == [0.0]
    assert all(np.isfinite(v[0]) for v in logs.values())


@pytest.mark.parametrize("lambda_pixel, lambda_hole", [(1.0, 6.0), (1.0, 1.0), (2.0, 5.0)])
def test_pconv_hole_to_known_pixel_weight_is_lambda_hole_to_lambda_pixel(lambda_pixel, lambda_hole):
    """Liu et al.'s 6:1 is lambda_hole=6 with lambda_pixel=1 (the whole-image L1
    must not weight the holes once more); lambda_hole = lambda_pixel is the
    seed's plain whole-image L1."""
    spec = registry.get("pconv_inpainting")
    module = spec.load()
    hp = spec.hparams({**tiny("pconv_inpainting"), "perceptual_weights": "none",
                       "lambda_adv": 0.0, "lambda_pixel": lambda_pixel, "lambda_hole": lambda_hole})
    gan = module.build(hp)
    data = tf.data.Dataset.from_tensor_slices(batch_for(module, hp, 4)).batch(4)
    logs = {k: v[0] for k, v in gan.fit(data, epochs=1, verbose=0).history.items()}
    hole, known = logs["hole_loss"], logs["pixel_loss"] - logs["hole_loss"]
    assert hole > 0 and known > 0
    assert logs["g_loss"] == pytest.approx(lambda_pixel * known + lambda_hole * hole, rel=1e-5)


def test_quick_preset_trains_without_perceptual_features():
    for name in ("srrescycgan", "pconv_inpainting"):
        quick = registry.get(name).presets().quick
        assert quick["perceptual_weights"] == "none"
        registry.get(name).hparams(quick)   # valid overrides
