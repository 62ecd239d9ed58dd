"""The project's benchmarks, run from the repository root with `python -m`.

- `python -m benchmarks.bench`: the faithful TF1 session against the TF2
  variants, checked then timed in one run, with the memory and compute
  floors; `--configs` runs each CPU configuration in its own subprocess.
- `python -m benchmarks.upsample`: `tf2.BilinearUpsample2D` against
  `keras.layers.UpSampling2D`.
- `python -m benchmarks.accuracy`: the worst relative error per stage
  against the float64 reference.
- `python -m benchmarks.large_image`: a 10000x10000 image, tiled.

The timing logic lives in modules (`variants`, `checks`, `floor`, `timing`,
`report`, `configs`); the commands are thin entry points. Nothing here
imports TensorFlow at import time.
"""

from deconv_io._version import __version__

__all__ = ["__version__"]
