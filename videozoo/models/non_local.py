"""Non-local blocks for TSM (Wang et al., "Non-local Neural Networks", CVPR 2018).

``NonLocal3d`` reproduces the maths of mmcv's ``NonLocal3d`` (used by MMAction2's ResNetTSM with
``non_local_cfg``) for the three modes the MMAction2 zoo trains: ``embedded_gaussian``,
``gaussian`` and ``dot_product``. ``NonLocalWrapper`` runs a frame-level block and then the
non-local block on the view's frames stacked in time, like MMAction2's ``NL3DWrapper``.

Module names (videozoo -> mmcv, inside MMAction2's ``non_local_block``)::

    g.*          <-> g.0.conv.*        (1x1x1 conv, bias; a max-pool follows with sub_sample)
    theta.*      <-> theta.conv.*      (absent in gaussian mode)
    phi.*        <-> phi.0.conv.*      (absent in gaussian mode)
    conv_out.*   <-> conv_out.conv.*   (no bias)
    norm_out.*   <-> conv_out.bn.*     (BatchNorm3d)
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

NON_LOCAL_MODES = ("embedded_gaussian", "gaussian", "dot_product")

# videozoo name -> mmcv name, for the parameters/buffers of one NonLocal3d.
NON_LOCAL_KEY_MAP = (
    ("g.", "g.0.conv."),
    ("theta.", "theta.conv."),
    ("phi.", "phi.0.conv."),
    ("conv_out.", "conv_out.conv."),
    ("norm_out.", "conv_out.bn."),
)


class NonLocal3d(nn.Module):
    """Non-local block on ``(N, C, T, H, W)``; returns ``x + BN(conv_out(y))``.

    Args:
        in_channels: channels C of the input.
        mode: ``'embedded_gaussian'`` (softmax of theta.phi), ``'gaussian'`` (softmax of x.x over
            all C channels, no theta/phi convs) or ``'dot_product'`` (theta.phi / number of keys).
        reduction: inter channels = ``max(C // reduction, 1)``.
        sub_sample: max-pool keys and values by (1, 2, 2), floor mode.
        use_scale: divide embedded-gaussian logits by sqrt(inter channels) (MMAction2 zoo: False).
    """

    def __init__(self, in_channels: int, mode: str = "embedded_gaussian", reduction: int = 2,
                 sub_sample: bool = True, use_scale: bool = False):
        super().__init__()
        if mode not in NON_LOCAL_MODES:
            raise ValueError(f"non-local mode must be one of {NON_LOCAL_MODES}, got {mode!r}")
        self.in_channels = in_channels
        self.inter_channels = max(in_channels // reduction, 1)
        self.mode = mode
        self.sub_sample = sub_sample
        self.use_scale = use_scale
        inter = self.inter_channels
        self.g = nn.Conv3d(in_channels, inter, kernel_size=1)
        if mode != "gaussian":
            self.theta = nn.Conv3d(in_channels, inter, kernel_size=1)
            self.phi = nn.Conv3d(in_channels, inter, kernel_size=1)
        else:
            self.theta = None
            self.phi = None
        self.pool = nn.MaxPool3d(kernel_size=(1, 2, 2)) if sub_sample else nn.Identity()
        self.conv_out = nn.Conv3d(inter, in_channels, kernel_size=1, bias=False)
        self.norm_out = nn.BatchNorm3d(in_channels)
        self.init_weights()

    def init_weights(self, std: float = 0.01) -> None:
        """mmcv's init: N(0, std) embeddings with zero bias, zero output BN (block = identity)."""
        for conv in (self.g, self.theta, self.phi):
            if conv is not None:
                nn.init.normal_(conv.weight, 0.0, std)
                nn.init.zeros_(conv.bias)
        nn.init.kaiming_normal_(self.conv_out.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.norm_out.weight)
        nn.init.zeros_(self.norm_out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        inter = self.inter_channels
        g_x = self.pool(self.g(x)).reshape(n, inter, -1).permute(0, 2, 1)  # (n, Ns, inter)
        if self.mode == "gaussian":
            theta_x = x.reshape(n, c, -1).permute(0, 2, 1)  # (n, N, C)
            phi_x = self.pool(x).reshape(n, c, -1)  # (n, C, Ns)
        else:
            theta_x = self.theta(x).reshape(n, inter, -1).permute(0, 2, 1)  # (n, N, inter)
            phi_x = self.pool(self.phi(x)).reshape(n, inter, -1)  # (n, inter, Ns)

        pairwise = torch.matmul(theta_x, phi_x)  # (n, N, Ns)
        if self.mode == "dot_product":
            pairwise = pairwise / pairwise.shape[-1]
        else:
            if self.use_scale and self.mode == "embedded_gaussian":
                pairwise = pairwise / theta_x.shape[-1] ** 0.5
            pairwise = pairwise.softmax(dim=-1)

        y = torch.matmul(pairwise, g_x)  # (n, N, inter)
        y = y.permute(0, 2, 1).reshape(n, inter, *x.shape[2:])
        return x + self.norm_out(self.conv_out(y))

    def extra_repr(self) -> str:
        return f"mode={self.mode}, sub_sample={self.sub_sample}, use_scale={self.use_scale}"


class NonLocalWrapper(nn.Module):
    """Run ``block`` on ``(N*T, C, H, W)`` frames, then a ``NonLocal3d`` over each view's T frames.

    ``num_segments`` (T) follows the input like ``TemporalShift`` does (the recognizer sets it via
    ``set_num_segments``), unless ``fixed_segments`` pins it.
    """

    segment_aware = True  # picked up by videozoo.models.layers.set_num_segments

    def __init__(self, block: nn.Module, non_local: NonLocal3d,
                 fixed_segments: Optional[int] = None):
        super().__init__()
        self.block = block
        self.non_local = non_local
        self.fixed_segments = fixed_segments
        self.num_segments = fixed_segments or 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block(x)
        nt, c, h, w = x.shape
        t = self.num_segments
        if nt % t:
            raise ValueError(
                f"non-local block needs the frame batch ({nt}) to be a multiple of the number of "
                f"segments ({t})"
            )
        x = x.reshape(nt // t, t, c, h, w).transpose(1, 2)
        x = self.non_local(x)
        return x.transpose(1, 2).reshape(nt, c, h, w)
