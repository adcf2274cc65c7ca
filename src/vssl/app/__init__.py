"""The top layer: the pre-training and evaluation runners, studies, the demo, the Python API and the command line."""
