"""The script ``px train --devices/--nproc`` hands to ``paddle.distributed.launch``
(which runs a file, not ``-m module``): ``px`` in each launched process."""

import os
import sys

if __name__ == "__main__":
    # Run as a file, its folder (pxcore/cli, with train.py, eval.py...) would come first
    # on the import path and shadow modules of those names.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)
    from pxcore.cli import main

    sys.exit(main())
