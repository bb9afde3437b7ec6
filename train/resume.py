"""Resumable drafter training: one checkpoint file holding the weights, the optimiser, the step, the
minutes spent, the history and the command of every run that contributed."""
import os
import sys

import torch


def resume(path, key, module, opt, device):
    """Loads `path` if it exists; returns (step, elapsed seconds, history, runs) with this run appended."""
    step, elapsed, hist, runs = 0, 0.0, [], []
    if os.path.exists(path):
        ck = torch.load(path, map_location=device)
        module.load_state_dict(ck[key])
        opt.load_state_dict(ck["opt"])
        step, elapsed, hist, runs = ck["step"], ck["elapsed"], ck["history"], ck.get("runs", [])
        print(f"resumed at step {step}", flush=True)
    script = "train/" + os.path.basename(sys.argv[0])
    runs.append({"command": " ".join([script] + sys.argv[1:]), "from_step": step, "from_minutes": elapsed / 60})
    return step, elapsed, hist, runs


def save(path, key, module, opt, step, elapsed, hist, runs):
    torch.save({key: module.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed,
                "history": hist, "runs": runs}, path)
