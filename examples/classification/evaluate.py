"""Evaluate the best checkpoint on the held-out test split."""

import pxcore as px

model = px.load_model("output/digits/best_model")
test = px.datasets.ImageNet("data/digits", "data/digits/test_list.txt", "data/digits/labels.txt",
                            transforms=model.eval_transforms)
print(model.evaluate(test, batch_size=64))  # {'acc1': ..., 'acc5': ...}
