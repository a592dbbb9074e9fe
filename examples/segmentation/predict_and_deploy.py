"""Evaluate the best checkpoint, draw label maps with a legend, predict by sliding
windows, export, and run the exported model through the fastest runtime."""

from pathlib import Path

import pxcore as px

model = px.load_model("output/seg/best_model")
test = px.datasets.SegDataset("data/shapes", "data/shapes/seg_test_list.txt",
                              "data/shapes/seg_labels.txt", transforms=model.eval_transforms)
print(model.evaluate(test))  # {'miou': ..., 'category_iou': [...], 'oacc': ..., 'kappa': ...}

image = "data/shapes/JPEGImages/0007.jpg"
result = model.predict(image)  # {'label_map': HxW, 'score_map': HxWxC}
px.visualize.visualize(image, result, "output/predict/0007.png", labels=model.labels)
tiled = model.predict(image, tile_size=64, overlap=16)  # large images: sliding windows
print("windows agree with the whole image on", (tiled["label_map"] == result["label_map"]).mean())

exported = model.export("output/seg_inference")
predictor = px.Predictor(exported)
deployed = predictor.predict(image)
print(predictor.runtime, "agrees on", (deployed["label_map"] == result["label_map"]).mean(),
      "of the pixels; picture:", Path("output/predict/0007.png").resolve())
