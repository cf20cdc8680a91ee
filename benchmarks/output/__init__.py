"""Where the figures go: the dllogger log with every metric's unit
(logger.py), the console in tf_cnn_benchmarks' layout (console.py) and
TensorBoard (summaries.py)."""
