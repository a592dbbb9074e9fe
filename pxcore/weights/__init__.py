"""Reading weight files without running code from them, and fitting them to a network.

One module per step: ``unpickle`` (the safe unpickler for .pdparams pickles),
``legacy_format`` (Paddle 1.x's per-variable tensor files), ``archive`` (safe tar
unpacking), ``formats`` (which layout a path holds, read into ``{name: array}``) and
``fit`` (renaming a state to a network, checking it fits, loading it). No paddle is
imported here: a network's own methods do the loading.
"""

from .archive import extract_archive
from .fit import WeightsReport, check_fit, fit_state, load_weights
from .formats import PADDLE1, PDPARAMS, read_pdparams, read_state, read_weights
from .legacy_format import read_legacy_dir, read_legacy_tensor, write_legacy_tensor
from .unpickle import safe_unpickle

__all__ = [
    "PADDLE1", "PDPARAMS", "WeightsReport", "check_fit", "extract_archive", "fit_state",
    "load_weights", "read_legacy_dir", "read_legacy_tensor", "read_pdparams", "read_state",
    "read_weights", "safe_unpickle", "write_legacy_tensor",
]
