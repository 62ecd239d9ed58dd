"""Makes data/timg.jpg: 750 high x 500 wide RGB, from matplotlib's sample photo.

The source is `grace_hopper.jpg`, a U.S. Navy photograph of Rear Admiral
Grace M. Hopper (public domain, a work of the U.S. federal government) that
matplotlib ships in `mpl-data/sample_data`. The original demo hard-codes a
750x500 RGB `timg.jpg`; this script makes one of that shape, reproducibly.

Run from the repository root: ``python data/make_timg.py``.
"""

from pathlib import Path

import matplotlib.cbook
from PIL import Image

HEIGHT, WIDTH = 750, 500


def main():
    source = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(source) as photo:
        photo = photo.convert("RGB")
        src_w, src_h = photo.size  # 512 x 600
        # Centre crop to the target's 2:3 aspect ratio, then resize.
        crop_w = round(src_h * WIDTH / HEIGHT)
        left = (src_w - crop_w) // 2
        cropped = photo.crop((left, 0, left + crop_w, src_h))
        resized = cropped.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)
    out = Path(__file__).resolve().parent / "timg.jpg"
    resized.save(out, format="JPEG", quality=90, subsampling=0)
    print(f"wrote {out} ({WIDTH} wide x {HEIGHT} high, RGB)")


if __name__ == "__main__":
    main()
