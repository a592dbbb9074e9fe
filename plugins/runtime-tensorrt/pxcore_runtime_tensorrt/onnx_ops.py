"""Which ONNX operators TensorRT's parser takes, to refuse a model early and clearly.

The set is the "supported" column of onnx-tensorrt's operator matrix for TensorRT 8.4
(opset 13, the opset pxcore's ONNX uses); later TensorRT releases support all of them.
RoiAlign joined with TensorRT 8.6 (the matrix lists it for FP32 and FP16 since): R-CNN's
box and mask graphs, exported at opset 16 for its half-pixel form, need it.
"""

from __future__ import annotations

from pathlib import Path

TENSORRT_ONNX_OPS = frozenset("""
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization
Cast Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum
DepthToSpace DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten
Floor Gather GatherElements GatherND Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool
Greater GreaterOrEqual GRU HardSigmoid Identity If ImageScaler InstanceNormalization IsNaN
LeakyRelu Less LessOrEqual Log LogSoftmax Loop LRN LSTM LpNormalization LpPool MatMul Max
MaxPool Mean Min Mul Neg NonMaxSuppression Not Or Pad ParametricSoftplus Pow PRelu
QuantizeLinear RandomUniform RandomUniformLike Range ReduceL1 ReduceL2 ReduceLogSum
ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu
Reshape Resize ReverseSequence RNN RoiAlign Round ScaledTanh Scan Scatter ScatterElements ScatterND
Selu Shape Sigmoid Sign Sin Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split
Sqrt Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile TopK Transpose Unsqueeze Upsample Where
Xor
""".split())


def onnx_ops(onnx_path: Path) -> set[str]:
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    return {node.op_type for node in model.graph.node}


def unsupported_ops(onnx_path: Path) -> list[str]:
    return sorted(onnx_ops(onnx_path) - TENSORRT_ONNX_OPS)
