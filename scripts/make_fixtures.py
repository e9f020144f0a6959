#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures that Tests/TensorTests/PyTorchFixtureTests.swift reads.

Usage (from the repository root; needs torch and safetensors, e.g. the venv outside the repo):

    /work/torch-venv/bin/python scripts/make_fixtures.py [--out Tests/TensorTests/Fixtures] \
        [--carve-out Tests/CarveTests/Fixtures]

Each fixture is a small safetensors file of float32 tensors: fixed inputs (from a seeded
torch generator), PyTorch's outputs, and the gradients of a fixed weighted sum
`(output * weights).sum()` (the `weights` tensor is stored too), so the Swift tests rebuild the
same loss and compare forward and backward without Python. Tensor names are
`<case>.<tensor>`, e.g. `train4d.x`, `train4d.grad_x`. The files are committed; rerun this
script only when a case changes. The output is deterministic for a given torch version.

Cases (paper Tables 1-2, eqs. 4-8):
  batch_norm         train4d, train2d (incl. running stats after the step), eval4d
  affine_warp        grid_sample(affine_grid(theta)), bilinear, zeros, align_corners=False
  conv2d             k3s2p1, k4s1same, k1
  conv_transpose2d   k4s2p1, k2s2
  spectral_norm      torch.nn.utils.spectral_norm(Conv2d 3x3 s2 p1): one training forward
  adam               3 steps of torch.optim.Adam(betas=(0.5, 0.999))
  losses             smooth-L1 of eq. (8), BCE-with-logits (targets 1 and 0)

Written to Tests/CarveTests/Fixtures (read by Tests/CarveTests/HocNetworkFixtureTests.swift):
  hoc_networks       the Table 2 generator and discriminator (Carve's NoiseGenerator and
                     Discriminator, small widths): one training-mode forward and backward;
                     its weighted sums use `pattern` (rebuilt in Swift) instead of stored weights
"""
import argparse
import os
import zlib

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.set_default_dtype(torch.float32)
GEN = torch.Generator().manual_seed(20240601)


def randn(*shape, scale=1.0, shift=0.0):
    return (torch.randn(*shape, generator=GEN) * scale + shift).float()


def leaf(t):
    return t.clone().requires_grad_(True)


def weighted_backward(out, name, tensors):
    """Backward of (out * weights).sum(); records out, weights and tensors' grads."""
    weights = randn(*out.shape)
    (out * weights).sum().backward()
    tensors[f"{name}.out"] = out.detach()
    tensors[f"{name}.weights"] = weights
    return weights


def batch_norm(tensors):
    for name, shape, shift, training in [("train4d", (4, 3, 5, 5), 1.5, True),
                                         ("train2d", (6, 5), -0.5, True),
                                         ("eval4d", (3, 4, 3, 2), 0.5, False)]:
        c = shape[1]
        bn = torch.nn.BatchNorm2d(c) if len(shape) == 4 else torch.nn.BatchNorm1d(c)
        with torch.no_grad():
            bn.weight.copy_(randn(c, scale=0.5, shift=1.0))
            bn.bias.copy_(randn(c, scale=0.5))
            bn.running_mean.copy_(randn(c, scale=0.3))
            bn.running_var.copy_(randn(c, scale=0.2).abs() + 0.8)
        tensors[f"{name}.weight"] = bn.weight.detach().clone()
        tensors[f"{name}.bias"] = bn.bias.detach().clone()
        tensors[f"{name}.running_mean_before"] = bn.running_mean.clone()
        tensors[f"{name}.running_var_before"] = bn.running_var.clone()
        bn.train(training)
        x = leaf(randn(*shape, scale=2.0, shift=shift))
        tensors[f"{name}.x"] = x.detach().clone()
        weighted_backward(bn(x), name, tensors)
        tensors[f"{name}.running_mean_after"] = bn.running_mean.clone()
        tensors[f"{name}.running_var_after"] = bn.running_var.clone()
        tensors[f"{name}.grad_x"] = x.grad
        tensors[f"{name}.grad_weight"] = bn.weight.grad
        tensors[f"{name}.grad_bias"] = bn.bias.grad


