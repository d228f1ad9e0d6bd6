"""LSGAN networks: a small MLP generator (z -> image in [-1, 1]) and critic (image -> score)."""
import keras


def lsgan_generator(latent_dim: int, image_size: int, channels: int, units: int) -> keras.Model:
    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Dense(units, name="fc1")(z)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Dense(image_size * image_size * channels, activation="tanh", name="fc_out")(x)
    out = keras.layers.Reshape((image_size, image_size, channels), name="image")(x)  # [B, H, W, C]
    return keras.Model(z, out, name="lsgan_generator")


def lsgan_discriminator(image_size: int, channels: int, units: int) -> keras.Model:
    x_in = keras.Input((image_size, image_size, channels), name="image")
    x = keras.layers.Flatten()(x_in)                                                # [B, H*W*C]
    x = keras.layers.Dense(units, name="fc1")(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    out = keras.layers.Dense(1, name="score")(x)
    return keras.Model(x_in, out, name="lsgan_discriminator")
