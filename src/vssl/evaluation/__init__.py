"""Evaluation protocols on frozen or fine-tuned encoders, and the kNN monitor that runs one during pre-training."""
