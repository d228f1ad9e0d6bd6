"""Partial-convolution U-Net inpainting with a RaGAN discriminator (seed 002).

Generator call: ``generator([masked_image [B, S, S, C], mask [B, S, S, 1 or C]])
-> prediction [B, S, S, C]`` with mask 1 = known, 0 = hole. The completed image
is :func:`composite` (prediction in the holes, the input elsewhere).
Masks are drawn inside ``train_step`` (:mod:`trainer.masks`, seeded); use
``trainer.masks.fixed_masks`` for evaluation.
"""
from __future__ import annotations

import dataclasses

import tensorflow as tf

from trainer import distribute, features as F, losses, masks, perceptual
from trainer.gans.base import GanModel, adam, check_fields
from trainer.models.patchgan import patchgan
from trainer.models.pconv_unet import PRIORS, pconv_unet
from trainer.registry import Presets


NO_PERCEPTUAL = "none"   # perceptual_weights value: no perceptual term


@dataclasses.dataclass(frozen=True)
class HParams:
    image_size: int = 512                  # H = W of the images (power of two >= 32)
    channels: int = 3                      # image channels
    base_filters: int = 64                 # width: first PConv layer's filters (and the discriminator's)
    d_num_down: int = 3                    # stride-2 blocks of the PatchGAN discriminator
    prior: str = "none"                    # "harmonic"/"biharmonic": G predicts a correction of that
                                           # fill of the holes (trainer.models.pconv_unet); "none": the seed
    prior_iterations: int = 100            # conjugate-gradient steps of the biharmonic prior
    batch_size: int = 16                   # global batch size
    g_learning_rate: float = 1e-4          # generator Adam learning rate
    d_learning_rate: float = 1e-4          # discriminator Adam learning rate
    beta_1: float = 0.9                    # Adam β1
    beta_2: float = 0.999                  # Adam β2
    # Pixel L1 split as in Liu et al. 2018 eq. 1: λ_pixel·L_valid + λ_hole·L_hole, both
    # normalised by the image size, so λ_hole : λ_pixel is the hole : known-pixel weight.
    # λ_hole = λ_pixel is one whole-image L1 (the seed); Liu et al. use 6 : 1.
    lambda_pixel: float = 1.0              # weight of the L1 loss on the known pixels (Liu et al.: 1)
    lambda_hole: float = 1.0               # weight of the L1 loss in the holes (Liu et al.: 6; 1 = the seed)
    lambda_content: float = 1.0            # weight of the perceptual (VGG19) loss
    lambda_adv: float = 0.01               # weight of the RaGAN adversarial loss
    perceptual_layers: tuple = ("block1_pool", "block2_pool", "block3_pool")  # VGG19 layers (Liu et al.: pool1-3)
    # VGG19 weights of the perceptual loss: "imagenet", a path to the notop .h5, "random"
    # (test stand-in only) or "none": no perceptual term at all (VGG19 is not built and
    # content_loss is reported as 0). Use "none" when no ImageNet weights exist rather
    # than training against random features: with random weights the term is ~100 vs a
    # pixel loss of ~0.5 and the holes are filled worse than by the mean colour.
    perceptual_weights: str = "imagenet"
    mask_type: str = "irregular"           # "irregular" strokes or "rectangle"
    max_masks: int = 3                     # at most this many shapes per mask
    max_size_ratio: float = 0.3            # each shape at most this fraction of the side
    max_thickness: int = 20                # stroke thickness bound, pixels
    seed: int = 0                          # seed of the masks (and the random VGG stand-in)
    # serve the generator averaged over the 8 flips/rotations of its input (8x its compute;
    # trainer.models.ensemble)
    self_ensemble: bool = False

    def __post_init__(self):
        check_fields(self, positive=("image_size", "channels", "base_filters", "d_num_down",
                                     "batch_size", "g_learning_rate", "d_learning_rate",
                                     "prior_iterations"),
                     non_negative=("lambda_pixel", "lambda_hole", "lambda_content", "lambda_adv"),
                     probabilities=("beta_1", "beta_2"))
        masks.validate_mask_args(self.mask_type, self.max_masks, self.max_size_ratio,
                                 self.max_thickness)
        if self.prior not in PRIORS:
            raise ValueError(f"HParams.prior must be one of {PRIORS}, received {self.prior!r}")
        object.__setattr__(self, "perceptual_layers", tuple(self.perceptual_layers))


def input_shapes(hp: HParams) -> dict[str, tuple[int, int, int]]:
    return {F.IMAGE: (hp.image_size, hp.image_size, hp.channels)}


