"""DiffAugment (trainer.augment) and its use in the unconditional GANs."""
import numpy as np
import pytest
import tensorflow as tf

from trainer import augment


def _ramp(b=2, s=8):
    return tf.reshape(tf.range(b * s * s, dtype=tf.float32) + 1.0, [b, s, s, 1])


def test_translate_shifts_each_image_by_its_own_offset_with_zero_fill():
    x = _ramp()
    out = augment.translate(x, tf.constant([[1, 0], [0, -2]], tf.int32)).numpy()
    xs = x.numpy()
    np.testing.assert_array_equal(out[0, 1:], xs[0, :-1])      # down by one row
    np.testing.assert_array_equal(out[0, 0], 0.0)
    np.testing.assert_array_equal(out[1, :, :-2], xs[1, :, 2:])  # left by two columns
    np.testing.assert_array_equal(out[1, :, -2:], 0.0)


def test_cutout_zeroes_one_square_of_the_given_size_clipped_at_the_border():
    x = tf.ones([2, 8, 8, 1])
    out = augment.cutout(x, tf.constant([[4, 4], [0, 7]], tf.int32), 4).numpy()[..., 0]
    assert (out[0] == 0).sum() == 16 and (out[0, 2:6, 2:6] == 0).all()
    assert (out[1] == 0).sum() == 2 * 3 and (out[1, 0:2, 5:8] == 0).all()


def test_diff_augment_is_seeded_differentiable_and_identity_when_off():
    x = tf.Variable(tf.random.normal([4, 16, 16, 1], seed=1))
    policy = augment.parse_policy("translation,cutout")
    seed = tf.constant([3, 4], tf.int64)
    a = augment.diff_augment(x, policy, seed)
    np.testing.assert_array_equal(a.numpy(), augment.diff_augment(x, policy, seed).numpy())
    assert not np.array_equal(a.numpy(), augment.diff_augment(x, policy, seed + 1).numpy())
    assert not np.array_equal(a.numpy(), x.numpy())
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(augment.diff_augment(x, policy, seed))
    grad = tape.gradient(total, x).numpy()
    # Each kept pixel gets gradient 1 and cut or shifted-out pixels 0.
    assert set(np.unique(grad)) <= {0.0, 1.0} and grad.sum() > 0
    assert augment.diff_augment(x, (), seed) is x


def test_translation_covers_every_shift_up_to_an_eighth_of_the_size():
    # A single bright pixel in the centre: where it lands gives the shift.
    x = np.zeros([512, 16, 16, 1], np.float32)
    x[:, 8, 8] = 1.0
    out = augment.diff_augment(tf.constant(x), ("translation",), tf.constant([0, 1], tf.int64))
    pos = np.argwhere(out.numpy()[..., 0] == 1.0)[:, 1:] - 8
    assert sorted(set(pos[:, 0])) == [-2, -1, 0, 1, 2] == sorted(set(pos[:, 1]))


def test_unknown_policy_names_the_known_ones():
    with pytest.raises(ValueError, match="'flip'.*translation, cutout"):
        augment.parse_policy("translation,flip")


def test_pair_augment_transforms_input_and_target_alike():
    """x4 average pooling commutes with flips, quarter turns and channel orders, so the
    augmented LR must still be the augmented HR's reduction, image by image."""
    rng = np.random.default_rng(0)
    hr = tf.constant(rng.uniform(-1, 1, [64, 16, 16, 3]).astype("float32"))
    lr = tf.nn.avg_pool2d(hr, 4, 4, "VALID")
    seed = tf.constant([3, 4])
    a_lr, a_hr = augment.pair_augment([lr, hr], ("dihedral", "channels"), seed)
    np.testing.assert_allclose(a_lr.numpy(), tf.nn.avg_pool2d(a_hr, 4, 4, "VALID").numpy(),
                               atol=1e-6)
    again = augment.pair_augment([lr, hr], ("dihedral", "channels"), seed)
    np.testing.assert_array_equal(again[1].numpy(), a_hr.numpy())       # stateless
    assert augment.pair_augment([lr, hr], (), seed)[1] is hr             # off: untouched


def test_dihedral_draws_all_eight_transforms_and_channels_all_six_orders():
    x = tf.reshape(tf.range(2 * 2 * 3, dtype=tf.float32), [1, 2, 2, 3])
    batch = tf.repeat(x, 256, axis=0)
    out = augment.pair_augment([batch], ("dihedral",), tf.constant([0, 1]))[0].numpy()
    assert len({o.tobytes() for o in out}) == 8
    expected = {np.rot90(np.flip(x[0].numpy(), 1) if k >= 4 else x[0].numpy(), k % 4,
                         axes=(0, 1)).tobytes() for k in range(8)}
    assert {o.tobytes() for o in out} == expected          # exactly the dihedral group
    out = augment.pair_augment([batch], ("channels",), tf.constant([0, 1]))[0].numpy()
    assert {tuple(o[0, 0]) for o in out} == {(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0),
                                             (2, 0, 1), (2, 1, 0)}
    grey = tf.zeros([4, 2, 2, 1])                         # channels: no-op without RGB
    assert augment.pair_augment([grey], ("channels",), tf.constant([0, 1]))[0] is grey


def test_pair_augment_refuses_unknown_names_and_non_square_dihedral():
    with pytest.raises(ValueError, match="'flip'.*dihedral, channels"):
        augment.parse_pair_policy("dihedral,flip")
    with pytest.raises(ValueError, match="square"):
        augment.pair_augment([tf.zeros([1, 4, 6, 3])], ("dihedral",), tf.constant([0, 1]))
