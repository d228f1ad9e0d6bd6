"""One step on two logical CPUs (MirroredStrategy) vs one device, same global batch.

Run as a script (logical devices must be configured before TensorFlow starts):
    python tests/unit/trainer/helpers/two_replicas.py OUT.json [--register PKG] NAME[:JSON] ...
JSON overrides the GAN's tiny hyper-parameters (e.g. 'pix2pix_wgan_gp:{"n_critic": 2}');
--register imports PKG (under tests/) and calls its register() first (a GAN from outside
trainer/). Writes, per argument, the largest differences of the losses and of every weight.
"""
import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN picks kernels by batch size, so a local batch of 2 and a batch of 4 round
# differently; where a gradient is float noise, Adam's first step turns that into +-lr
# (on CPUs with AVX512-BF16: pconv kernels 2e-4 apart while the losses agree to 1e-7).
# Eigen's kernels keep the comparison about the distribution logic.
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
ROOT = pathlib.Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(pathlib.Path(__file__).parent))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

import keras  # noqa: E402

from tiny_configs import batch_for, tiny  # noqa: E402
from trainer import registry  # noqa: E402


# One strategy of each kind for the whole process: collective instance keys
# of a second MirroredStrategy over the same devices can collide with the first's.
ONE = tf.distribute.OneDeviceStrategy("/cpu:0")
TWO = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def run(arg, steps=2):
    name, _, overrides = arg.partition(":")
    spec = registry.get(name)
    module = spec.load()
    hp = spec.hparams({**tiny(name), **json.loads(overrides or "{}")})
    keras.utils.set_random_seed(0)
    one, two = ONE, TWO
    with one.scope():
        gan1 = module.build(hp)
    with two.scope():
        gan2 = module.build(hp)
    initial = gan1.get_weights()
    gan2.set_weights(initial)
    data = batch_for(module, hp, hp.batch_size * steps, seed=1)
    ds = tf.data.Dataset.from_tensor_slices(data).batch(hp.batch_size, drop_remainder=True)
    gan1.adapt(ds)   # data-dependent state (dcgan's clusters), the same for both
    gan2.adapt(ds)
    h1 = gan1.fit(ds, epochs=1, verbose=0, shuffle=False).history
    h2 = gan2.fit(ds, epochs=1, verbose=0, shuffle=False).history
    assert two.num_replicas_in_sync == 2
    loss_diff = {k: abs(h1[k][0] - h2[k][0]) / max(1.0, abs(h1[k][0])) for k in h1}
    w1, w2 = gan1.get_weights(), gan2.get_weights()
    weight_diff = max(float(np.max(np.abs(a - b))) if a.size else 0.0 for a, b in zip(w1, w2))
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(w1, initial)
                if a.size and a.dtype.kind == "f")
    return {"losses": {k: h1[k][0] for k in h1}, "losses_two": {k: h2[k][0] for k in h2},
            "loss_rel_diff": loss_diff, "weight_max_abs_diff": weight_diff,
            "num_weights": len(w1), "moved": moved}


if __name__ == "__main__":
    out, names = sys.argv[1], sys.argv[2:]
    if names[:1] == ["--register"]:   # a GAN from outside trainer/: its package's register()
        import importlib
        sys.path.insert(0, str(ROOT / "tests"))
        importlib.import_module(names[1]).register()
        names = names[2:]
    results = {arg: run(arg) for arg in names}
    pathlib.Path(out).write_text(json.dumps(results, indent=1))
