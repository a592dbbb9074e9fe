"""Reading images and feeding batches to training and evaluation."""
