"""Packaging for emo_lobes: shared SpeechBrain lobes, corpus parsers and tools for multi-corpus SER."""
from setuptools import find_packages, setup

setup(
    name="emo-lobes",
    version="0.1.0",
    description="SpeechBrain recipes and shared lobes for multi-corpus speech emotion recognition",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["emo_lobes", "emo_lobes.*"]),
    package_data={"emo_lobes.data": ["tables/*.csv", "tables/*.json"]},
    python_requires=">=3.9",
    install_requires=[
        "speechbrain>=1.1.2,<1.2",  # the 1.1 line we test (1.1.2)
        "torch>=2.7.1",
        "torchaudio>=2.7.1",
        "hyperpyyaml>=1.2",
        "transformers>=4.40",
        "sentencepiece",
        "numpy",
        "soundfile>=0.12",
        "scikit-learn>=1.3",
        "tqdm",  # progress bars of long non-training steps (SpeechBrain's own dependency)
    ],
    extras_require={
        "baselines": ["opensmile>=2.5"],
        "plots": ["matplotlib>=3.7", "umap-learn>=0.5"],
        "tensorboard": ["tensorboard>=2.12"],
        "export": ["onnx", "onnxruntime"],  # tools/export.py --format onnx and its check
        "test": ["pytest>=7", "tensorboard>=2.12", "onnx", "onnxruntime"],
    },
)
