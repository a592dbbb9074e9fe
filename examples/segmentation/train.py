"""Train Fast-SCNN from scratch on the shapes (the recipe of px demo --task
semantic_segmentation): PaddleSeg's augmentations, Adam, polynomial decay. BatchNorm
keeps PaddleSeg's momentum: train() re-estimates its statistics before it evaluates and
saves (precise BN), so a short run's checkpoints describe their weights."""

import pxcore as px
from pxcore import transforms as T

normalize = T.Normalize([0.5] * 3, [0.5] * 3)
labels = "data/shapes/seg_labels.txt"
train = px.datasets.SegDataset("data/shapes", "data/shapes/seg_train_list.txt", labels, shuffle=True,
                               transforms=T.Compose([T.ResizeStepScaling(0.75, 1.25, 0.25),
                                                     T.RandomPaddingCrop(96), T.RandomHorizontalFlip(),
                                                     T.RandomDistort(), normalize]))
val = px.datasets.SegDataset("data/shapes", "data/shapes/seg_val_list.txt", labels,
                             transforms=T.Compose([normalize]))
model = px.create_model("Fast-SCNN", num_classes=train.num_classes)  # or use_mixed_loss=True
model.train(num_epochs=10, train_dataset=train, train_batch_size=8, eval_dataset=val,
            optimizer="Adam", learning_rate=0.01, save_dir="output/seg", seed=0)
