"""DSTNet: deep discriminative spatial and temporal network for video deblurring (Pan et al., CVPR 2023).

Our implementation of the paper's architecture, with the official release's parameter names and
shapes so its checkpoints load unchanged (docs/dstnet.md maps the names). Data flow per window:

    frames -> 3x3 conv -> Haar (level 1) --low--> Haar (level 2) --low--> 5 CWGDN blocks (temporal)
                              |                       '--details--> 1x1 convs
                              |            level-1 low = inverse Haar of the two
                              |            -> backward propagation over the window -> forward propagation
                              '--details--> 1x1 convs
             output = 3x3 conv(inverse Haar(propagated, level-1 details)) + frames

The linear stretches (frame to the first 1x1 convs, inverse Haar to the output) run as composite
convolutions (`DSTNet._composite_kernels`), so no full-resolution feature map is ever built. Across
the window only what the recurrence needs is held: the level-2 bands of each frame until backward
propagation consumes them, then the backward states until forward propagation does; the level-1
details are recomputed from the input frame at the end rather than kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from deblur_cli.models.dynamic_filter import channel_filter_3x3, pixel_filter_3x3
from deblur_cli.models.wavelet import HaarWavelet, analysis_kernel, synthesis_conv_kernel

MULTIPLE = 16  # H and W must be multiples of this: two Haar levels, then the /8 pixel-kernel predictor
CWGDN_BLOCKS = 5  # fixed in the official model
FFN_EXPANSION = 4  # CWGDN hidden channels = FFN_EXPANSION * feat
PIXEL_KERNEL_SCALE = 8  # pixel kernels are predicted at 1/8 of the propagation resolution
NEGATIVE_SLOPE = 0.1  # of every leaky ReLU


@dataclass(frozen=True)
class DSTNetConfig:
    feat: int = 64  # feature channels at every scale (official num_feat)
    blocks: int = 15  # residual blocks after each propagation step, per direction (official num_block)


DSTNET_VARIANTS: dict[str, DSTNetConfig] = {
    "dstnet": DSTNetConfig(),  # the published model, 7.45 M parameters
    "dstnet-s": DSTNetConfig(feat=32, blocks=5),
}


class FrameConv(nn.Conv3d):
    """A 3x3 convolution of each frame alone, kept as a Conv3d with a (1, 3, 3) kernel (the official layout).

    DSTNet only uses it inside composite kernels (see `DSTNet._composite_kernels`).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, (1, 3, 3), padding=(0, 1, 1))

    @property
    def kernel(self) -> Tensor:
        """The 2D kernel, (C_out, C_in, 3, 3)."""
        return self.weight[:, :, 0]


