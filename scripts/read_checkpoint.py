#!/usr/bin/env python3
"""Print the tensors of a Carve checkpoint (or any safetensors file).

A Carve checkpoint is a plain safetensors file (docs/ARCHITECTURE.md "Checkpoint format"): an 8-byte
little-endian header length, a JSON header, then raw little-endian tensor data. This script
reads it with the standard library only (numpy is used for statistics when installed), so it
also documents the format.

Usage:
  read_checkpoint.py CKPT                     metadata and one line per tensor
  read_checkpoint.py CKPT --tensor NAME ...   only these tensors
  read_checkpoint.py CKPT --values            also print every value
  read_checkpoint.py CKPT --json              one JSON object instead (values with --values)
  read_checkpoint.py CKPT --verify            recompute data_crc32c (pure Python, ~5 MB/s)

Exit status 1 with one line on stderr when the file is not a readable safetensors file, a
tensor is missing, or --verify finds a checksum mismatch.
"""

import argparse
import array
import json
import struct
import sys

# dtype -> (array typecode, bytes per element) for the types Carve reads.
DTYPES = {"F32": ("f", 4), "F64": ("d", 8), "I64": ("q", 8)}


class CheckpointError(Exception):
    pass


def read_safetensors(path):
    """Returns (header dict without __metadata__, metadata dict, data region bytes)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise CheckpointError(f"{path}: {len(blob)} bytes, too short for a safetensors header")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise CheckpointError(f"{path}: header length {n} runs past the end of the file ({len(blob)} bytes)")
    try:
        header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: header is not JSON: {e}")
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: header is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    data = blob[8 + n :]
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        if not 0 <= begin <= end <= len(data):
            raise CheckpointError(f"{path}: tensor {name}: data_offsets {entry['data_offsets']} out of range")
    return header, metadata, data


def tensor_values(entry, data):
    """The tensor's values as a flat list of Python numbers (row-major)."""
    code, width = DTYPES.get(entry["dtype"], (None, None))
    if code is None:
        raise CheckpointError(f"dtype {entry['dtype']} is not supported by this script")
    begin, end = entry["data_offsets"]
    values = array.array(code)
    values.frombytes(data[begin:end])
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()


def crc32c(data):
    """CRC-32C (Castagnoli), reflected polynomial 0x82F63B78; crc32c(b"123456789") == 0xE3069283."""
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    crc = 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def main():
    parser = argparse.ArgumentParser(description="Print the tensors of a Carve checkpoint.")
    parser.add_argument("checkpoint")
    parser.add_argument("--tensor", action="append", default=[], metavar="NAME", help="only this tensor (repeatable)")
    parser.add_argument("--values", action="store_true", help="print every value")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--verify", action="store_true", help="recompute data_crc32c")
    args = parser.parse_args()

    try:
        header, metadata, data = read_safetensors(args.checkpoint)
        names = sorted(header, key=lambda k: tuple(header[k]["data_offsets"]))
        for name in args.tensor:
            if name not in header:
                raise CheckpointError(f"{args.checkpoint}: no tensor named {name}")
        if args.tensor:
            names = [n for n in names if n in args.tensor]

        checksum = "not verified"
        if args.verify:
            stored = metadata.get("data_crc32c")
            computed = format(crc32c(data), "08x")
            if stored is None:
                checksum = f"absent (computed {computed})"
            elif stored.lower() != computed:
                raise CheckpointError(f"{args.checkpoint}: checksum mismatch: stored {stored}, computed {computed}")
            else:
                checksum = f"ok ({computed})"

        tensors = []
        for name in names:
            entry = header[name]
            record = {"name": name, "dtype": entry["dtype"], "shape": entry["shape"]}
            if args.values or not args.json:
                record["values"] = tensor_values(entry, data)
            tensors.append(record)
    except (OSError, CheckpointError, KeyError, ValueError, TypeError) as e:
        print(f"read_checkpoint.py: {e}", file=sys.stderr)
        return 1

    if args.json:
        json.dump({"metadata": metadata, "checksum": checksum, "tensors": tensors}, sys.stdout)
        print()
        return 0

    for key in sorted(metadata):
        value = metadata[key]
        print(f"{key}: {value if len(value) <= 100 else value[:100] + '…'}")
    print(f"checksum: {checksum}")
    print(f"{len(header)} tensors, {sum(len(t['values']) for t in tensors)} values shown")
    try:
        import numpy as np
    except ImportError:
        np = None
    for t in tensors:
        line = f"{t['name']}  {t['dtype']}  {t['shape']}"
        values = t["values"]
        if values:
            if np is not None:
                v = np.asarray(values, dtype=np.float64)
                line += f"  min {v.min():.6g}  max {v.max():.6g}  mean {v.mean():.6g}"
            else:
                line += f"  min {min(values):.6g}  max {max(values):.6g}"
        print(line)
        if args.values:
            print("  " + " ".join(repr(x) for x in values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
