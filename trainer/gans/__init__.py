"""GAN objectives: one ``keras.Model`` subclass per file, each with ``HParams``,
``build(hparams)`` and ``input_shapes(hparams)`` (see ``trainer.registry``)."""
