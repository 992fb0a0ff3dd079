"""Parameter and FLOP counts with the convention NASLib used for the suite's ``params`` / ``flops``.

NASLib (``zerocost`` branch, ``naslib/predictors/pruners/measures/model_stats.py``) calls tensorwatch 0.9.1's
``ModelStats(model, input_shape=[1, *sample_shape])``, which runs one eval-mode forward with forward hooks on
every leaf module (a module without children) and sums per-leaf stats. Consequences, all reproduced here:

- parameters of leaf modules that never run are not counted (the benchmark's autoencoder/normal GAN discriminator
  is built but not called by forward, so it is not in NASLib's counts; we do not build it);
- a leaf that runs several times keeps the stats of its LAST call (the hook overwrites them): for jigsaw the
  encoder is counted once, with the FLOPs of one 64 x 64 tile, not nine;
- FLOPs per leaf (tensorwatch ``compute_flops``): Conv2d k*k*C_in*C_out/groups*H_out*W_out (+ C_out*H_out*W_out
  with bias); BatchNorm2d numel (x2 if affine); ReLU / LeakyReLU numel of the input; Linear in*out (no bias term);
  AdaptiveAvgPool2d to 1x1: C*(H+1)*(W+1); everything else 0, in particular ConvTranspose2d (not a Conv2d
  subclass), Tanh, ConstantPad2d, and the tensor additions / stacks / concatenations between modules.

``tensorwatch_counts`` applies these rules with hooks to any built network (on ``torch.device('meta')`` it needs
no memory, about 0.1-0.3 s per network). ``analytic_sizes`` gives the same two numbers in closed form, layer by
layer, without building anything (microseconds); the tests check both against NASLib's table and each other.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .arch import TnbArch, parse_arch
from .network import build_decoder, build_encoder
from .tasks import task_spec


def _leaf_flops(m: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    if isinstance(m, nn.Conv2d):
        n, c_in = inp.shape[:2]
        c_out, h, w = out.shape[1:]
        kh, kw = m.kernel_size
        flops = kh * kw * c_in * (c_out // m.groups) * n * h * w
        return flops + (c_out * n * h * w if m.bias is not None else 0)
    if isinstance(m, nn.BatchNorm2d):
        return math.prod(inp.shape) * (2 if m.affine else 1)
    if isinstance(m, (nn.ReLU, nn.ReLU6, nn.PReLU, nn.ELU, nn.LeakyReLU)):
        return math.prod(inp.shape)
    if isinstance(m, nn.Linear):
        return inp.shape[0] * inp.shape[1] * out.shape[1]
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        n, c, h, w = inp.shape
        oh, ow = out.shape[2:]
        total = 0
        for i in range(oh):
            y0, y1 = (i * h) // oh, -(-((i + 1) * h) // oh)
            for j in range(ow):
                x0, x1 = (j * w) // ow, -(-((j + 1) * w) // ow)
                total += n * c * (y1 - y0 + 1) * (x1 - x0 + 1)
        return total
    if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d, nn.Upsample)):
        raise NotImplementedError(f"{type(m).__name__} is not used by TransNAS-Bench-101 networks")
    return 0


def tensorwatch_counts(model: nn.Module, *inputs: torch.Tensor) -> tuple[int, int]:
    """(params, flops) of ``model(*inputs)`` by tensorwatch 0.9.1's ModelStats rules (see module doc)."""
    stats: dict[str, tuple[int, int]] = {}
    hooks = []

    def hook(name: str):
        def fn(m: nn.Module, args: tuple, out):
            first_in = args[0]
            first_out = out[0] if isinstance(out, (tuple, list)) else out
            params = sum(p.numel() for p in m.parameters())
            stats[name] = (params, int(_leaf_flops(m, first_in, first_out)))
        return fn

    for name, m in model.named_modules():
        if next(m.children(), None) is None:
            hooks.append(m.register_forward_hook(hook(name)))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return sum(p for p, _ in stats.values()), sum(f for _, f in stats.values())


