#!/usr/bin/env python3
"""The PyTorch reference of Carve's training steps, for `make bench` (bench/run.sh).

Same networks, shapes, losses and optimizer as `carve bench step` (Sources/Carve/Bench/
StepBenchmark.swift), timed the same way, printing one JSON line with the same keys:

  hoc (HocGAN.trainStep): the Table 2 generator shared by N layers (z per instance), pad + random
      crop per instance, composition x = x + m·(I − x) over a background, the SN discriminator,
      the InfoGAN-style head Q (MSE to z), BCE-with-logits, λ·area (+ the demo presets' mask
      binarisation and total-variation terms and mask envelope), Adam β1 = 0.5. D step, then G
      step through a frozen D.
  fg (FgGAN.trainStep): the Table 1 UNet mask over the image, composited over a background
      patch, the SN discriminator, BCE-with-logits + λ·area.

W > 1: DistributedDataParallel over gloo (mp.spawn), the global batch split over the ranks and
BatchNorm statistics synchronized over ranks like Carve's (Note [BN statistics across ranks]).

  python step.py --preset paper-hoc-fruit --batch-size 16 --threads 1 --world-size 2
"""
import argparse
import json
import math
import os
import resource
import socket
import statistics
import sys
import time
import warnings

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

# padding='same' with an even kernel (Table 2's 4×4 s1 convs) pads asymmetrically, as Carve does.
warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")
warnings.filterwarnings("ignore", message="torch.distributed.nn.functional.all_reduce is deprecated")
warnings.filterwarnings("ignore", message="`broadcast_buffers` is deprecated")

# The presets' network sizes and loss weights (Sources/Carve/Training/Presets.swift).
HOC_WIDE = dict(g=[256, 256, 256, 128, 64], d=[64, 128, 256, 512, 1024], q=[32, 64, 64],
                area_lambda=1000.0, beta=50.0, binarize=0.0, tv=0.0, envelope=0.0)
PRESETS = {
    "paper-hoc-crowd": dict(app="hoc", layers=8, z=6, area=0.1, padding=30, **HOC_WIDE),
    "paper-hoc-fruit": dict(app="hoc", layers=10, z=5, area=0.25, padding=32, **HOC_WIDE),
    "paper-hoc-seed": dict(app="hoc", layers=12, z=2, area=0.25, padding=26, **HOC_WIDE),
    "demo-hoc": dict(app="hoc", layers=8, z=4, area=0.12, padding=32, g=[64, 64, 64, 32, 16],
                     d=[32, 64, 128, 256, 256], q=[16, 32, 32], area_lambda=1000.0, beta=50.0,
                     binarize=5.0, tv=10.0, envelope=0.9, batch=16),
    "paper-fg-cub": dict(app="fg", size=128, unet=[64, 128, 256, 512, 512, 512], d=[64, 128, 256, 256, 256],
                         area=0.25, area_lambda=1000.0),
    "paper-fg-celeba": dict(app="fg", size=128, unet=[64, 128, 256, 512, 512, 512], d=[64, 128, 256, 256, 256],
                            area=0.25, area_lambda=1000.0),
    "demo-fg": dict(app="fg", size=64, unet=[32, 64, 128, 128, 128, 128], d=[32, 64, 128, 128, 128],
                    area=0.35, area_lambda=30.0, batch=16),
}


# ---------------------------------------------------------------------------------------------
# BatchNorm with statistics summed over ranks (what Carve's SyncBatchNorm hook does). PyTorch's
# nn.SyncBatchNorm refuses CPU tensors, so this is the same computation from differentiable
# collectives: one allreduce of [Σx, Σx², count] forward, and (through autograd) one backward.

class RankBatchNorm(nn.BatchNorm2d):
    def forward(self, x):
        if not self.training or not dist.is_initialized() or dist.get_world_size() == 1:
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce
        c = x.shape[1]
        count = torch.full((1,), x.numel() / c, dtype=x.dtype)
        stats = torch.cat([x.sum(dim=(0, 2, 3)), (x * x).sum(dim=(0, 2, 3)), count])
        stats = all_reduce(stats)
        m = stats[-1]
        mean = stats[:c] / m
        var = stats[c:2 * c] / m - mean * mean
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * m / (m - 1))
        xhat = (x - mean[None, :, None, None]) * torch.rsqrt(var + self.eps)[None, :, None, None]
        return xhat * self.weight[None, :, None, None] + self.bias[None, :, None, None]