class TemporalConv(nn.Conv3d):
    """A (3, 1, 1) convolution over time, bias-free, applied frame by frame.

    out[t] = W_0 x[t-1] + W_1 x[t] + W_2 x[t+1], a neighbour outside the window counting as zero.
    Two equal forms: `gather` builds one output from its three inputs, which is cheap when inputs are
    narrower than outputs; `scatter` computes what one input adds to its three outputs and `combine`
    sums those, which reads each (wide) input once.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, (3, 1, 1), padding=(1, 0, 0), bias=False)

    def gather(self, prev: Tensor | None, cur: Tensor, nxt: Tensor | None, chunks: int = 1) -> list[Tensor]:
        """The output frame between prev, cur and nxt (B, C_in, h, w), as `chunks` equal channel groups.

        Each group comes from its own conv, so each is dense in memory (unlike slices of one output).
        """
        present = [(tap, frame) for tap, frame in enumerate((prev, cur, nxt)) if frame is not None]
        frames = torch.cat([frame for _, frame in present], dim=1) if len(present) > 1 else cur
        weight = torch.cat([self.weight[:, :, tap] for tap, _ in present], dim=1)
        return [F.conv2d(frames, part) for part in weight.chunk(chunks)]

    def scatter(self, x: Tensor) -> Tensor:
        """(B, C_in, h, w) -> (B, 3 * C_out, h, w): channel block k holds W_k x."""
        return F.conv2d(x, rearrange(self.weight, "o i k 1 1 -> (k o) i 1 1"))

    def combine(self, from_prev: Tensor | None, from_cur: Tensor, from_next: Tensor | None) -> Tensor:
        """out[t] from scatter(x[t-1]), scatter(x[t]) and scatter(x[t+1]) (None outside the window)."""
        channels = self.out_channels
        out = from_cur[:, channels : 2 * channels].clone(memory_format=torch.channels_last)
        if from_prev is not None:
            out.add_(from_prev[:, :channels])
        if from_next is not None:
            out.add_(from_next[:, 2 * channels :])
        return out


def _band_conv(channels: int) -> nn.Conv2d:
    """A 1x1 convolution within each of the three Haar detail bands: (B, 3C, H, W) -> the same."""
    return nn.Conv2d(3 * channels, 3 * channels, 1, groups=3)


def _dense_weight(band_conv: nn.Conv2d) -> Tensor:
    """The block-diagonal (3C, 3C) matrix of a band-wise 1x1 conv."""
    return torch.block_diag(*band_conv.weight[:, :, 0, 0].chunk(3))


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of every pixel (with bias), (B, C, H, W) -> the same."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.LayerNorm(channels, eps=1e-5)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _depthwise_stack(channels: int) -> nn.Sequential:
    return nn.Sequential(*[nn.Conv2d(channels, channels, 3, padding=1, groups=channels) for _ in range(3)])


class ChannelKernelFilter(nn.Module):
    """Filters each channel with a 3x3 kernel predicted from the whole frame (official `kerner_conv_channel`).

    Kernel prediction: 2x2 average pool, three depthwise 3x3 convs, 2x2 max pool, three more, global
    mean, 1x1 conv to 9 taps per channel. (B, C, H, W) -> the same; H and W multiples of 4.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.Block1 = _depthwise_stack(channels)
        self.Block2 = _depthwise_stack(channels)
        self.tokernel = nn.Conv2d(channels, 9 * channels, 1)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        summary = self.Block2(F.max_pool2d(self.Block1(F.avg_pool2d(x, 2)), 2)).mean((2, 3), keepdim=True)
        kernels = self.tokernel(summary).view(x.shape[0], x.shape[1], 3, 3)
        return channel_filter_3x3(x, kernels, self.bias)


class GatedDynamicFFN(nn.Module):
    """The CWGDN feed-forward part: temporal projection in, channel-dynamic filter, gate, temporal projection out."""

    def __init__(self, channels: int):
        super().__init__()
        self.hidden = FFN_EXPANSION * channels
        self.project_in = TemporalConv(channels, 2 * self.hidden)
        self.kerner_conv_channel = ChannelKernelFilter(self.hidden)
        self.project_out = TemporalConv(self.hidden, channels)

    def gated(self, prev: Tensor | None, cur: Tensor, nxt: Tensor | None) -> Tensor:
        """Hidden features of the frame between prev, cur and nxt (B, C, h, w): (B, 4C, h, w)."""
        value, gate = self.project_in.gather(prev, cur, nxt, chunks=2)
        return self.kerner_conv_channel(value).mul_(gate)


