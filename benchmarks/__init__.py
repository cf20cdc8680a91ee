"""vggbench: train, evaluate and benchmark VGG networks with TensorFlow 2.

Run it with ``python -m benchmarks [flags]`` (or the ``vggbench`` console
script).  The flow is one way: flags -> RunConfig -> builders -> loop ->
ThroughputMeter -> Logger; see docs/ARCHITECTURE.md.
"""
