"""Reading ``deploy.yml``, the description ``export`` writes beside the program: inputs,
outputs, labels, and the pre- and post-processing as data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from ..errors import PxError

DEPLOY_FILE = "deploy.yml"
FORMAT = "pxcore-deploy/1"


def read_deploy_info(model_dir: str | os.PathLike) -> dict[str, Any]:
    model_dir = Path(model_dir)
    path = model_dir / DEPLOY_FILE
    if not path.is_file():
        hint = (" (it is a training checkpoint: export it with `px export` or model.export())"
                if (model_dir / "model.yml").is_file() else "")
        raise PxError(f"{str(model_dir)!r} is not an exported model: no {DEPLOY_FILE}{hint}")
    info = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise PxError(f"{path}: not a {FORMAT} description (format {info.get('format') if isinstance(info, dict) else None!r})")
    return info
