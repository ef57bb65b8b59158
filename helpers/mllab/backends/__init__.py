"""The two backends a lab runs on: ``offline`` (moto + mllab.offline) and ``aws``."""
