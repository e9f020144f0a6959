#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures that Tests/TensorTests/PyTorchFixtureTests.swift reads.

Usage (from the repository root; needs torch and safetensors, e.g. the venv outside the repo):

    /work/torch-venv/bin/python scripts/make_fixtures.py [--out Tests/TensorTests/Fixtures]

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


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(root, "Tests", "TensorTests", "Fixtures"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, build in [("batch_norm", batch_norm), ("affine_warp", affine_warp), ("conv2d", conv2d),
                        ("conv_transpose2d", conv_transpose2d), ("spectral_norm", spectral_norm),
                        ("adam", adam), ("losses", losses)]:
        GEN.manual_seed(zlib.crc32(name.encode()))  # each fixture independent of the others
        tensors = {}
        build(tensors)
        tensors = {k: v.detach().contiguous().float() for k, v in tensors.items()}
        path = os.path.join(args.out, f"{name}.safetensors")
        # One metadata key: safetensors writes metadata in hash order, which varies run to run.
        save_file(tensors, path, metadata={"generator": f"scripts/make_fixtures.py, torch {torch.__version__}"})
        print(f"{path}: {len(tensors)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
