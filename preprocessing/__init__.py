"""Input: synthetic batches now; the ImageNet TFRecord pipeline next."""
