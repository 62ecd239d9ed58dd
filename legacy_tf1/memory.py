"""What the faithful port's session holds in memory, per pixel.

`legacy_tf1.graph.run_session` keeps the image in the GraphDef and in its
variable and fetches NumPy copies of every stage (conv1's among them), so
its figure is its own; `deconv_io.memory_model.peak_bytes` turns it into an
estimate. The figure is an upper bound of the peak RSS growth that
`benchmarks/large_image.py` measures (figures in docs/performance.md).
"""

__all__ = ["TF1_SESSION_BYTES_PER_PIXEL"]

#: Peak bytes per image pixel of one TF1 `run_session`.
TF1_SESSION_BYTES_PER_PIXEL = 600