class CWGDN(nn.Module):
    """Channel-wise gated dynamic network block: x + FFN(LayerNorm(x)), mixing each frame with its neighbours."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm2 = ChannelLayerNorm(channels)
        self.ffn = GatedDynamicFFN(channels)

    def update_in_place(self, frames: list[Tensor]) -> None:
        """Replace every frame (B, C, h, w) of a window by the block's output, in place.

        Holds at most three normalised frames and three projected hidden frames: output t needs the
        projections of hidden t-1..t+1, and hidden t needs normalised t-1..t+1.
        """
        count = len(frames)
        normed: dict[int, Tensor] = {}
        projected: dict[int, Tensor] = {}
        project_out = self.ffn.project_out
        for t in range(count + 1):
            if t < count:
                for u in range(t, min(t + 2, count)):
                    if u not in normed:
                        normed[u] = self.norm2(frames[u])
                hidden = self.ffn.gated(normed.get(t - 1), normed[t], normed.get(t + 1))
                projected[t] = project_out.scatter(hidden)
                normed.pop(t - 1, None)
            if t > 0:  # every input of output t - 1 is ready; frame t - 1 is no longer read
                update = project_out.combine(projected.get(t - 2), projected[t - 1], projected.get(t))
                frames[t - 1] = update.add_(frames[t - 1])
                projected.pop(t - 2, None)


class ResBlock(nn.Module):
    """x + conv(leaky_relu(conv(x))), 3x3 convs with bias."""

    def __init__(self, channels: int, init_scale: float | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        # the official trunk blocks start close to identity; a skeleton on the meta device (checkpoint.build_to_fit)
        # has no values to draw, and its first normal_ there costs torch 1.5 s of set-up
        if init_scale is not None and not self.conv1.weight.is_meta:
            for conv in (self.conv1, self.conv2):
                nn.init.kaiming_normal_(conv.weight)
                with torch.no_grad():
                    conv.weight.mul_(init_scale)
                nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(F.leaky_relu_(self.conv1(x), NEGATIVE_SLOPE)).add_(x)


class PixelKernelFilter(nn.Module):
    """Filters every pixel and channel with its own predicted 3x3 kernel (official `kernel_conv_pixel`).

    Kernel prediction: 4x4 average pool, three residual blocks, 2x2 max pool, three more, 1x1 conv to
    9 taps per channel, bilinear upsampling by 8. (B, C, H, W) -> the same; H and W multiples of 8.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.Block1 = nn.Sequential(*[ResBlock(channels) for _ in range(3)])
        self.Block2 = nn.Sequential(*[ResBlock(channels) for _ in range(3)])
        self.tokernel = nn.Conv2d(channels, 9 * channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        kernels = self.tokernel(self.Block2(F.max_pool2d(self.Block1(F.avg_pool2d(x, 4)), 2)))
        return pixel_filter_3x3(x, kernels, PIXEL_KERNEL_SCALE)


class ResidualStack(nn.Module):
    """`blocks` residual blocks in sequence; the double nesting of `main` is the official key layout."""

    def __init__(self, channels: int, blocks: int):
        super().__init__()
        self.main = nn.Sequential(nn.Sequential(*[ResBlock(channels, init_scale=0.1) for _ in range(blocks)]))

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x)


