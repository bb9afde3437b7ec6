"""The optimiser step and wall-clock bookkeeping shared by train_model.py, train_eagle.py and train_mtp.py."""
import time

import torch


def optimizer_step(opt, loss, module, clip=1.0):
    """Backward pass, gradient clipping to `clip`, one optimiser step."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
    opt.step()


def tick(elapsed, t_last):
    """(elapsed + the seconds since t_last, now): training time that survives resumes."""
    now = time.time()
    return elapsed + now - t_last, now
