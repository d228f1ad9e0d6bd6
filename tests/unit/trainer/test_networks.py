"""Network shapes at small sizes and parameter counts at the seed sizes."""
import numpy as np
import pytest
import tensorflow as tf

from trainer.models.dcgan import dcgan_discriminator, dcgan_generator
from trainer.models.mlp import mlp_discriminator, mlp_generator
from trainer.models.patchgan import patchgan
from trainer.models.pconv_unet import pconv_unet
from trainer.models.sr_generators import sr_generator_hr, sr_generator_lr
from trainer.models.unet import unet_generator


def test_seed_size_parameter_counts():
    """Spec sheet: U-Net ≈ 54.4M at 256×256×1, critic ≈ 2.77M (seed: batch norm)."""
    unet = unet_generator(256, 1, 64)
    assert unet.count_params() == 54_419_716
    assert round(unet.count_params() / 1e6, 1) == 54.4
    critic = patchgan([(256, 256, 1), (256, 256, 1)], 64, norm="batch")
    assert critic.count_params() == 2_766_337
    assert round(critic.count_params() / 1e6, 2) == 2.77
    assert critic.output_shape == (None, 30, 30, 1)
    # The layer-norm critic (the default) has 2 instead of 4 values per channel.
    layer_critic = patchgan([(256, 256, 1), (256, 256, 1)], 64, norm="layer")
    assert layer_critic.count_params() == 2_766_337 - 2 * (128 + 256 + 512)


def test_mlp_seed_sizes():
    g = mlp_generator(100, 28, 1, (128, 128, 256))
    # Dense 100->100, 100->128, 128->128, 128->256, 256->784
    assert g.count_params() == (100 * 100 + 100) + (100 * 128 + 128) + (128 * 128 + 128) \
        + (128 * 256 + 256) + (256 * 784 + 784)
    assert g.output_shape == (None, 28, 28, 1)
    d = mlp_discriminator(28, 1)
    assert d.output_shape == (None, 1)


@pytest.mark.parametrize("size", [32, 64])
def test_unet_shapes_and_range(size):
    g = unet_generator(size, 3, base_filters=4)
    y = g(tf.random.stateless_uniform([2, size, size, 3], seed=[0, 0], minval=-1, maxval=1))
    assert y.shape == (2, size, size, 3)
    assert np.abs(y.numpy()).max() <= 1.0


def test_unet_rejects_non_power_of_two():
    with pytest.raises(ValueError, match="received 48"):
        unet_generator(48, 1)


def test_dcgan_shapes():
    g = dcgan_generator(16, 28, 1, base_filters=4)
    assert g(tf.zeros([3, 16])).shape == (3, 28, 28, 1)
    d = dcgan_discriminator(28, 1, base_filters=4)
    assert d(tf.zeros([3, 28, 28, 1])).shape == (3, 1)
    with pytest.raises(ValueError, match="received 30"):
        dcgan_generator(16, 30, 1)


def test_pconv_unet_shapes_and_mask_channels():
    g = pconv_unet(32, 3, base_filters=4)
    x = tf.zeros([2, 32, 32, 3])
    assert g([x, tf.ones([2, 32, 32, 1])]).shape == (2, 32, 32, 3)
    assert g([x, tf.ones([2, 32, 32, 3])]).shape == (2, 32, 32, 3)


def test_pconv_unet_ignores_hole_content():
    g = pconv_unet(32, 1, base_filters=4)
    image = tf.random.stateless_uniform([1, 32, 32, 1], seed=[1, 1], minval=-1, maxval=1)
    mask = np.ones([1, 32, 32, 1], "float32")
    mask[:, 8:20, 8:20] = 0
    mask = tf.constant(mask)
    filled = tf.where(mask > 0, image, 0.9)
    a = g([image, mask], training=False).numpy()
    b = g([filled, mask], training=False).numpy()
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_sr_generators_shapes():
    g_hr = sr_generator_hr(8, 1, 4, base_filters=4, num_res_blocks=1)
    g_lr = sr_generator_lr(32, 1, 4, base_filters=4, num_res_blocks=1)
    assert g_hr(tf.zeros([2, 8, 8, 1])).shape == (2, 32, 32, 1)
    assert g_lr(tf.zeros([2, 32, 32, 1])).shape == (2, 8, 8, 1)
    with pytest.raises(ValueError, match="received 3"):
        sr_generator_lr(30, 1, 3)


def test_patchgan_small_and_too_small():
    d = patchgan([(32, 32, 2)], 4, norm="none")
    assert d.output_shape == (None, 2, 2, 1)
    with pytest.raises(ValueError, match="at least 24 pixels"):
        patchgan([(16, 16, 1)], 4)
