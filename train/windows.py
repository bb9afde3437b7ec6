"""Random training windows drawn from one or more token streams (the corpus and, optionally, the
target's self-distilled continuations), each stream with its share of the batch."""
import numpy as np
import torch


def sample(streams, batch, length, gen):
    """streams: list of (uint16 array, share); shares sum to 1. Returns a [batch, length] int64 tensor."""
    rows = []
    for b in range(batch):
        u = torch.rand(1, generator=gen).item()
        for data, share in streams:
            if u < share:
                break
            u -= share
        s = torch.randint(0, len(data) - length, (1,), generator=gen).item()
        rows.append(torch.from_numpy(data[s:s + length].astype(np.int64)))
    return torch.stack(rows)


def streams(data, extra_path, extra_share):
    out = [(data, 1.0 - extra_share)]
    if extra_path:
        out.append((np.load(extra_path), extra_share))
    return out if extra_path else [(data, 1.0)]
