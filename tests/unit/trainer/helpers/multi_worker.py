"""One worker of a two-process MultiWorkerMirroredStrategy run on localhost.

    TF_CONFIG='{"cluster": {"worker": ["localhost:P0", "localhost:P1"]},
                "task": {"type": "worker", "index": I}}' \
    python tests/unit/trainer/helpers/multi_worker.py OUT_DIR NAME STEPS

Trains NAME (tiny hyper-parameters) for STEPS steps and writes
OUT_DIR/worker<I>.npz (final weights) and OUT_DIR/worker<I>.json (losses).
"""
import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = pathlib.Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(pathlib.Path(__file__).parent))

from trainer import distribute  # noqa: E402

strategy = distribute.get_strategy("multi_worker")   # before any other TF work

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tiny_configs import batch_for, tiny  # noqa: E402
from trainer import registry  # noqa: E402


def main(out_dir, name, steps):
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    spec = registry.get(name)
    module = spec.load()
    hp = spec.hparams(tiny(name))
    keras.utils.set_random_seed(index)            # different local seeds on purpose
    with strategy.scope():
        gan = module.build(hp)
    global_batch = hp.batch_size * strategy.num_replicas_in_sync
    data = batch_for(module, hp, global_batch * steps, seed=3)
    ds = tf.data.Dataset.from_tensor_slices(data).batch(global_batch).repeat()
    history = gan.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0).history
    out = pathlib.Path(out_dir)
    np.savez(out / f"worker{index}.npz", *gan.get_weights())
    (out / f"worker{index}.json").write_text(json.dumps(
        {"replicas": strategy.num_replicas_in_sync,
         "losses": {k: float(v[0]) for k, v in history.items()}}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