def composite(prediction: tf.Tensor, image: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """The completed image: ``mask·image + (1 - mask)·prediction`` [B, S, S, C]."""
    mask = tf.cast(mask, prediction.dtype)
    return mask * image + (1.0 - mask) * prediction


class PConvInpainting(GanModel):
    """PConvUNet generator + PatchGAN discriminator.

    Discriminator: RaGAN on real images vs completed images.
    Generator: λ_pixel·|M(y - ŷ)| + λ_hole·|(1-M)(y - ŷ)| + λ_content·Σ_l |φ_l(ŷ) - φ_l(y)|
    + λ_adv·RaGAN_G,
    with ŷ the raw prediction, φ_l VGG19 pool1-3 features and each L1 normalised
    by the image's element count (Liu et al. 2018 eq. 1, L_valid and L_hole), so a
    hole pixel weighs λ_hole / λ_pixel times a known one.
    """

    LOSS_NAMES = ("d_loss", "g_loss", "content_loss", "adv_loss", "pixel_loss", "hole_loss")

    def __init__(self, hparams: HParams, **kwargs):
        super().__init__(hparams, input_shapes(hparams), name="pconv_inpainting", **kwargs)
        hp = hparams
        shape = (hp.image_size, hp.image_size, hp.channels)
        self.generator = pconv_unet(hp.image_size, hp.channels, hp.base_filters, prior=hp.prior,
                                    prior_iterations=hp.prior_iterations)
        self.discriminator = patchgan([shape], hp.base_filters, norm="none",
                                      num_down=hp.d_num_down, name="patchgan_discriminator")
        self.vgg = (None if hp.perceptual_weights == NO_PERCEPTUAL else
                    perceptual.vgg19_features(hp.perceptual_layers, hp.perceptual_weights,
                                              channels=hp.channels, seed=hp.seed))

    def compile(self, d_optimizer=None, g_optimizer=None, lambda_pixel=None, lambda_content=None,
                lambda_adv=None, lambda_hole=None, **kwargs):
        hp = self.hparams
        self._compile_base(**kwargs)
        self.d_optimizer = self._build_optimizer(
            d_optimizer or adam(hp.d_learning_rate, hp.beta_1, hp.beta_2, "d_adam"),
            self.discriminator.trainable_variables)
        self.g_optimizer = self._build_optimizer(
            g_optimizer or adam(hp.g_learning_rate, hp.beta_1, hp.beta_2, "g_adam"),
            self.generator.trainable_variables)
        self.lambda_pixel = hp.lambda_pixel if lambda_pixel is None else float(lambda_pixel)
        self.lambda_content = hp.lambda_content if lambda_content is None else float(lambda_content)
        self.lambda_adv = hp.lambda_adv if lambda_adv is None else float(lambda_adv)
        self.lambda_hole = hp.lambda_hole if lambda_hole is None else float(lambda_hole)

    def masks_for(self, local_batch) -> tf.Tensor:
        """This replica's masks [B, S, S, 1] for the current step."""
        hp = self.hparams
        params = distribute.replica_slice(
            lambda g: masks.draw_mask_params(g, self.seed(salt=0), hp.max_masks,
                                             hp.max_size_ratio, hp.max_thickness),
            local_batch)
        return masks.rasterize_masks(params, hp.image_size, hp.image_size, hp.mask_type,
                                     hp.max_size_ratio)

    def generator_inputs(self, batch):
        image = batch[F.IMAGE]
        hp = self.hparams
        mask = masks.fixed_masks(tf.shape(image)[0], hp.image_size, seed=hp.seed,
                                 mask_type=hp.mask_type, max_masks=hp.max_masks,
                                 max_size_ratio=hp.max_size_ratio, max_thickness=hp.max_thickness)
        return [image * mask, mask]

    def _ragan_means(self, real_logits, fake_logits):
        return (distribute.cross_replica_mean(real_logits),
                distribute.cross_replica_mean(fake_logits))

    def perceptual_term(self, prediction, image):
        """Per-example L1 perceptual loss [B]; zeros when perceptual_weights="none"."""
        if self.vgg is None:
            return tf.zeros([tf.shape(image)[0]], image.dtype)
        return losses.perceptual_loss(self.vgg(prediction), self.vgg(image), distance="l1")

    def train_step(self, data):
        # 1. Validate the images y [B, S, S, C]; draw this step's masks M.
        # 2. Discriminator: RaGAN on y vs the completed image M·y + (1-M)·G(M·y, M).
        # 3. Generator: λ_pixel·L1 on known pixels + λ_hole·L1 in the holes + perceptual
        #    (VGG19) + λ_adv·RaGAN; update G.
        # 4. Report d_loss, g_loss and the generator terms (unweighted; pixel_loss is
        #    the whole-image L1, hole_loss its part in the holes).
        #
        # One discriminator step per generator step, so every discriminator
        # step already trains on its own real batch (this step's). The
        # generator step reuses it (its RaGAN loss needs real logits): the
        # discriminator is fitted once to these images, not repeatedly as in
        # an n_critic loop, and splitting the batch would halve both networks'
        # batches. pix2pix_wgan_gp's n_critic > 1 splits its batch instead.
        #
        # The generator runs once per step, on the generator's tape: both updates
        # see the same prediction (the generator is not updated in between), and
        # its classical-fill prior - most of a quick-preset step - is solved once.
        image = self.unpack(data)[F.IMAGE]
        mask = self.masks_for(tf.shape(image)[0])                             # [B, S, S, 1]
        masked = image * mask
        with tf.GradientTape() as g_tape:
            prediction = self.generator([masked, mask], training=True)
            completed = composite(prediction, image, mask)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(image, training=True)
            fake_logits = self.discriminator(tf.stop_gradient(completed), training=True)
            real_mean, fake_mean = self._ragan_means(real_logits, fake_logits)
            d_loss = losses.relativistic_average_discriminator_loss(
                real_logits, fake_logits, real_mean, fake_mean)
            d_scaled = distribute.global_batch_mean(d_loss)
        self.apply(self.d_optimizer, tape, d_scaled, self.discriminator.trainable_variables)

        with g_tape:  # resumes recording: the generator's loss through the updated D
            real_logits = self.discriminator(image, training=True)
            fake_logits = self.discriminator(completed, training=True)
            real_mean, fake_mean = self._ragan_means(real_logits, fake_logits)
            adv = losses.relativistic_average_generator_loss(
                real_logits, fake_logits, real_mean, fake_mean)
            # Liu et al. 2018 eq. 1: L_valid = |M·(ŷ - y)|_1 / N, L_hole = |(1 - M)·(ŷ - y)|_1 / N
            # with N = C·H·W; L_valid + L_hole is the whole-image L1 (pixel_loss).
            known = tf.cast(mask, image.dtype)                                # [B, S, S, 1]
            valid = losses.l1_loss(known * image, known * prediction)
            hole = losses.l1_loss((1.0 - known) * image, (1.0 - known) * prediction)
            content = self.perceptual_term(prediction, image)
            g_loss = (self.lambda_pixel * valid + self.lambda_hole * hole
                      + self.lambda_content * content + self.lambda_adv * adv)  # [B]
            terms = {"content_loss": content, "adv_loss": adv, "pixel_loss": valid + hole,
                     "hole_loss": hole}
            g_scaled = distribute.global_batch_mean(g_loss)
        self.apply(self.g_optimizer, g_tape, g_scaled, self.generator.trainable_variables)
        return self.record({"d_loss": d_loss, "g_loss": g_loss, **terms})


# Quick preset. No VGG19 ImageNet weights on these machines: no perceptual term ("none")
# rather than random VGG features, which dominated g_loss and made the holes worse than a
# mean fill; the L1 loss in the holes is weighted up instead: 13 : 1 against the known
# pixels (Liu et al. use 6 : 1; docs/EVALUATION.md). The generator corrects a classical
# fill: on the inpainting demo, seed 0, hole PSNR 21.6 dB learning the fill from scratch
# (with EMA), 25.6 from the harmonic fill (800 steps), 26.72 from the biharmonic fill
# (100 CG steps, 800 steps, 474 s) and 26.89 from 30 CG steps (500 steps, 140-215 s;
# 142 s since the step runs the generator once); the biharmonic fill itself
# (scikit-image): 26.69. But the 30-step fill alone, no network, scores 26.906: the
# trained U-Net adds nothing yet (bench/bench_inpainting_prior.py; docs/EVALUATION.md).
PRESETS = Presets(
    quick=dict(image_size=64, channels=3, base_filters=16, batch_size=8, g_learning_rate=1e-3,
               d_learning_rate=1e-3, lambda_hole=13.0, perceptual_weights="none",
               prior="biharmonic", prior_iterations=30),
    quick_train_steps=500,
    quick_ema_decay=0.99,
    tiny=dict(image_size=32, channels=3, base_filters=4, batch_size=4,
              perceptual_weights="random", max_thickness=4),
    twin=dict(lambda_adv=0.0),
)

def build(hparams: HParams | None = None) -> PConvInpainting:
    """The compiled GAN; build it inside ``strategy.scope()`` to distribute it."""
    model = PConvInpainting(hparams or HParams())
    model.compile()
    return model
