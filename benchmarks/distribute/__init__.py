"""Devices and workers: the tf.distribute strategy (strategy.py) and, across
hosts, the cluster of workers (cluster.py)."""
