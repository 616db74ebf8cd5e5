"""PyTorch peer for bench/run.mjs: Layerbench's seed model 1 trained on the same Fashion-MNIST subset.

Model (as Keras / Layerbench build it): Flatten -> BatchNorm -> Dense(300, ELU, He normal) -> BatchNorm
-> Dense(100, ELU, He normal) -> BatchNorm -> Dense(10, softmax, Glorot uniform). Keras BatchNormalization
momentum 0.99 / epsilon 1e-3 is PyTorch BatchNorm1d momentum 0.01 / eps 1e-3. Plain SGD, the same
learning rate, shuffled batches, loss and accuracy read every batch (as model.fit does). Each thread
count sets torch's intra-op threads and, when torch runs on OpenBLAS, OpenBLAS' threads too.

Usage: python3 torch_seed.py DATASET_DIR SUBSET BATCH EPOCHS THREADS SEED LR [BUDGET_SEC]
THREADS is a comma-separated list (e.g. 1,2): one fresh model is trained per entry, with
torch.set_num_threads(entry). Each entry warms up on 20 batches (not timed),
then trains EPOCHS - 1 timed epochs; with BUDGET_SEC it stops at the first batch past that many
seconds (two threads on a busy 2-core machine can be ~50x slower than one). Prints one JSON object
with, per entry, the timed epochs (duration, samples, loss, accuracy) and samples/s over them.
"""
import ctypes
import gzip
import json
import sys
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def mulberry32_order(count, seed):
    """The same seeded shuffle bench/fit-worker.ts uses, so both train on the same images."""
    a = seed & 0xFFFFFFFF

    def rand():
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = ((t ^ (t >> 15)) * (t | 1)) & 0xFFFFFFFF
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & 0xFFFFFFFF)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    order = list(range(count))
    for i in range(count - 1, 0, -1):
        j = int(rand() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


def seed_model():
    def dense(n_in, n_out, he):
        layer = nn.Linear(n_in, n_out)
        if he:
            nn.init.kaiming_normal_(layer.weight, mode='fan_in', nonlinearity='relu')
        else:
            nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    bn = lambda n: nn.BatchNorm1d(n, momentum=0.01, eps=1e-3)
    return nn.Sequential(
        nn.Flatten(),
        bn(784),
        dense(784, 300, True), nn.ELU(),
        bn(300),
        dense(300, 100, True), nn.ELU(),
        bn(100),
        dense(100, 10, False),  # softmax is inside CrossEntropyLoss
    )


def openblas():
    """The OpenBLAS this process loaded, if any. Debian's torch (BLAS_INFO=generic) calls libblas.so.3,
    which libopenblas0-pthread provides with its own thread pool: torch.set_num_threads does not reach
    it, and by default it starts one thread per core. Returns a ctypes handle or None."""
    try:
        with open('/proc/self/maps') as maps:
            paths = sorted({line.split()[-1] for line in maps if 'openblas' in line and line.split()[-1].startswith('/')})
        for path in paths:
            lib = ctypes.CDLL(path)
            if hasattr(lib, 'openblas_set_num_threads'):
                return lib
    except OSError:
        pass
    return None


def train(x, y, batch, epochs, threads, seed, lr, budget):
    """Warm-up batches (not timed), then up to `epochs - 1` timed epochs, cut short after `budget` seconds."""
    torch.set_num_threads(threads)
    blas = openblas()
    if blas is not None:
        # So that "1 thread" means one thread: BLAS included.
        blas.openblas_set_num_threads(threads)
    blas_threads = blas.openblas_get_num_threads() if blas is not None else None
    torch.manual_seed(seed)
    subset = len(y)
    model = seed_model()
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()

    def step(idx):
        xb, yb = x[idx], y[idx]
        optimizer.zero_grad(set_to_none=True)
        out = model(xb)
        loss = loss_fn(out, yb)
        loss.backward()
        optimizer.step()
        # Read the loss and accuracy every batch, as model.fit's logs do.
        return loss.item(), int((out.argmax(1) == yb).sum())

    warmup = torch.randperm(subset)
    for i in range(0, min(subset, 20 * batch), batch):
        step(warmup[i:i + batch])

    records = []
    samples = 0
    began = time.perf_counter()
    cpu_began = time.process_time()
    cut = False
    for epoch in range(max(1, epochs - 1)):
        start = time.perf_counter()
        perm = torch.randperm(subset)
        total_loss, correct, seen = 0.0, 0, 0
        for i in range(0, subset, batch):
            idx = perm[i:i + batch]
            loss, hits = step(idx)
            total_loss += loss * len(idx)
            correct += hits
            seen += len(idx)
            if budget and time.perf_counter() - began > budget:
                cut = True
                break
        samples += seen
        records.append({'epoch': epoch, 'durationMs': (time.perf_counter() - start) * 1000, 'samples': seen,
                        'loss': total_loss / seen, 'acc': correct / seen})
        if cut:
            break
    seconds = time.perf_counter() - began
    cpu_seconds = time.process_time() - cpu_began
    return {'threads': threads, 'blasThreads': blas_threads, 'epochs': records, 'samples': samples, 'cutShort': cut,
            'samplesPerSec': samples / seconds, 'samplesPerCpuSec': samples / cpu_seconds}


def main():
    dataset_dir, subset, batch, epochs, threads, seed, lr = sys.argv[1:8]
    budget = float(sys.argv[8]) if len(sys.argv) > 8 else 0
    subset, batch, epochs, seed, lr = int(subset), int(batch), int(epochs), int(seed), float(lr)
    images = read_idx(f'{dataset_dir}/train-images-idx3-ubyte.gz')
    labels = read_idx(f'{dataset_dir}/train-labels-idx1-ubyte.gz')
    order = mulberry32_order(len(labels), seed)[:subset]
    x = torch.from_numpy(images[order].astype(np.float32) / 255.0)
    y = torch.from_numpy(labels[order].astype(np.int64))
    runs = [train(x, y, batch, epochs, int(t), seed, lr, budget) for t in threads.split(',')]
    print(json.dumps({'torch': torch.__version__, 'blas': blas_name(), 'runs': runs}))


def blas_name():
    if openblas() is not None:
        return 'OpenBLAS'
    try:
        config = torch.__config__.show()
        info = config.split('BLAS_INFO=')[1].split(',')[0] if 'BLAS_INFO=' in config else 'unknown'
        return info
    except Exception:
        return 'unknown'


if __name__ == '__main__':
    main()
