"""PartialConv2D against Conv2D and the re-normalisation of Liu et al. 2018."""
import numpy as np
import pytest
import tensorflow as tf
import keras

from trainer.layers import PartialConv2D


def _pair(filters, kernel, strides, c_in, seed=0):
    pconv = PartialConv2D(filters, kernel, strides=strides)
    conv = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same")
    x = tf.random.stateless_normal([2, 9, 9, c_in], seed=[seed, 1])
    pconv([x, tf.ones([2, 9, 9, 1])])
    conv(x)
    rng = np.random.default_rng(seed)
    kernel_w = rng.normal(size=(kernel, kernel, c_in, filters)).astype("float32")
    bias = rng.normal(size=(filters,)).astype("float32")
    pconv.set_weights([kernel_w, bias])
    conv.set_weights([kernel_w, bias])
    return pconv, conv, x


@pytest.mark.parametrize("kernel, strides", [(3, 1), (7, 2), (4, 2), (5, 2)])
@pytest.mark.parametrize("mask_channels", [1, 3])
def test_all_ones_mask_equals_conv2d(kernel, strides, mask_channels):
    pconv, conv, x = _pair(4, kernel, strides, 3)
    y, new_mask = pconv([x, tf.ones([2, 9, 9, mask_channels])])
    np.testing.assert_allclose(y.numpy(), conv(x).numpy(), rtol=1e-5, atol=1e-5)
    assert new_mask.shape[-1] == 1
    np.testing.assert_array_equal(new_mask.numpy(), np.ones(new_mask.shape))


def test_hole_renormalises_by_valid_fraction_and_updates_mask():
    layer = PartialConv2D(1, 3, strides=1, use_bias=True)
    x = tf.fill([1, 5, 5, 1], 2.0)
    mask = np.ones([1, 5, 5, 1], "float32")
    mask[0, 1:4, 1:4, 0] = 0.0       # a 3×3 hole in the middle
    mask[0, 2, 2, 0] = 0.0
    layer([x, tf.constant(mask)])
    layer.set_weights([np.ones([3, 3, 1, 1], "float32"), np.array([0.5], "float32")])
    y, new_mask = layer([x, tf.constant(mask)])
    y, new_mask = y.numpy()[0, ..., 0], new_mask.numpy()[0, ..., 0]
    # Window at (1, 1) sees 5 valid pixels of 9: sum = 5·2 = 10, scaled by 9/5 -> 18, + bias.
    assert y[1, 1] == pytest.approx(18.5)
    # Window at (2, 2) sees only hole pixels: output 0 and the mask stays a hole.
    assert y[2, 2] == 0.0 and new_mask[2, 2] == 0.0
    # Every other window has a valid pixel: the updated mask is 1 there, and
    # inside the image (constant 2) the re-normalised output is 9·2 + bias.
    expected_mask = np.ones([5, 5], "float32")
    expected_mask[2, 2] = 0.0
    np.testing.assert_array_equal(new_mask, expected_mask)
    interior = expected_mask[1:4, 1:4].astype(bool)
    np.testing.assert_allclose(y[1:4, 1:4][interior], 18.5, rtol=1e-6)
    # At the corner the window holds 4 image pixels (the 5 padding cells are
    # neither valid nor counted), 3 of them valid: 3·2 · 4/3 + 0.5.
    assert y[0, 0] == pytest.approx(3 * 2 * 4 / 3 + 0.5)


def test_border_hole_is_not_filled_by_padding():
    """A window over a border hole sees only padding and holes: output 0, mask stays 0
    (NVIDIA's reference convolves the zero-padded mask the same way)."""
    layer = PartialConv2D(1, 3, strides=1, use_bias=True)
    x = tf.fill([1, 6, 6, 2], 1.0)
    mask = np.ones([1, 6, 6, 1], "float32")
    mask[0, :, :2, 0] = 0.0          # the two left-most columns are a hole
    layer([x, tf.constant(mask)])
    layer.set_weights([np.ones([3, 3, 2, 1], "float32"), np.array([0.5], "float32")])
    y, new_mask = layer([x, tf.constant(mask)])
    y, new_mask = y.numpy()[0, ..., 0], new_mask.numpy()[0, ..., 0]
    # Column 0's windows cover padding and columns 0-1 (holes): the hole stays.
    np.testing.assert_array_equal(new_mask[:, 0], np.zeros(6))
    np.testing.assert_array_equal(y[:, 0], np.zeros(6))
    np.testing.assert_array_equal(new_mask[:, 1:], np.ones([6, 5]))
    # Column 1 at the top row: 6 image pixels (×2 channels), 2 valid (column 2,
    # rows 0-1) -> 2·2 · 12/4 + 0.5.
    assert y[0, 1] == pytest.approx(4 * 12 / 4 + 0.5)
    # Border windows fully inside valid pixels equal an ordinary convolution: 6 pixels · 2.
    assert y[0, 5] == pytest.approx(4 * 2 + 0.5)


@pytest.mark.parametrize("strides", [1, 2])
def test_one_channel_mask_of_unknown_channel_count_is_broadcast(strides):
    """A [B, H, W, None] mask signature (channel count unknown when traced)
    must give the same result as the static one-channel mask."""
    layer = PartialConv2D(3, 3, strides=strides)
    x = tf.random.stateless_normal([2, 8, 8, 4], seed=[3, 4])
    mask = np.ones([2, 8, 8, 1], "float32")
    mask[:, 2:5, 3:7] = 0.0
    mask = tf.constant(mask)
    expected, expected_mask = layer([x, mask])
    dynamic = tf.function(lambda a, m: layer([a, m]), input_signature=[
        tf.TensorSpec([None, 8, 8, 4]), tf.TensorSpec([None, 8, 8, None])])
    y, new_mask = dynamic(x, mask)
    np.testing.assert_allclose(y.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(new_mask.numpy(), expected_mask.numpy())
    # A four-channel mask equal to the broadcast one-channel mask gives the same output.
    y4, _ = dynamic(x, tf.tile(mask, [1, 1, 1, 4]))
    np.testing.assert_allclose(y4.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


def test_hole_values_do_not_leak():
    layer = PartialConv2D(2, 3)
    x = tf.random.stateless_normal([1, 6, 6, 2], seed=[0, 0])
    mask = np.ones([1, 6, 6, 1], "float32")
    mask[0, :3] = 0.0
    y1, m1 = layer([x, tf.constant(mask)])
    y2, m2 = layer([tf.where(tf.constant(mask) > 0, x, 1e3), tf.constant(mask)])
    np.testing.assert_allclose(y1.numpy(), y2.numpy(), rtol=1e-6, atol=1e-6)


def test_bad_mask_channels_rejected():
    layer = PartialConv2D(2, 3)
    with pytest.raises(ValueError, match="mask must have 1 or 3 channels"):
        layer([tf.zeros([1, 4, 4, 3]), tf.zeros([1, 4, 4, 2])])
