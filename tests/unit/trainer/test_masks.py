import numpy as np
import pytest
import tensorflow as tf

from trainer import masks


@pytest.mark.parametrize("mask_type", masks.MASK_TYPES)
def test_masks_binary_bounded_and_deterministic(mask_type):
    m = masks.random_masks(16, 64, 64, seed=[1, 2], mask_type=mask_type, max_masks=3,
                           max_size_ratio=0.3, max_thickness=6).numpy()
    assert m.shape == (16, 64, 64, 1) and m.dtype == np.float32
    assert set(np.unique(m)) <= {0.0, 1.0}
    holes = 1.0 - m.mean(axis=(1, 2, 3))
    assert np.all(holes > 0.0)             # every image gets at least one shape
    assert np.all(holes < 0.6)             # shapes stay small
    np.testing.assert_array_equal(m, masks.random_masks(16, 64, 64, seed=[1, 2],
                                                        mask_type=mask_type,
                                                        max_thickness=6).numpy())
    assert not np.array_equal(m, masks.random_masks(16, 64, 64, seed=[1, 3], mask_type=mask_type,
                                                    max_thickness=6).numpy())


def test_rectangle_extent_is_bounded_by_ratio():
    m = masks.random_masks(32, 100, 100, seed=[0, 0], mask_type="rectangle", max_masks=1,
                           max_size_ratio=0.2).numpy()[..., 0]
    for hole in (m == 0):
        rows, cols = np.nonzero(hole)
        assert rows.ptp() + 1 <= 0.2 * 100 + 3 and cols.ptp() + 1 <= 0.2 * 100 + 3


def test_fixed_masks_are_fixed():
    a = masks.fixed_masks(4, 32, seed=7, max_thickness=4).numpy()
    b = masks.fixed_masks(4, 32, seed=7, max_thickness=4).numpy()
    np.testing.assert_array_equal(a, b)


def test_params_sliced_per_example_match_whole_batch():
    """The replica-slicing contract: rows of a global draw rasterise to the same masks."""
    params = masks.draw_mask_params(6, seed=tf.constant([5, 5]))
    whole = masks.rasterize_masks(params, 32, 32).numpy()
    half = masks.rasterize_masks({k: v[3:] for k, v in params.items()}, 32, 32).numpy()
    np.testing.assert_array_equal(whole[3:], half)


@pytest.mark.parametrize("kwargs, message", [
    (dict(mask_type="circle"), "'circle'"),
    (dict(max_masks=0), "received 0"),
    (dict(max_size_ratio=1.5), "received 1.5"),
])
def test_bad_arguments_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        masks.random_masks(1, 8, 8, seed=[0, 0], **kwargs)
