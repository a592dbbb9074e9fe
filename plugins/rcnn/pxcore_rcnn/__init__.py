"""Faster R-CNN and Mask R-CNN for pxcore."""
