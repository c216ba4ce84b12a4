"""Training throughput of pythae's MNIST autoencoder in PyTorch, the reference for `make bench`.

The model, loss and update match `irl`. The encoder has four 4x4 stride-2 convolutions with batch
norm and ReLU, then a linear layer to the latent. The decoder has a linear layer back to 4x4 maps
and three 3x3 stride-2 transposed convolutions (batch norm and ReLU between them), then a sigmoid.
The loss is the squared error summed over the pixels of an image and averaged over the batch, and
the optimizer is torch.optim.Adam. Channels are pythae's
128-256-512-1024 times the width. Images are seeded uniform values in [0, 1), cycled through four
batches, and each window runs whole updates until at least --window-seconds have passed, as the
Rust harness does.

Prints one JSON object per width and batch size on standard output.
"""

import argparse
import json
import time
import warnings

# The wheel works without NumPy, which this script does not use; PyTorch warns at import.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch  # noqa: E402
from torch import nn  # noqa: E402

PYTHAE_CHANNELS = (128, 256, 512, 1024)
BATCHES_IN_POOL = 4


def channels(width):
    return [max(1, round(c * width)) for c in PYTHAE_CHANNELS]


class Autoencoder(nn.Module):
    def __init__(self, width, latent_dim):
        super().__init__()
        c1, c2, c3, c4 = channels(width)
        self.c4 = c4

        def down(a, b):
            return [nn.Conv2d(a, b, 4, 2, padding=1), nn.BatchNorm2d(b), nn.ReLU()]

        self.encoder = nn.Sequential(*down(1, c1), *down(c1, c2), *down(c2, c3), *down(c3, c4))
        self.embedding = nn.Linear(c4, latent_dim)
        self.fc = nn.Linear(latent_dim, c4 * 4 * 4)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(c4, c3, 3, 2, padding=1),
            nn.BatchNorm2d(c3),
            nn.ReLU(),
            nn.ConvTranspose2d(c3, c2, 3, 2, padding=1, output_padding=1),
            nn.BatchNorm2d(c2),
            nn.ReLU(),
            nn.ConvTranspose2d(c2, 1, 3, 2, padding=1, output_padding=1),
            nn.Sigmoid(),
        )

    def forward(self, images):
        latents = self.embedding(self.encoder(images).flatten(1))
        maps = self.fc(latents).reshape(-1, self.c4, 4, 4)
        return self.decoder(maps)


def measure(width, batch_size, args):
    torch.manual_seed(args.seed)
    model = Autoencoder(width, args.latent_dim).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    pool = torch.rand(BATCHES_IN_POOL * batch_size, 1, 28, 28)
    steps_run = 0

    def step():
        nonlocal steps_run
        first = (steps_run % BATCHES_IN_POOL) * batch_size
        images = pool[first : first + batch_size]
        steps_run += 1
        reconstruction = model(images)
        loss = ((reconstruction - images) ** 2).flatten(1).sum(1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(args.warmup_steps):
        step()
    windows = []
    for _ in range(args.windows):
        started = time.perf_counter()
        steps = 0
        while steps == 0 or time.perf_counter() - started < args.window_seconds:
            step()
            steps += 1
        windows.append({"steps": steps, "seconds": time.perf_counter() - started})
    return windows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="1,0.25,0.125")
    parser.add_argument("--batch-sizes", default="64,256")
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--window-seconds", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    for width in (float(w) for w in args.widths.split(",")):
        for batch_size in (int(b) for b in args.batch_sizes.split(",")):
            windows = measure(width, batch_size, args)
            print(
                json.dumps(
                    {
                        "framework": "pytorch",
                        "version": torch.__version__,
                        "threads": torch.get_num_threads(),
                        "width": width,
                        "batch_size": batch_size,
                        "window_seconds": args.window_seconds,
                        "windows": windows,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
