"""What the GAN components read from the TFX artifacts they share.

An ``Examples`` (or ``ExampleAnomalies``) split is the folder
``<uri>/Split-<name>`` of a split the artifact lists in ``split_names``; a
``Model`` holds the Trainer's SavedModel under ``Format-Serving``; a
``PushedModel`` carries the custom properties TFX's Pusher sets. Each is read
here once, so the evaluator, the bulk inferrer and the validation gate cannot
disagree on a layout or a property name.
"""
from __future__ import annotations

import dataclasses
import os

# The custom properties TFX's Pusher sets on its PushedModel output
# (tfx.components.pusher.executor, where the names are private).
PUSHED_KEY = "pushed"
PUSHED_VERSION_KEY = "pushed_version"
PUSHED_DESTINATION_KEY = "pushed_destination"


def split_names(artifact) -> list[str]:
    """The splits an Examples-like artifact holds, in its own order."""
    from tfx.types import artifact_utils
    return list(artifact_utils.decode_split_names(artifact.split_names))


def split_uri(artifact, split: str) -> str:
    """``<uri>/Split-<split>``; ValueError naming ``split`` when the artifact has no such split."""
    known = split_names(artifact)
    if split not in known:
        raise ValueError(f"split {split!r} is not in the {artifact.type_name} artifact at "
                         f"{artifact.uri} (splits: {known})")
    from tfx.types import artifact_utils
    return artifact_utils.get_split_uri([artifact], split)


def split_file_pattern(artifact, split: str) -> str:
    """Every file of one split: ``<uri>/Split-<split>/*``."""
    return os.path.join(split_uri(artifact, split), "*")


def serving_model_dir(model) -> str:
    """The Trainer's exported SavedModel inside a Model artifact."""
    from tfx.utils import path_utils
    return path_utils.serving_model_path(model.uri)


@dataclasses.dataclass(frozen=True)
class Push:
    """What the Pusher did with one model (its PushedModel artifact)."""
    pushed: bool          # False: the model was not blessed and nothing was copied
    version: str          # the pushed version folder's name ("" when not pushed)
    destination: str      # where it was copied: <serving_root>/<gan>/<version> ("" when not)
    uri: str              # the PushedModel artifact's own folder (a copy of the SavedModel)


def push_of(pushed_model) -> Push:
    pushed = bool(pushed_model.get_int_custom_property(PUSHED_KEY))
    return Push(pushed=pushed,
                version=pushed_model.get_string_custom_property(PUSHED_VERSION_KEY) if pushed else "",
                destination=(pushed_model.get_string_custom_property(PUSHED_DESTINATION_KEY)
                             if pushed else ""),
                uri=pushed_model.uri)


def read_split_records(examples, split: str, limit: int | None = None) -> list[bytes]:
    """The serialized tf.Examples of one split (the first ``limit``, in file order)."""
    from trainer.evaluation import read_records
    split_uri(examples, split)          # an unknown split is named, not read as "no files"
    return read_records(examples.uri, split, limit=limit)
