"""Predict a few images and save pictures with the top-3 classes drawn on them."""

from pathlib import Path

import pxcore as px

model = px.load_model("output/digits/best_model")
images = [str(next(Path("data/digits", digit).glob("*.png"))) for digit in ("3", "5", "8")]
for image, result in zip(images, model.predict(images, topk=3), strict=True):
    print(image, result)  # [{'category_id': 3, 'category': '3', 'score': 0.99}, ...]
    px.visualize.visualize(image, result, f"output/predict/{Path(image).parent.name}.png")
