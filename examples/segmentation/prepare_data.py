"""Write 600 images of shapes on real photos with their label images (background 0,
then one class per shape) and train / val / test lists in PaddleX's format."""

import pxcore as px

root = px.datasets.make_shapes("data/shapes", num_images=600, image_size=96, max_objects=3, seed=0)
print((root / "seg_labels.txt").read_text())
