"""Train a zoo model on the digits; the best checkpoint (by validation top-1) is kept."""

import logging

import pxcore as px
from pxcore import transforms as T

logging.basicConfig(level=logging.INFO, format="%(message)s")

train_transforms = T.Compose([T.RandomCrop(32, lower_scale=0.75, lower_ratio=0.9, upper_ratio=1.1),
                              T.Normalize()])
eval_transforms = T.Compose([T.Normalize()])
train = px.datasets.ImageNet("data/digits", "data/digits/train_list.txt", "data/digits/labels.txt",
                             transforms=train_transforms, shuffle=True)
val = px.datasets.ImageNet("data/digits", "data/digits/val_list.txt", "data/digits/labels.txt",
                           transforms=eval_transforms)

model = px.create_model("ResNet18", num_classes=train.num_classes)
model.train(num_epochs=8, train_dataset=train, train_batch_size=32, eval_dataset=val,
            learning_rate=0.02, lr_decay_epochs=[6], warmup_steps=20, save_dir="output/digits")
