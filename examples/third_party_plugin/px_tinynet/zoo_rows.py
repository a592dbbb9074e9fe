"""The plugin's own zoo row: TinyNet_x1_0 trained on the digits pxcore ships.

Measured with pxcore's demo recipe (``px demo --model TinyNet_x1_0``: scikit-learn's
1,797 handwritten digits at 32 px, split 70/20/10 with seed 0, 8 epochs, batch 32,
learning rate 0.02, the best checkpoint by validation accuracy), evaluated on the
held-out test split (179 images). No weights are published, so the row has no URL.
"""

from pxcore.zoo import ZooEntry

ROWS = [
    ZooEntry(
        name="TinyNet_x1_0",  # the preset that builds it has the same name
        task="classification",
        dataset="digits",
        num_classes=10,
        size_mb=4.5,  # the trained model.pdparams: 4,741,981 bytes
        latency_ms=0.18,
        latency_device="CPU",
        latency_setting="AMD EPYC, 32x32, batch 1, 1 thread, ONNX Runtime, "
                        "best of 7 rounds of 100 runs after 10 warm-up",
        metrics={"top1": 97.8, "top5": 100.0},
        plugins=("px-tinynet",),
    ),
]
