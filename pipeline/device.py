"""The torch device a run asks for (`device: auto | cpu | cuda`)."""
from __future__ import annotations

import torch


def device_for(name: str) -> torch.device:
    """`auto` is the GPU when torch sees one."""
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")