class Propagation(nn.Module):
    """One direction of the recurrent propagation (DTFF): fuse the frame with the carried state.

    step: concat(frame, state) -> 3x3 conv + leaky ReLU -> two halves, each times a sigmoid gate
    (3x3 conv) of itself, summed -> per-pixel dynamic filter -> residual blocks -> the new state.
    """

    def __init__(self, channels: int, blocks: int):
        super().__init__()
        self.conv1 = nn.Conv2d(2 * channels, 2 * channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv3 = nn.Conv2d(channels, channels, 3, padding=1)
        self.kernel_conv_pixel = PixelKernelFilter(channels)
        self.resblock_bcakward2d = ResidualStack(channels, blocks)  # sic: the official name

    def step(self, frame: Tensor, state: Tensor | None) -> Tensor:
        """The state after `frame` (B, C, h, w); `state` None (all zeros) starts the recurrence."""
        channels = frame.shape[1]
        weight, bias = self.conv1.weight, self.conv1.bias
        if state is None:  # the zero half of the input contributes nothing
            fused, weight = frame, weight[:, :channels]
        else:
            fused = torch.cat([frame, state], dim=1)
        # Two half convolutions rather than one and a split, so both halves are dense in memory.
        first = F.leaky_relu_(F.conv2d(fused, weight[:channels], bias[:channels], padding=1), NEGATIVE_SLOPE)
        second = F.leaky_relu_(F.conv2d(fused, weight[channels:], bias[channels:], padding=1), NEGATIVE_SLOPE)
        mixed = first * self.conv2(first).sigmoid_()
        mixed.addcmul_(second, self.conv3(second).sigmoid_())
        return self.resblock_bcakward2d(self.kernel_conv_pixel(mixed))


def _compose(first: tuple[Tensor, Tensor | None], second: tuple[Tensor, Tensor | None], stride: int):
    """Conv `second` (no padding) applied to the output of conv `first` (stride `stride`), as one conv.

    Returns (weight, bias): kernel side k1 + (k2 - 1) * stride, stride `stride` times that of
    `second`, the padding of `first`. Exact, since `second` never reads `first`'s padded border.
    """
    (w1, b1), (w2, b2) = first, second
    k1, k2 = w1.shape[-1], w2.shape[-1]
    size = k1 + (k2 - 1) * stride
    weight = w1.new_zeros(w2.shape[0], w1.shape[1], size, size)
    for p in range(k2):
        for q in range(k2):
            window = (slice(None), slice(None), slice(p * stride, p * stride + k1), slice(q * stride, q * stride + k1))
            weight[window] += torch.einsum("om,mihw->oihw", w2[:, :, p, q], w1)
    bias = w2.sum((2, 3)) @ b1 if b1 is not None else w1.new_zeros(w2.shape[0])
    return weight, bias if b2 is None else bias + b2


@dataclass(frozen=True)
class _CompositeKernels:
    """The linear stretches of DSTNet between the frames and the first nonlinearity, as single convs."""

    level2_low: tuple[Tensor, Tensor]  # frame -> level-2 low band: 6x6, stride 4, padding 1
    level2_details: tuple[Tensor, Tensor]  # frame -> x_wave_2_conv1(level-2 details): 6x6, stride 4, padding 1
    level1_details: tuple[Tensor, Tensor]  # frame -> x_wave_1_conv1(level-1 details): 4x4, stride 2, padding 1
    output: tuple[Tensor, Tensor]  # [propagated, refined level-1 details] -> recons(inverse Haar), 4 sub-pixel phases


class DSTNet(nn.Module):
    """DSTNet over a window of frames; see the module docstring for the data flow."""

    def __init__(self, config: DSTNetConfig = DSTNetConfig()):
        super().__init__()
        self.config = config
        feat = config.feat
        self.feat_extractor = FrameConv(3, feat)
        self.recons = FrameConv(feat, 3)
        self.wave = HaarWavelet(feat)
        # Refinement of the level-1 and level-2 detail bands.
        self.x_wave_1_conv1 = _band_conv(feat)
        self.x_wave_1_conv2 = _band_conv(feat)
        self.x_wave_2_conv1 = _band_conv(feat)
        self.x_wave_2_conv2 = _band_conv(feat)
        # Each block sits in a one-element Sequential in the official key layout.
        self.transformer_scale4 = nn.Sequential(*[nn.Sequential(CWGDN(feat)) for _ in range(CWGDN_BLOCKS)])
        self.forward_propagation = Propagation(feat, config.blocks)
        self.backward_propagation = Propagation(feat, config.blocks)

    def _composite_kernels(self, dtype: torch.dtype) -> _CompositeKernels:
        """Compose feat_extractor, the Haar transforms, the first detail convs and recons into four convs.

        Each stretch is linear, so one conv computes it exactly, without the full-resolution feature
        maps in between. Composed in at least float32, then cast to `dtype`.
        """
        work = torch.promote_types(dtype, torch.float32)
        feat = self.config.feat
        haar = analysis_kernel(feat, work, self.wave.haar_weights.device)
        low_band, detail_filters = (haar[:feat], None), haar[feat:]

        def refined_details(conv: nn.Conv2d) -> tuple[Tensor, Tensor]:
            weight = torch.einsum("om,mihw->oihw", _dense_weight(conv).to(work), detail_filters)
            return weight, conv.bias.to(work)

        features = (self.feat_extractor.kernel.to(work), self.feat_extractor.bias.to(work))
        level1_low = _compose(features, low_band, stride=1)
        recons = (synthesis_conv_kernel(self.recons.kernel.to(work)), self.recons.bias.to(work).repeat_interleave(4))
        parts = {
            "level2_low": _compose(level1_low, low_band, stride=2),
            "level2_details": _compose(level1_low, refined_details(self.x_wave_2_conv1), stride=2),
            "level1_details": _compose(features, refined_details(self.x_wave_1_conv1), stride=1),
            "output": recons,
        }
        return _CompositeKernels(**{name: (w.to(dtype), b.to(dtype)) for name, (w, b) in parts.items()})

    def forward(
        self, x: Tensor, *, add_input: bool = True, callback: Callable[[int, int], None] | None = None
    ) -> Tensor:
        """x: (B, T, 3, H, W) float in [0, 1], T >= 1, H and W multiples of 16, the parameters' dtype.

        Returns the restored window, same shape and dtype (not clamped); with add_input=False, what the
        network adds to x (the reconstruction), for a caller that adds it to x in a finer dtype.
        callback(done, 2T) hears of each step of the two propagations, most of the time a window takes (a
        window of 4K frames on a CPU: minutes).
        """
        if x.ndim != 5 or x.shape[2] != 3 or x.shape[1] < 1:
            raise ValueError(f"DSTNet expects (B, T >= 1, 3, H, W) frames, got shape {tuple(x.shape)}")
        if x.shape[-2] % MULTIPLE or x.shape[-1] % MULTIPLE:
            raise ValueError(f"DSTNet needs H and W multiples of {MULTIPLE}, got {x.shape[-2]}x{x.shape[-1]}")
        count, feat = x.shape[1], self.config.feat
        kernels = self._composite_kernels(x.dtype)

        def frame(t: int) -> Tensor:
            return x[:, t].contiguous(memory_format=torch.channels_last)

        # 1. Per frame: both level-2 bands (details refined now), straight from the frame.
        low2: list[Tensor | None] = []
        details2: list[Tensor | None] = []
        for t in range(count):
            current = frame(t)
            low2.append(F.conv2d(current, *kernels.level2_low, stride=4, padding=1))
            details = F.leaky_relu_(F.conv2d(current, *kernels.level2_details, stride=4, padding=1), NEGATIVE_SLOPE)
            details2.append(self.x_wave_2_conv2(details))

        # 2. CWGDN blocks on the level-2 low band, each frame seeing its neighbours.
        for block in self.transformer_scale4:
            block[0].update_in_place(low2)

        # 3. Backward propagation over the level-1 low band, from the last frame to the first.
        backward: list[Tensor | None] = [None] * count
        state = None
        for t in reversed(range(count)):
            level1 = self.wave.merge(low2[t], details2[t])
            low2[t] = details2[t] = None
            state = backward[t] = self.backward_propagation.step(level1, state)
            if callback is not None:
                callback(count - t, 2 * count)

        # 4. Forward propagation, then back to full resolution with freshly computed level-1 details.
        output_weight, output_bias = kernels.output
        restored = []
        state = None
        for t in range(count):
            state = self.forward_propagation.step(backward[t], state)
            backward[t] = None
            current = frame(t)
            details = F.leaky_relu_(F.conv2d(current, *kernels.level1_details, stride=2, padding=1), NEGATIVE_SLOPE)
            details = self.x_wave_1_conv2(details)
            phases = F.conv2d(state, output_weight[:, :feat], output_bias, padding=1)
            phases.add_(F.conv2d(details, output_weight[:, feat:], padding=1))
            residual = F.pixel_shuffle(phases, 2)
            restored.append(residual.add_(current) if add_input else residual)
            if callback is not None:
                callback(count + t + 1, 2 * count)
        return torch.stack(restored, dim=1).contiguous()
