#!/usr/bin/env python3
"""Checks a run folder's TensorBoard event files against its metrics.jsonl with the real
TensorBoard reader (not part of `make test`; needs `pip install tensorboard`).

    python3 scripts/check_tensorboard.py RUN

Reads RUN/events.out.tfevents.* with tensorboard's EventAccumulator and checks that:
  - every file starts with the file_version event "brain.Event:2", and TensorBoard's own record
    reader reads every record of it (it stops at a bad CRC or a truncated record, so the count
    it reads must equal the count of records framed in the file);
  - every numeric field of every metrics.jsonl record except `step` and `time` is a scalar
    tagged by its name, at that record's step, equal to the value rounded to float32, with the
    record's `time` as wall time (to 1 ms);
  - there are no other scalars.
Exit 0 = all checks passed; each failure is one "check_tensorboard: ..." line.
"""
import glob
import json
import math
import os
import struct
import sys


def fail(message):
    print(f"check_tensorboard: {message}", file=sys.stderr)
    sys.exit(1)


def float32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main():
    if len(sys.argv) != 2:
        print("usage: scripts/check_tensorboard.py RUN", file=sys.stderr)
        sys.exit(64)
    run = sys.argv[1]
    try:
        from tensorboard.backend.event_processing import event_accumulator
        from tensorboard.backend.event_processing import event_file_loader
    except ImportError:
        fail("the tensorboard package is missing (pip install tensorboard)")

    metrics = os.path.join(run, "metrics.jsonl")
    if not os.path.isfile(metrics):
        fail(f"{metrics}: no such file")
    files = sorted(glob.glob(os.path.join(run, "events.out.tfevents.*")))
    if not files:
        fail(f"{run}: no events.out.tfevents.* file")

    # Every file, record by record, through TensorBoard's own TFRecord reader.
    for path in files:
        events = list(event_file_loader.EventFileLoader(path).Load())
        if not events:
            fail(f"{path}: no events")
        if events[0].file_version != "brain.Event:2":
            fail(f"{path}: first event has file_version {events[0].file_version!r}, expected 'brain.Event:2'")
    # The loader stops at a bad CRC or a truncated record; the record count must match the bytes.
    for path in files:
        size, offset, count = os.path.getsize(path), 0, 0
        with open(path, "rb") as f:
            data = f.read()
        while offset < size:
            if offset + 12 > size:
                fail(f"{path}: {size - offset} stray bytes at offset {offset}")
            (length,) = struct.unpack_from("<Q", data, offset)
            offset += 12 + length + 4
            count += 1
        if offset != size:
            fail(f"{path}: the last record runs past the end of the file")
        loaded = sum(1 for _ in event_file_loader.EventFileLoader(path).Load())
        if loaded != count:
            fail(f"{path}: {count} records framed, TensorBoard read {loaded} (a bad CRC or record stops it)")

    expected = {}  # tag -> [(step, value, time)]
    with open(metrics, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            for key, value in record.items():
                if key in ("step", "time") or isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                expected.setdefault(key, []).append((record["step"], value, record.get("time")))

    accumulator = event_accumulator.EventAccumulator(run, size_guidance={event_accumulator.SCALARS: 0})
    accumulator.Reload()
    tags = set(accumulator.Tags()["scalars"])
    if tags != set(expected):
        fail(f"scalar tags differ from metrics.jsonl: missing {sorted(set(expected) - tags)}, "
             f"extra {sorted(tags - set(expected))}")

    checked = 0
    for tag, rows in sorted(expected.items()):
        scalars = accumulator.Scalars(tag)
        if len(scalars) != len(rows):
            fail(f"{tag}: {len(scalars)} scalars, metrics.jsonl has {len(rows)} values")
        for event, (step, value, time) in zip(scalars, rows):
            if event.step != step:
                fail(f"{tag}: step {event.step}, metrics.jsonl has {step}")
            if not (event.value == float32(value) or (math.isnan(event.value) and math.isnan(value))):
                fail(f"{tag} at step {step}: {event.value!r}, metrics.jsonl has {value!r} (float32 {float32(value)!r})")
            if time is not None and abs(event.wall_time - time) > 1e-3:
                fail(f"{tag} at step {step}: wall time {event.wall_time}, metrics.jsonl time {time}")
            checked += 1
    print(f"check_tensorboard: ok — {len(files)} event file(s), {len(expected)} tags, {checked} scalars match metrics.jsonl")


if __name__ == "__main__":
    main()