def affine_warp(tensors):
    n, c, h, w = 3, 4, 6, 7
    x = leaf(randn(n, c, h, w))
    angles = torch.tensor([0.3, -0.7, 1.2])
    scales = torch.tensor([0.9, 1.3, 0.7])
    shifts = torch.tensor([[0.1, -0.2], [0.45, 0.3], [-0.6, 0.15]])
    rows = []
    for a, s, (tx, ty) in zip(angles, scales, shifts):
        cs, sn = torch.cos(a) / s, torch.sin(a) / s
        rows.append(torch.tensor([[cs, -sn, tx], [sn, cs, ty]]))
    theta = leaf(torch.stack(rows) + randn(n, 2, 3, scale=0.05))
    grid = F.affine_grid(theta, [n, c, h, w], align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    tensors["warp.x"] = x.detach().clone()
    tensors["warp.theta"] = theta.detach().clone()
    weighted_backward(out, "warp", tensors)
    tensors["warp.grad_x"] = x.grad
    tensors["warp.grad_theta"] = theta.grad


def conv2d(tensors):
    for name, xs, ws, stride, padding in [("k3s2p1", (2, 3, 7, 8), (4, 3, 3, 3), 2, 1),
                                          ("k4s1same", (2, 3, 6, 6), (4, 3, 4, 4), 1, "same"),
                                          ("k1", (2, 3, 5, 5), (4, 3, 1, 1), 1, 0)]:
        x, wt, b = leaf(randn(*xs)), leaf(randn(*ws, scale=0.3)), leaf(randn(ws[0]))
        for key, t in [("x", x), ("weight", wt), ("bias", b)]:
            tensors[f"{name}.{key}"] = t.detach().clone()
        weighted_backward(F.conv2d(x, wt, b, stride=stride, padding=padding), name, tensors)
        tensors[f"{name}.grad_x"], tensors[f"{name}.grad_weight"], tensors[f"{name}.grad_bias"] = x.grad, wt.grad, b.grad


def conv_transpose2d(tensors):
    for name, xs, ws, stride, padding in [("k4s2p1", (2, 3, 4, 4), (3, 4, 4, 4), 2, 1),
                                          ("k2s2", (2, 3, 3, 3), (3, 4, 2, 2), 2, 0)]:
        x, wt, b = leaf(randn(*xs)), leaf(randn(*ws, scale=0.3)), leaf(randn(ws[1]))
        for key, t in [("x", x), ("weight", wt), ("bias", b)]:
            tensors[f"{name}.{key}"] = t.detach().clone()
        weighted_backward(F.conv_transpose2d(x, wt, b, stride=stride, padding=padding), name, tensors)
        tensors[f"{name}.grad_x"], tensors[f"{name}.grad_weight"], tensors[f"{name}.grad_bias"] = x.grad, wt.grad, b.grad


def spectral_norm(tensors):
    conv = torch.nn.utils.spectral_norm(torch.nn.Conv2d(3, 4, 3, stride=2, padding=1))
    with torch.no_grad():
        conv.weight_orig.copy_(randn(4, 3, 3, 3, scale=0.3))
        conv.bias.copy_(randn(4))
        conv.weight_u.copy_(F.normalize(randn(4), dim=0))
        conv.weight_v.copy_(F.normalize(randn(27), dim=0))
    tensors["sn.weight_orig"] = conv.weight_orig.detach().clone()
    tensors["sn.bias"] = conv.bias.detach().clone()
    tensors["sn.weight_u_before"] = conv.weight_u.clone()
    tensors["sn.weight_v_before"] = conv.weight_v.clone()
    conv.train()
    x = leaf(randn(2, 3, 7, 8))
    tensors["sn.x"] = x.detach().clone()
    weighted_backward(conv(x), "sn", tensors)
    tensors["sn.weight_u_after"] = conv.weight_u.clone()
    tensors["sn.weight_v_after"] = conv.weight_v.clone()
    tensors["sn.grad_x"] = x.grad
    tensors["sn.grad_weight_orig"] = conv.weight_orig.grad
    tensors["sn.grad_bias"] = conv.bias.grad


def adam(tensors):
    p = torch.nn.Parameter(randn(3, 4))
    q = torch.nn.Parameter(randn(5))
    tensors["adam.p"], tensors["adam.q"] = p.detach().clone(), q.detach().clone()
    opt = torch.optim.Adam([p, q], lr=0.01, betas=(0.5, 0.999), eps=1e-8)
    for step in range(1, 4):
        gp, gq = randn(3, 4, scale=0.1 * step), randn(5, scale=2.0)
        p.grad, q.grad = gp.clone(), gq.clone()
        opt.step()
        tensors[f"adam.grad_p{step}"], tensors[f"adam.grad_q{step}"] = gp, gq
        tensors[f"adam.p{step}"], tensors[f"adam.q{step}"] = p.detach().clone(), q.detach().clone()
    tensors["adam.m_p"] = opt.state[p]["exp_avg"].clone()
    tensors["adam.v_p"] = opt.state[p]["exp_avg_sq"].clone()
    tensors["adam.m_q"] = opt.state[q]["exp_avg"].clone()
    tensors["adam.v_q"] = opt.state[q]["exp_avg_sq"].clone()


def losses(tensors):
    # Eq. (8): 4d^2 where |d| < 0.25, else |d|; mean over elements.
    a, b = leaf(randn(2, 1, 4, 4, scale=0.4)), randn(2, 1, 4, 4, scale=0.1)
    d = a - b
    loss = torch.where(d.abs() < 0.25, 4 * d * d, d.abs()).mean()
    loss.backward()
    tensors["smooth_l1.input"], tensors["smooth_l1.target"] = a.detach().clone(), b
    tensors["smooth_l1.loss"], tensors["smooth_l1.grad_input"] = loss.detach().reshape(1), a.grad
    for target in (1, 0):
        x = leaf(randn(4, 1, 3, 3, scale=3.0))
        loss = F.binary_cross_entropy_with_logits(x, torch.full_like(x, float(target)))
        loss.backward()
        tensors[f"bce{target}.x"], tensors[f"bce{target}.loss"] = x.detach().clone(), loss.detach().reshape(1)
        tensors[f"bce{target}.grad_x"] = x.grad


def pattern(n):
    """The weights of the hoc_networks weighted sums: ((i·37) mod 23 − 11) / 8 over the flattened
    output, exact in float32 and rebuilt by the Swift test (storing them would double the file)."""
    return ((torch.arange(n) * 37) % 23 - 11).float() / 8


class HocGenerator(torch.nn.Module):
    """Carve's NoiseGenerator (Sources/Carve/Model/NoiseGenerator.swift), same parameter names."""

    def __init__(self, z_dim, w):
        super().__init__()
        nn = torch.nn
        self.w0 = w[0]
        self.fc = nn.Linear(z_dim, 8 * 8 * w[0], bias=False)
        self.bn0 = nn.BatchNorm2d(w[0])
        self.conv1 = nn.Conv2d(w[0], w[1], 4, padding="same", bias=False)
        self.bn1 = nn.BatchNorm2d(w[1])
        self.conv2 = nn.Conv2d(w[1], w[2], 4, padding="same", bias=False)
        self.bn2 = nn.BatchNorm2d(w[2])
        self.deconv1 = nn.ConvTranspose2d(w[2], w[3], 4, stride=2, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(w[3])
        self.deconv2 = nn.ConvTranspose2d(w[3], w[4], 4, stride=2, padding=1, bias=False)
        self.bn4 = nn.BatchNorm2d(w[4])
        self.deconv3 = nn.ConvTranspose2d(w[4], 4, 4, stride=2, padding=1)

    def forward(self, z):
        h = F.leaky_relu(self.bn0(self.fc(z).reshape(z.shape[0], self.w0, 8, 8)), 0.2)
        h = F.leaky_relu(self.bn1(self.conv1(h)), 0.2)
        h = F.leaky_relu(self.bn2(self.conv2(h)), 0.2)
        h = F.leaky_relu(self.bn3(self.deconv1(h)), 0.2)
        h = F.leaky_relu(self.bn4(self.deconv2(h)), 0.2)
        return torch.sigmoid(self.deconv3(h))


class HocDiscriminator(torch.nn.Module):
    """Carve's Discriminator (Sources/Carve/Model/Discriminator.swift): SN 3×3 convs with bias,
    strides 2, 2, 2, 2, 1, lReLU(0.2), then an SN 1×1 head. Names conv1…conv5, head."""

    def __init__(self, w):
        super().__init__()
        sn = torch.nn.utils.spectral_norm
        c = 3
        for i, width in enumerate(w):
            setattr(self, f"conv{i + 1}", sn(torch.nn.Conv2d(c, width, 3, stride=2 if i < 4 else 1, padding=1)))
            c = width
        self.depth = len(w)
        self.head = sn(torch.nn.Conv2d(c, 1, 1))

    def forward(self, x):
        for i in range(self.depth):
            x = F.leaky_relu(getattr(self, f"conv{i + 1}")(x), 0.2)
        return self.head(x)


def carve_name(name):
    """PyTorch's state name → Carve's (spectral_norm's weight_orig is Carve's weight)."""
    return name.replace("weight_orig", "weight")


def hoc_networks(tensors):
    """G: widths [8, 8, 8, 8, 4], z dim 3, batch 2. D: widths [4, 8, 8, 8, 8], batch 2, 64×64.
    Names: g.z, g.out, g.grad.z; g.<param or buffer> before the step (Carve's names),
    g.grad.<param>, g.after.<buffer>; likewise d.images, d.out, d.grad.images, d.<name>..."""
    g = HocGenerator(3, [8, 8, 8, 8, 4])
    d = HocDiscriminator([4, 8, 8, 8, 8])
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.startswith("bn"):
                p.copy_(randn(*p.shape, scale=0.2, shift=1.0 if name.endswith("weight") else 0.0))
            else:
                # Weights: N(0, 1/fan_in) with fan_in = numel / dim 0 (PyTorch's, for ConvTranspose
                # too); the one bias (deconv3): N(0, 0.01).
                p.copy_(randn(*p.shape, scale=p[0].numel() ** -0.5 if p.dim() > 1 else 0.1))
        for name, b in g.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(randn(*b.shape, scale=0.1))
            elif name.endswith("running_var"):
                b.copy_(randn(*b.shape, scale=0.1).abs() + 0.9)
        for name, p in d.named_parameters():
            p.copy_(randn(*p.shape, scale=0.3 if name.endswith("weight_orig") else 0.1))
        for name, b in d.named_buffers():
            b.copy_(F.normalize(randn(*b.shape), dim=0))
    for prefix, net in [("g", g), ("d", d)]:
        for name, t in list(net.named_parameters()) + list(net.named_buffers()):
            if not name.endswith("num_batches_tracked"):
                tensors[f"{prefix}.{carve_name(name)}"] = t.detach().clone()
        net.train()
    z = leaf(randn(2, 3))
    images = leaf(randn(2, 3, 64, 64, scale=0.5, shift=0.5))
    tensors["g.z"], tensors["d.images"] = z.detach().clone(), images.detach().clone()
    for prefix, net, x, key in [("g", g, z, "z"), ("d", d, images, "images")]:
        out = net(x)
        (out * pattern(out.numel()).reshape(out.shape)).sum().backward()
        tensors[f"{prefix}.out"] = out.detach()
        tensors[f"{prefix}.grad.{key}"] = x.grad
        for name, p in net.named_parameters():
            tensors[f"{prefix}.grad.{carve_name(name)}"] = p.grad
        for name, b in net.named_buffers():
            if not name.endswith("num_batches_tracked"):
                tensors[f"{prefix}.after.{name}"] = b.clone()


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(root, "Tests", "TensorTests", "Fixtures"))
    parser.add_argument("--carve-out", default=os.path.join(root, "Tests", "CarveTests", "Fixtures"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.carve_out, exist_ok=True)
    for name, build, folder in [("batch_norm", batch_norm, args.out), ("affine_warp", affine_warp, args.out),
                                ("conv2d", conv2d, args.out), ("conv_transpose2d", conv_transpose2d, args.out),
                                ("spectral_norm", spectral_norm, args.out), ("adam", adam, args.out),
                                ("losses", losses, args.out), ("hoc_networks", hoc_networks, args.carve_out)]:
        GEN.manual_seed(zlib.crc32(name.encode()))  # each fixture independent of the others
        tensors = {}
        build(tensors)
        tensors = {k: v.detach().contiguous().float() for k, v in tensors.items()}
        path = os.path.join(folder, f"{name}.safetensors")
        # One metadata key: safetensors writes metadata in hash order, which varies run to run.
        save_file(tensors, path, metadata={"generator": f"scripts/make_fixtures.py, torch {torch.__version__}"})
        print(f"{path}: {len(tensors)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
