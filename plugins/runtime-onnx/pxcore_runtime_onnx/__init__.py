"""pxcore-runtime-onnx: paddle2onnx conversion and ONNX Runtime."""

__version__ = "0.1.0"
