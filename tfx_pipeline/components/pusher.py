"""The Pusher's executor, plus: rewrite ``<serving_root>/models.config`` after each push.

TF Serving opens its ports only once every model listed in its
``--model_config_file`` has a loadable version, and the Pusher rightly skips a
generator that was not blessed; a fixed list of all GANs would keep the server
from ever becoming ready. So the file is written by the step that pushes: after
TFX's own push (or skip), :func:`serving.pushed.write_models_config` lists the
GANs that have at least one version under the serving root, and TF Serving
re-reads it (``--model_config_file_poll_wait_seconds``).

It is done in the Pusher step rather than in a component after all Pushers so
that each GAN's push is served as soon as it lands, and one GAN's failed branch
cannot hold back the others' config. The push destination is
``<serving_root>/<gan>``, so the serving root is its parent folder.
"""
from __future__ import annotations

from tfx.components.pusher import executor as pusher_executor
from tfx.proto import pusher_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils


def serving_root_of(push_destination_json: str) -> str:
    """``<serving_root>`` of a ``<serving_root>/<gan>`` file-system push destination."""
    dest = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(push_destination_json, dest)
    base = dest.filesystem.base_directory.rstrip("/")
    root, sep, gan = base.rpartition("/")
    if not sep or not root or not gan:
        raise ValueError(f"push destination must be <serving_root>/<gan>, got {base!r}")
    return root


class ServingPusherExecutor(pusher_executor.Executor):
    """TFX's file-system push, then ``models.config`` rewritten from the serving root."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 - TFX API
        from serving.pushed import write_models_config
        super().Do(input_dict, output_dict, exec_properties)
        write_models_config(serving_root_of(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY]))
