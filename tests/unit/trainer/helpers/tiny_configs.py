"""Small hyper-parameters for each GAN, shared by the tests and their helper scripts."""
import numpy as np

TINY = {
    "pix2pix_wgan_gp": dict(image_size=32, channels=1, base_filters=4, batch_size=4),
    "vanilla_gan": dict(image_size=28, latent_dim=8, g_hidden_units=(16, 16),
                        d_hidden_units=(16, 16), batch_size=4),
    "dcgan": dict(image_size=28, latent_dim=8, base_filters=4, batch_size=4),
    "pconv_inpainting": dict(image_size=32, channels=3, base_filters=4, batch_size=4,
                             perceptual_weights="random", max_thickness=4),
    "srrescycgan": dict(image_size=32, channels=1, base_filters=4, num_res_blocks=1,
                        batch_size=4, perceptual_weights="random", lambda_identity=0.5),
}

# Which attributes hold the generator-side and discriminator-side networks.
NETWORKS = {
    "pix2pix_wgan_gp": (("generator",), ("critic",)),
    "vanilla_gan": (("generator",), ("discriminator",)),
    "dcgan": (("generator",), ("discriminator",)),
    "pconv_inpainting": (("generator",), ("discriminator",)),
    "srrescycgan": (("g_hr", "g_lr"), ("d_hr", "d_lr")),
}


def batch_for(module, hparams, n, seed=0):
    """A dict batch of ``n`` images in [-1, 1] with the GAN's input shapes."""
    rng = np.random.default_rng(seed)
    return {role: rng.uniform(-1, 1, (n, *shape)).astype("float32")
            for role, shape in module.input_shapes(hparams).items()}