# ---------------------------------------------------------------------------------------------
# Networks, as Carve builds them (Sources/Carve/Model).

def lrelu(x):
    return F.leaky_relu(x, 0.2)


class NoiseGenerator(nn.Module):
    """Table 2 generator: z → RGBA 64×64 (NoiseGenerator.swift)."""

    def __init__(self, z, w, envelope=0.0):
        super().__init__()
        self.w0 = w[0]
        self.fc = nn.Linear(z, 64 * w[0], bias=False)
        self.bn0 = RankBatchNorm(w[0])
        self.conv1 = nn.Conv2d(w[0], w[1], 4, padding="same", bias=False)
        self.bn1 = RankBatchNorm(w[1])
        self.conv2 = nn.Conv2d(w[1], w[2], 4, padding="same", bias=False)
        self.bn2 = RankBatchNorm(w[2])
        self.deconv1 = nn.ConvTranspose2d(w[2], w[3], 4, stride=2, padding=1, bias=False)
        self.bn3 = RankBatchNorm(w[3])
        self.deconv2 = nn.ConvTranspose2d(w[3], w[4], 4, stride=2, padding=1, bias=False)
        self.bn4 = RankBatchNorm(w[4])
        self.deconv3 = nn.ConvTranspose2d(w[4], 4, 4, stride=2, padding=1)
        if envelope > 0:
            half = 32.0
            r1, r0 = envelope * half, (envelope - 0.25) * half
            c = torch.arange(64, dtype=torch.float32) + 0.5 - half
            r = (c[:, None] ** 2 + c[None, :] ** 2).sqrt()
            t = ((r - r0) / (r1 - r0)).clamp(0, 1)
            self.register_buffer("envelope", (0.5 + 0.5 * torch.cos(math.pi * t))[None, None])
        else:
            self.envelope = None

    def forward(self, z):
        h = self.fc(z).view(z.shape[0], self.w0, 8, 8)
        h = lrelu(self.bn0(h))
        h = lrelu(self.bn1(self.conv1(h)))
        h = lrelu(self.bn2(self.conv2(h)))
        h = lrelu(self.bn3(self.deconv1(h)))
        h = lrelu(self.bn4(self.deconv2(h)))
        rgba = torch.sigmoid(self.deconv3(h))
        if self.envelope is None:
            return rgba
        return torch.cat([rgba[:, :3], rgba[:, 3:4] * self.envelope], dim=1)


class Discriminator(nn.Module):
    """Tables 1–2 SN discriminator: 3×3 convs (s2, s2, s2, s2, s1) + 1×1 head (Discriminator.swift)."""

    def __init__(self, w):
        super().__init__()
        convs, c = [], 3
        for i, width in enumerate(w):
            convs.append(spectral_norm(nn.Conv2d(c, width, 3, stride=2 if i < 4 else 1, padding=1)))
            c = width
        self.convs = nn.ModuleList(convs)
        self.head = spectral_norm(nn.Conv2d(c, 1, 1))

    def forward(self, x):
        for conv in self.convs:
            x = lrelu(conv(x))
        return self.head(x)


