"""What makes a number reproducible: package versions, the machine, the device and the source commit."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch

from irad._version import __version__


def environment(device: str) -> dict:
    """Versions (irad, torch, python, torchattacks), machine, thread count, device (and GPU name), git commit."""
    env = {
        "irad": __version__, "torch": torch.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(torch.device(device))
    try:
        import torchattacks

        env["torchattacks"] = torchattacks.__version__
    except ImportError:
        pass
    commit = git_commit()
    if commit:
        env["git_commit"] = commit
    return env


def git_commit(root: Path = Path(__file__).resolve().parents[3]) -> str | None:
    """HEAD of the source checkout irad runs from, with ``+modified`` if its tracked source files differ from it."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if head.returncode != 0 or not head.stdout.strip():
            return None
        dirty = subprocess.run(["git", "-C", str(root), "diff", "--quiet", "HEAD", "--", "src"], timeout=5).returncode
        return head.stdout.strip() + ("+modified" if dirty == 1 else "")
    except (OSError, subprocess.SubprocessError):
        return None
