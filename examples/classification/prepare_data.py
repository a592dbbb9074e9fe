"""Write scikit-learn's 1,797 real digits as data/digits/<digit>/*.png and split them
into train / val / test file lists (the ImageNet format PaddleX uses)."""

from pxcore.datasets.digits import write_digits
from pxcore.datasets.split import split_image_folders

write_digits("data/digits", size=32)
for name, path in split_image_folders("data/digits", val=0.2, test=0.1, seed=0).items():
    print(name, path)