class InformationHead(nn.Module):
    """Q: three 4×4 s2 convs + linear to z (InformationHead in Discriminator.swift)."""

    def __init__(self, z, w):
        super().__init__()
        self.conv1 = nn.Conv2d(4, w[0], 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(w[0], w[1], 4, stride=2, padding=1)
        self.conv3 = nn.Conv2d(w[1], w[2], 4, stride=2, padding=1)
        self.fc = nn.Linear(w[2] * 64, z)

    def forward(self, x):
        h = lrelu(self.conv1(x))
        h = lrelu(self.conv2(h))
        h = lrelu(self.conv3(h))
        return self.fc(h.flatten(1))


class UNet(nn.Module):
    """Table 1 UNet: image → soft mask (UNet.swift)."""

    def __init__(self, e):
        super().__init__()
        enc, c = [], 3
        for i in range(6):
            enc.append(nn.Conv2d(c, e[i], 4, stride=2, padding=1, bias=False) if i < 5
                       else nn.Conv2d(c, e[i], 2, stride=2, bias=False))
            c = e[i]
        self.enc = nn.ModuleList(enc)
        self.enc_bn = nn.ModuleList(RankBatchNorm(w) for w in e)
        d = [e[4], e[3], e[3], e[1], e[0]]
        dec, in_c = [], e[5]
        for i in range(5):
            dec.append(nn.ConvTranspose2d(in_c, d[i], 2, stride=2, bias=False) if i < 2
                       else nn.ConvTranspose2d(in_c, d[i], 4, stride=2, padding=1, bias=False))
            in_c = d[i] + e[4 - i]
        self.dec = nn.ModuleList(dec)
        self.dec_bn = nn.ModuleList(RankBatchNorm(w) for w in d)
        self.out = nn.ConvTranspose2d(in_c, 1, 4, stride=2, padding=1)

    def forward(self, x):
        skips, h = [], x
        for conv, bn in zip(self.enc, self.enc_bn):
            h = lrelu(bn(conv(h)))
            skips.append(h)
        for i, (deconv, bn) in enumerate(zip(self.dec, self.dec_bn)):
            h = torch.cat([lrelu(bn(deconv(h))), skips[4 - i]], dim=1)
        return torch.sigmoid(self.out(h))


# ---------------------------------------------------------------------------------------------
# Losses (Losses.swift).

def bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def area_loss(masks, a):
    return ((masks.mean(dim=(1, 2, 3)) - a) ** 2).mean()


def translate(x, p):
    """Pad by p and crop back at a random offset in 0…2p per instance (TranslationLayout)."""
    if p == 0:
        return x
    k, _, h, w = x.shape
    xp = F.pad(x, (p, p, p, p))
    off = torch.randint(0, 2 * p + 1, (k, 2))
    # One gather for all instances (per-instance slices + stack would cost a padded-size
    # gradient buffer per instance in the backward).
    rows = (off[:, 0:1] + torch.arange(h))[:, None, :, None]  # [K, 1, H, 1]
    cols = (off[:, 1:2] + torch.arange(w))[:, None, None, :]  # [K, 1, 1, W]
    return xp[torch.arange(k)[:, None, None, None], torch.arange(x.shape[1])[None, :, None, None], rows, cols]


# ---------------------------------------------------------------------------------------------
# FLOPs, counted like FLOPCounter in StepBenchmark.swift: 2 per multiply–add, forward, input
# gradient (not into a network's input unless it needs one), weight gradient (when trained).

def _conv(c, o, k, out, first=False):
    return (o * out * out * c * k * k, first)


def _deconv(c, o, k, inp):
    return (c * inp * inp * o * k * k, False)


def _flops(layers, batch, dx, dw, input_grad):
    total = 0.0
    for macs, first in layers:
        m = 2.0 * macs * batch
        total += m + (m if dw else 0) + (m if dx and (not first or input_grad) else 0)
    return total


def _d_layers(p, size):
    layers, c, s = [], 3, size
    for i, w in enumerate(p["d"]):
        if i < 4:
            s //= 2
        layers.append(_conv(c, w, 3, s, first=i == 0))
        c = w
    return layers + [_conv(c, 1, 1, s)]


def step_flops(p, batch):
    if p["app"] == "hoc":
        w, q, n = p["g"], p["q"], p["layers"] * batch
        g = [(p["z"] * 64 * w[0], True), _conv(w[0], w[1], 4, 8), _conv(w[1], w[2], 4, 8),
             _deconv(w[2], w[3], 4, 8), _deconv(w[3], w[4], 4, 16), _deconv(w[4], 4, 4, 32)]
        qs = [_conv(4, q[0], 4, 32, True), _conv(q[0], q[1], 4, 16), _conv(q[1], q[2], 4, 8), (q[2] * 64 * p["z"], False)]
        d = _d_layers(p, 64)
        total = _flops(g, n, True, True, False) + 2 * _flops(d, batch, True, True, False)
        total += _flops(d, batch, True, False, True)
        if p["beta"] > 0:
            total += _flops(qs, n, True, True, True)
        return total
    e, s = p["unet"], p["size"]
    u, c = [], 3
    for i in range(6):
        u.append(_conv(c, e[i], 4 if i < 5 else 2, s >> (i + 1), first=i == 0))
        c = e[i]
    dd, in_c = [e[4], e[3], e[3], e[1], e[0]], e[5]
    for i in range(5):
        u.append(_deconv(in_c, dd[i], 2 if i < 2 else 4, s >> (6 - i)))
        in_c = dd[i] + e[4 - i]
    u.append(_deconv(in_c, 1, 4, s // 2))
    d = _d_layers(p, s)
    return _flops(u, batch, True, True, False) + 2 * _flops(d, batch, True, True, False) + _flops(d, batch, True, False, True)


# ---------------------------------------------------------------------------------------------
# The steps.

class HocStep:
    def __init__(self, p, b, ddp):
        self.p, self.b = p, b
        self.G = NoiseGenerator(p["z"], p["g"], p["envelope"])
        self.D = Discriminator(p["d"])
        self.Q = InformationHead(p["z"], p["q"]) if p["beta"] > 0 else None
        self.optG = torch.optim.Adam(self.G.parameters(), lr=4e-4, betas=(0.5, 0.999))
        self.optD = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.optQ = torch.optim.Adam(self.Q.parameters(), lr=4e-4, betas=(0.5, 0.999)) if self.Q else None
        wrap = (lambda m: nn.parallel.DistributedDataParallel(m, broadcast_buffers=False)) if ddp else (lambda m: m)
        self.g, self.d = wrap(self.G), wrap(self.D)
        self.q = wrap(self.Q) if self.Q else None
        self.real = torch.rand(b, 3, 64, 64)
        self.background = torch.rand(b, 3, 64, 64)

    def __call__(self):
        p, b, n = self.p, self.b, self.p["layers"]
        z = torch.randn(n * b, p["z"])  # layer-major: instance i·b + s is layer i of sample s
        instances = self.g(z)
        warped = translate(instances, p["padding"])
        x = self.background
        for i in range(n):
            layer = warped[i * b:(i + 1) * b]
            x = x + layer[:, 3:4] * (layer[:, :3] - x)

        # D step on real and (detached) composites.
        self.optD.zero_grad(set_to_none=False)
        loss_d = bce(self.d(self.real), 1.0) + bce(self.d(x.detach()), 0.0)
        loss_d.backward()
        self.optD.step()

        # G step through the frozen D (its own module: no DDP reduction of D here).
        self.optG.zero_grad(set_to_none=False)
        if self.optQ:
            self.optQ.zero_grad(set_to_none=False)
        for q in self.D.parameters():
            q.requires_grad_(False)
        masks = instances[:, 3:4]
        total = bce(self.D(x), 1.0) + p["area_lambda"] * area_loss(masks, p["area"])
        if p["binarize"] > 0:
            total = total + p["binarize"] * (0.5 - (masks - 0.5).abs()).mean()
        if p["tv"] > 0:
            tv = (masks[..., :, 1:] - masks[..., :, :-1]).abs().mean() + (masks[..., 1:, :] - masks[..., :-1, :]).abs().mean()
            total = total + p["tv"] * tv
        if self.q is not None:
            total = total + p["beta"] * F.mse_loss(self.q(instances), z)
        total.backward()
        for q in self.D.parameters():
            q.requires_grad_(True)
        self.optG.step()
        if self.optQ:
            self.optQ.step()


class FgStep:
    def __init__(self, p, b, ddp):
        self.p, self.b = p, b
        self.U = UNet(p["unet"])
        self.D = Discriminator(p["d"])
        self.optG = torch.optim.Adam(self.U.parameters(), lr=4e-4, betas=(0.5, 0.999))
        self.optD = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        wrap = (lambda m: nn.parallel.DistributedDataParallel(m, broadcast_buffers=False)) if ddp else (lambda m: m)
        self.u, self.d = wrap(self.U), wrap(self.D)
        s = p["size"]
        self.images = torch.rand(b, 3, s, s)
        self.background = torch.rand(b, 3, s, s)

    def __call__(self):
        p = self.p
        masks = self.u(self.images)
        x = self.background + masks * (self.images - self.background)
        self.optD.zero_grad(set_to_none=False)
        loss_d = bce(self.d(self.images), 1.0) + bce(self.d(x.detach()), 0.0)
        loss_d.backward()
        self.optD.step()
        self.optG.zero_grad(set_to_none=False)
        for q in self.D.parameters():
            q.requires_grad_(False)
        total = bce(self.D(x), 1.0) + p["area_lambda"] * area_loss(masks, p["area"])
        total.backward()
        for q in self.D.parameters():
            q.requires_grad_(True)
        self.optG.step()


# ---------------------------------------------------------------------------------------------
# Timing.

def sgemm_gflops(n=1024, reps=5):
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    rates = []
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, b)
        rates.append(2 * n ** 3 / (time.perf_counter() - t) / 1e9)
    return statistics.median(rates)


def cpu_model():
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return "unknown"
    fields = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields.setdefault(k.strip(), v.strip())
    name = fields.get("model name", "unknown")
    return f"{name} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"


def run(rank, args, port):
    world = args.world_size
    torch.set_num_threads(args.threads)
    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(1 + rank)
    p = PRESETS[args.preset]
    batch = args.batch_size or p.get("batch", 32)
    if batch % world:
        sys.exit(f"step.py: --batch-size {batch} is not divisible by the world size {world}")
    b = batch // world
    step = (HocStep if p["app"] == "hoc" else FgStep)(p, b, world > 1)

    def barrier():
        if world > 1:
            dist.barrier()

    def reduce(values, op):
        t = torch.tensor(values, dtype=torch.float64)
        if world > 1:
            dist.all_reduce(t, op=op)
        return t.tolist()

    barrier()
    sgemm = reduce([sgemm_gflops()], dist.ReduceOp.SUM)[0]
    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        barrier()
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    times = reduce(times, dist.ReduceOp.MAX)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rss_max = reduce([rss], dist.ReduceOp.MAX)[0]
    rss_sum = reduce([rss], dist.ReduceOp.SUM)[0]
    if rank == 0:
        median = statistics.median(times)
        flops = step_flops(p, batch)
        out = {
            "impl": "pytorch", "preset": args.preset, "application": p["app"], "world_size": world,
            "threads": args.threads, "blas_threads": torch.get_num_threads(), "batch_size": batch,
            "steps": args.steps, "warmup": args.warmup, "seconds_per_step_median": median,
            "seconds_per_step_min": min(times), "seconds_per_step_max": max(times),
            "images_per_second": batch / median, "gflop_per_step": flops / 1e9, "gflops": flops / median / 1e9,
            "sgemm_gflops": sgemm, "peak_rss_bytes": int(rss_max), "peak_rss_total_bytes": int(rss_sum),
            "comm_seconds": None, "comm_share": None, "core": f"torch {torch.__version__} "
            f"({torch.backends.cpu.get_cpu_capability()}, MKL + oneDNN)", "cpu": cpu_model(),
        }
        if args.check_flops and world == 1:
            out["flop_counter_gflop"] = counted_flops(step) / 1e9
        print(json.dumps(out, sort_keys=True), flush=True)
    if world > 1:
        dist.destroy_process_group()


def counted_flops(step):
    """The FLOPs of one step as torch's FlopCounterMode counts them (conv, mm, addmm: includes the
    spectral-norm matrix–vector products, which the analytic count leaves out)."""
    from torch.utils.flop_counter import FlopCounterMode
    mode = FlopCounterMode(display=False)
    with mode:
        step()
    return mode.get_total_flops()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", required=True, choices=sorted(PRESETS))
    ap.add_argument("--batch-size", type=int, default=None, help="global batch (default: the preset's)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads per rank")
    ap.add_argument("--world-size", type=int, default=1)
    ap.add_argument("--check-flops", action="store_true", help="also count one step with FlopCounterMode")
    args = ap.parse_args()
    if args.world_size == 1:
        run(0, args, 0)
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        mp.spawn(run, args=(args, port), nprocs=args.world_size, join=True)


if __name__ == "__main__":
    main()
