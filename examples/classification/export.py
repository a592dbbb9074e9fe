"""Export the best checkpoint for deployment and run it without the model's code."""

from pathlib import Path

import pxcore as px

model = px.load_model("output/digits/best_model")
exported = model.export("output/digits_inference")  # static program + deploy.yml

predictor = px.Predictor(exported)  # runtime="auto": ONNX Runtime on CPU when installed
print("runtime:", predictor.runtime)
image = str(next(Path("data/digits", "7").glob("*.png")))
print(predictor.predict(image, topk=3))   # the same as model.predict(image, topk=3)
print(px.Predictor(exported, runtime="paddle").predict(image, topk=3))
