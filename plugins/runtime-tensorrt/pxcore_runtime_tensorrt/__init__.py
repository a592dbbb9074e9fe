"""pxcore-runtime-tensorrt: TensorRT engines from the exported model's ONNX."""

__version__ = "0.1.0"
