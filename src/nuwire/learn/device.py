"""Where training runs: CUDA with bf16 autocast and channels_last when present, CPU fp32 otherwise.

Kept apart from the training loop so that `nuwire.evaluation.evaluate` and the benchmarks place models and
batches the same way. The CUDA paths are the standard ones (autocast, channels_last, pinned host
memory with non-blocking copies); none of them change what is computed, only how fast.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nuwire.errors import ConfigError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class DeviceSetup:
    device: torch.device
    amp_dtype: torch.dtype | None  # autocast dtype, None = full fp32
    channels_last: bool  # NHWC layout: faster convolutions with cuDNN on tensor cores
    pin_memory: bool  # page-locked host batches, so host→device copies can overlap compute

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def describe(self) -> str:
        if not self.is_cuda:
            return "cpu (fp32)"
        name = torch.cuda.get_device_name(self.device)
        precision = "bf16 autocast" if self.amp_dtype is not None else "fp32"
        return f"{self.device} {name} ({precision}, channels_last)"

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def place_model(self, model: nn.Module) -> nn.Module:
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def place_batch(self, tensor: Any) -> Any:
        """A dense (B, C, H, W) tensor or a `nuwire.sparse.SparseTensor` (which has no memory format)."""
        # non_blocking only helps (and is only safe to rely on) with pinned host memory.
        tensor = tensor.to(self.device, non_blocking=self.pin_memory)
        if self.channels_last and isinstance(tensor, torch.Tensor) and tensor.dim() == 4:
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        return tensor


def select_device(preference: str = "auto", amp: bool = True) -> DeviceSetup:
    """`auto`: the first CUDA device if there is one, else the CPU. `cuda` without a GPU is an error."""
    if preference not in DEVICE_CHOICES:
        raise ConfigError(f"train.device: {preference!r} is not one of {list(DEVICE_CHOICES)}.")
    use_cuda = torch.cuda.is_available() and preference in ("auto", "cuda")
    if preference == "cuda" and not use_cuda:
        raise ConfigError(
            "train.device is 'cuda' but torch sees no CUDA device (torch.cuda.is_available() is False). "
            "Run on a GPU node, install a CUDA build of torch, or set train.device to 'auto' or 'cpu'."
        )
    if not use_cuda:
        return placement(torch.device("cpu"))
    return placement(torch.device("cuda", torch.cuda.current_device()), amp=amp, pin_memory=True)


def placement(device: torch.device | str, amp: bool = True, pin_memory: bool = False) -> DeviceSetup:
    """How tensors go onto `device`: bf16 autocast and channels_last on CUDA, plain fp32 on the CPU."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return DeviceSetup(dev, amp_dtype=None, channels_last=False, pin_memory=False)
    # bf16 has fp32's exponent range, so no GradScaler is needed (unlike fp16); pre-Ampere GPUs
    # emulate it slowly, so fall back to fp32 there.
    bf16 = amp and torch.cuda.is_bf16_supported()
    return DeviceSetup(dev, amp_dtype=torch.bfloat16 if bf16 else None, channels_last=True, pin_memory=pin_memory)
