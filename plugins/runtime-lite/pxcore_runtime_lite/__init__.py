"""pxcore-runtime-lite: Paddle Lite's optimizer and light predictor."""

__version__ = "0.1.0"
