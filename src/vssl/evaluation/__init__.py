"""Evaluation protocols on frozen or fine-tuned encoders."""
