// train.py of a PyTorch export (pytorch_export.h): the same text for every
// model; it reads config.json, model.py, weights.bin and data/ beside it.
#include "compute/interop/pytorch_export.h"

namespace ts::interop {

const char* PytorchTrainScript() {
  return R"PY(#!/usr/bin/env python3
"""Trains the model exported by Tensorscope, on one process or several (DDP).

    python3 train.py [--epochs N] [--lr X] [--batch B] [--metrics-csv FILE]
    python3 -m torch.distributed.run --standalone --nproc_per_node=N --redirects 2 --tee 2 train.py [...]

Starts from the exported weights (weights.bin) and trains with config.json's settings,
as Tensorscope would: the same optimizer, weight decay, learning-rate schedule (per step,
at the fractional epoch), global batch, whole batches only (the last partial batch of an
epoch is dropped), the same loss head. Under torch.distributed.run each process takes
batch / N samples of every global batch (DistributedSampler, reshuffled each epoch by
set_epoch) and DistributedDataParallel averages the gradients, so N processes take the
same steps as one. GPUs: NCCL, one process per GPU; otherwise gloo on the CPU. Rank 0
logs and saves trained.pt (a state_dict) after every epoch.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import Model, load_weights  # noqa: E402


def learning_rate_at(config, lr, epoch):
    """Tensorscope's TrainConfig::LearningRateAt: `epoch` is fractional (step / steps per epoch)."""
    s = config["schedule"]
    if s["warmup_epochs"] > 0 and epoch < s["warmup_epochs"]:
        return lr * (epoch + 1e-9) / s["warmup_epochs"]
    if s["kind"] == "step":
        return lr * s["gamma"] ** math.floor(epoch / s["step_epochs"])
    if s["kind"] == "cosine":
        span = max(1e-9, config["epochs"] - s["warmup_epochs"])
        progress = min(max((epoch - s["warmup_epochs"]) / span, 0.0), 1.0)
        return s["min_learning_rate"] + 0.5 * (lr - s["min_learning_rate"]) * (1 + math.cos(math.pi * progress))
    return lr


def make_loss(name, outputs):
    """Tensorscope's loss heads, mean over the batch."""
    if name == "softmax_cross_entropy":
        return nn.CrossEntropyLoss()
    criterion = nn.MSELoss() if name == "mse" else nn.BCEWithLogitsLoss()

    def loss(scores, labels):
        target = (labels.to(torch.float32).reshape(-1, 1) if outputs == 1
                  else nn.functional.one_hot(labels, outputs).to(torch.float32))
        return criterion(scores, target)
    return loss


def correct_count(scores, labels):
    if scores.shape[1] == 1:
        return ((scores[:, 0] > 0).long() == labels).sum()
    return (scores.argmax(dim=1) == labels).sum()


def make_optimizer(params, c, lr):
    betas, wd = (c["beta1"], c["beta2"]), c["weight_decay"]
    if c["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if c["optimizer"] == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=c["momentum"], nesterov=c["nesterov"], weight_decay=wd)
    if c["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=c["epsilon"], weight_decay=wd)
    return torch.optim.AdamW(params, lr=lr, betas=betas, eps=c["epsilon"], weight_decay=wd)


def load_split(name):
    if os.path.exists(os.path.join(HERE, "data", "source.json")):
        import data_source  # IDX, CIFAR-10 or image files read where they lie, split as Tensorscope split them
        loaded = data_source.load(name)
        return None if loaded is None else TensorDataset(torch.from_numpy(loaded[0]), torch.from_numpy(loaded[1]))
    x_path = os.path.join(HERE, "data", name + "_x.npy")
    if not os.path.exists(x_path):
        return None
    x = torch.from_numpy(np.load(x_path))
    y = torch.from_numpy(np.load(os.path.join(HERE, "data", name + "_y.npy")))
    return TensorDataset(x, y)


def evaluate(model, dataset, criterion, device):
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for x, y in DataLoader(dataset, batch_size=256):
            scores = model(x.to(device))
            loss += float(criterion(scores, y.to(device))) * len(y)
            correct += int(correct_count(scores, y.to(device)))
    model.train()
    return loss / len(dataset), correct / len(dataset)


def main():
    with open(os.path.join(HERE, "config.json")) as f:
        config = json.load(f)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=config["epochs"])
    parser.add_argument("--lr", type=float, default=config["learning_rate"])
    parser.add_argument("--batch", type=int, default=config["batch_size"], help="the global batch")
    parser.add_argument("--metrics-csv", help="every step's loss, accuracy, learning rate (rank 0 writes it)")
    parser.add_argument("--save", default=os.path.join(HERE, "trained.pt"))
    args = parser.parse_args()

    distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    cuda = torch.cuda.is_available()
    if distributed:
        dist.init_process_group(backend="nccl" if cuda else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
    else:
        rank, world, local_rank = 0, 1, 0
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if args.batch % world:
        raise SystemExit("the global batch %d does not split evenly over %d processes" % (args.batch, world))

    torch.manual_seed(config["seed"])
    model = load_weights(Model()).to(device)
    if distributed and cuda:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    trained = nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if cuda else None) if distributed else model
    train = load_split("train")
    test = load_split("test")
    criterion = make_loss(config["loss"], config["outputs"])
    optimizer = make_optimizer(trained.parameters(), config, args.lr)
    # The same order on one process or many: rank r takes every world-th sample of the shuffled order.
    sampler = DistributedSampler(train, num_replicas=world, rank=rank, shuffle=config["shuffle"],
                                 seed=config["seed"], drop_last=True)
    loader = DataLoader(train, batch_size=args.batch // world, sampler=sampler, drop_last=True)
    steps_per_epoch = len(train) // args.batch
    if steps_per_epoch == 0:
        raise SystemExit("the training set (%d samples) is smaller than one batch (%d)" % (len(train), args.batch))
    log = open(args.metrics_csv, "w") if args.metrics_csv and rank == 0 else None
    if log:
        log.write("kind,step,epoch,loss,accuracy,learning_rate,samples_per_second,gpu_ms,samples\n")
    if rank == 0:
        print("%s: %d samples, global batch %d on %d process(es) (%s), %d epochs"
              % (config["model"], len(train), args.batch, world, device, args.epochs), flush=True)

    step = 0
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        started, epoch_loss, epoch_correct = time.time(), 0.0, 0
        for step_in_epoch, (x, y) in enumerate(loader):
            if step_in_epoch >= steps_per_epoch:
                break
            lr = learning_rate_at(config, args.lr, epoch + step_in_epoch / steps_per_epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = x.to(device), y.to(device)
            scores = trained(x)
            loss = criterion(scores, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            # The global batch's mean loss and correct count, as one process would see them.
            totals = torch.stack([loss.detach() * len(y), correct_count(scores.detach(), y).to(loss.dtype)])
            if distributed:
                dist.all_reduce(totals)
            step += 1
            epoch_loss += float(totals[0]) / args.batch
            epoch_correct += int(totals[1])
            if log:
                log.write("train,%d,%d,%.9g,%.9g,%.9g,,,%d\n"
                          % (step, epoch + 1, float(totals[0]) / args.batch, float(totals[1]) / args.batch, lr, args.batch))
        if rank == 0:
            line = "epoch %d/%d  train loss %.6f  acc %.2f%%" % (epoch + 1, args.epochs, epoch_loss / steps_per_epoch,
                                                                100.0 * epoch_correct / (steps_per_epoch * args.batch))
            if test is not None:
                test_loss, test_accuracy = evaluate(model, test, criterion, device)
                line += "  |  test loss %.6f  acc %.2f%%" % (test_loss, 100 * test_accuracy)
                if log:
                    log.write("test,%d,%d,%.9g,%.9g,,,,%d\n" % (step, epoch + 1, test_loss, test_accuracy, len(test)))
            print(line + "  |  %.1f s" % (time.time() - started), flush=True)
            torch.save(model.state_dict(), args.save)
    if log:
        log.close()
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
)PY";
}

}  // namespace ts::interop