def count_params(model: nn.Module) -> int:
    """All parameters (equals NASLib's count for our networks: every parameterised module runs in forward)."""
    return sum(p.numel() for p in model.parameters())


def naslib_sizes(arch: TnbArch | str, task: str) -> tuple[int, int]:
    """(params, flops) NASLib reports for ``arch`` on ``task``: encoder + head, batch 1, on the meta device."""
    a = parse_arch(arch) if isinstance(arch, str) else arch
    spec = task_spec(task)
    with torch.device("meta"):
        enc = build_encoder(a)
        dec = build_decoder(task, a)
    sample = spec.input_shape[1:] if task == "jigsaw" else spec.input_shape
    x = torch.empty((1, *sample), device="meta")
    ep, ef = tensorwatch_counts(enc, x)
    feat = enc(x)
    if task == "jigsaw":
        feat = torch.cat([feat] * spec.input_shape[0], dim=1)
    dp, df = tensorwatch_counts(dec, feat)
    return ep + dp, ef + df


# ---------------------------------------------------------------------------------------------------------------
# Closed form (batch 1). Every helper returns (params, flops, C_out, H_out, W_out) of one block on (C, H, W).


def _down(h: int, s: int) -> int:
    """Output size of the 3x3/pad-1 and 1x1/pad-0 convs with stride s: ceil(h / s)."""
    return -(-h // s)


def _relu_conv_bn(c_in: int, c_out: int, k: int, s: int, h: int, w: int) -> tuple[int, int, int, int, int]:
    ho, wo = _down(h, s), _down(w, s)
    params = k * k * c_in * c_out + 2 * c_out
    flops = c_in * h * w + k * k * c_in * c_out * ho * wo + 2 * c_out * ho * wo
    return params, flops, c_out, ho, wo


def _factorized_reduce(c_in: int, c_out: int, s: int, h: int, w: int) -> tuple[int, int, int, int, int]:
    ho, wo = _down(h, s), _down(w, s)
    params = c_in * c_out + 2 * c_out  # two 1x1 convs to c_out / 2 each, BN
    flops = c_in * h * w + c_in * c_out * ho * wo + 2 * c_out * ho * wo
    return params, flops, c_out, ho, wo


def _edge(op: int, c_in: int, c_out: int, s: int, h: int, w: int) -> tuple[int, int]:
    if op == 0:
        return 0, 0
    if op == 1:
        if s == 1 and c_in == c_out:
            return 0, 0
        return _factorized_reduce(c_in, c_out, s, h, w)[:2]
    return _relu_conv_bn(c_in, c_out, 1 if op == 2 else 3, s, h, w)[:2]


def _micro_cell(ops: tuple[int, ...], c_in: int, c_out: int, s: int, h: int, w: int):
    params = flops = 0
    ho, wo = _down(h, s), _down(w, s)
    for e, (src, _dst) in enumerate(((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))):
        p, f = _edge(ops[e], c_in, c_out, s, h, w) if src == 0 else _edge(ops[e], c_out, c_out, 1, ho, wo)
        params, flops = params + p, flops + f
    return params, flops, c_out, ho, wo


def _basic_block(c_in: int, c_out: int, s: int, h: int, w: int):
    pa, fa, _, ho, wo = _relu_conv_bn(c_in, c_out, 3, s, h, w)
    pb, fb, *_ = _relu_conv_bn(c_out, c_out, 3, 1, ho, wo)
    params, flops = pa + pb, fa + fb
    if s != 1 or c_in != c_out:
        params += c_in * c_out + 2 * c_out
        flops += c_in * c_out * ho * wo + 2 * c_out * ho * wo
    return params, flops, c_out, ho, wo


def encoder_sizes(arch: TnbArch | str, h: int, w: int) -> tuple[int, int, tuple[int, int, int]]:
    """(params, flops, output (C, H, W)) of the encoder on one (3, h, w) input, tensorwatch's FLOP rules."""
    a = parse_arch(arch) if isinstance(arch, str) else arch
    base = a.base_channels
    h1, w1 = _down(h, 2), _down(w, 2)
    params = 27 * (base // 2) + 2 * (base // 2)
    flops = 27 * (base // 2) * h1 * w1 + 2 * (base // 2) * h1 * w1
    p, f, c, h, w = _relu_conv_bn(base // 2, base, 3, 2, h1, w1)
    params, flops = params + p, flops + f
    for code in a.macro_code:
        c_out = 2 * c if code % 2 == 0 else c
        s = 2 if code > 2 else 1
        for c_in, stride in ((c, s), (c_out, 1)):
            if a.cell_ops is None:
                p, f, _, h, w = _basic_block(c_in, c_out, stride, h, w)
            else:
                p, f, _, h, w = _micro_cell(a.cell_ops, c_in, c_out, stride, h, w)
            params, flops = params + p, flops + f
        c = c_out
    return params, flops, (c, h, w)


def _conv_layer(c_in: int, c_out: int, h: int, w: int, up: bool, bn_act: bool = True):
    """Decoder ConvLayer (3x3, bias) or DeconvLayer (x2, bias; tensorwatch counts no FLOPs for it)."""
    params = 9 * c_in * c_out + c_out + (2 * c_out if bn_act else 0)
    ho, wo = (2 * h, 2 * w) if up else (h, w)
    flops = 0 if up else 9 * c_in * c_out * ho * wo + c_out * ho * wo
    if bn_act:
        flops += 2 * c_out * ho * wo + c_out * ho * wo  # BN (affine) + LeakyReLU
    return params, flops, c_out, ho, wo


def _chain(layers: list[tuple[int, bool, bool]], c: int, h: int, w: int) -> tuple[int, int]:
    params = flops = 0
    for c_out, up, bn_act in layers:
        p, f, c, h, w = _conv_layer(c, c_out, h, w, up, bn_act)
        params, flops = params + p, flops + f
    return params, flops


def decoder_sizes(task: str, arch: TnbArch | str, feature: tuple[int, int, int]) -> tuple[int, int]:
    """(params, flops) of ``task``'s head on one encoder output ``feature`` = (C, H, W) (jigsaw: one tile's)."""
    a = parse_arch(arch) if isinstance(arch, str) else arch
    spec = task_spec(task)
    c, h, w = feature
    if task in ("class_scene", "class_object", "room_layout", "jigsaw"):
        n = spec.output_shape[0]
        if task == "jigsaw":
            c *= spec.input_shape[0]
        return c * n + n, c * (h + 1) * (w + 1) + c * n
    u = 2 + a.n_stride_stages
    if task == "segmentsemantic":
        layers, k = [(1024, False, True)], 1024
        for _ in range(6 - u):
            k //= 2
            layers.append((k, False, True))
        for _ in range(u - 1):
            k //= 2
            layers.append((k, True, True))
        layers += [(k, True, True), (spec.output_shape[0], False, False)]
        return _chain(layers, c, h, w)
    # GenerativeDecoder (normal, autoencoder); conv14 has no BN and a tanh (0 FLOPs)
    layers = [(1024, False, True), (1024, False, True), (512, u == 6, True), (512, False, True),
              (256, u >= 5, True), (128, False, True), (64, u >= 4, True), (64, False, True),
              (32, u >= 3, True), (32, False, True), (16, True, True), (32, False, True), (16, True, True)]
    p, f = _chain(layers, c, h, w)
    hh, ww = h * 2**u, w * 2**u
    p14 = 9 * 16 * spec.output_shape[0] + spec.output_shape[0]
    f14 = 9 * 16 * spec.output_shape[0] * hh * ww + spec.output_shape[0] * hh * ww
    return p + p14, f + f14


def analytic_sizes(arch: TnbArch | str, task: str) -> tuple[int, int]:
    """(params, flops) NASLib reports for ``arch`` on ``task``, in closed form (no network is built)."""
    a = parse_arch(arch) if isinstance(arch, str) else arch
    spec = task_spec(task)
    _, h, w = spec.input_shape[-3:]
    ep, ef, feature = encoder_sizes(a, h, w)
    dp, df = decoder_sizes(task, a, feature)
    return ep + dp, ef + df
