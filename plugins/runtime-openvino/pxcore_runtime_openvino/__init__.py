"""pxcore-runtime-openvino: OpenVINO over the ONNX conversion."""

__version__ = "0.1.0"
