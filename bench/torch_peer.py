"""The PyTorch side of the benchmarks: the same work as the project's bench, timed in the same run.

Started by bench/train.ts and bench/features.ts (bench/_common.ts `startTorchPeer`) as a child
process that sets up once, prints one JSON line `{"ready": ...}`, then answers each command line
`{"op": "run", "reps": k}` with one JSON line `{"seconds": [...], "cpuSeconds": [...]}` (one wall
time and one CPU time of this thread per repetition).
The Node side sends a command only while it is idle itself, so the two never share the cores, and
it interleaves its own repetitions with the peer's (the machine's load drifts; medians of
interleaved repetitions compare like with like).

  python3 bench/torch_peer.py train --model cnnModel1 --width 1 --size 128 --batch 32 --micro 8
                                    --classes 80 --threads 2
  python3 bench/torch_peer.py features --threads 1 --clips clips.f32 --clip-samples 441000
                                       --mel mel.f32 --n-fft 2560 --hop 694 ... [--dtype float32]

train: one step = the batch as batch/micro micro-batches (forward, BCE-with-logits mean loss
scaled by micro/batch, backward, gradients accumulated), then one AdamW step; BatchNorm in
training mode, dropout on; inputs NCHW float32 (channels-last with --channels-last).
features: per clip, what `preprocess` runs: trim (frame RMS on the reflect-padded signal, top_db),
centred zero pad to min samples, torch.stft (periodic Hann, centred, reflect pad), power |X|²,
mel product (the project's filterbank, passed in; sparse by default), power_to_db (ref, amin, top_db), image
normalisation (mean/std, min-max) to uint8; under torch.inference_mode, with glibc told to keep
freed memory (see features_setup). Each repetition is one clip, timed alone.
"""
import argparse
import json
import sys
import time

import numpy as np
import torch

sys.path.insert(0, __import__('os').path.dirname(__file__))


def train_setup(a):
    import torch_models
    model = torch_models.build(a.model, num_classes=a.classes, width=a.width, mels=a.size)
    model.train()
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    g = torch.Generator().manual_seed(1)
    n_micro = a.batch // a.micro
    xs = [torch.rand(a.micro, torch_models.input_channels(a.model), a.size, a.size, generator=g).contiguous(memory_format=fmt) for _ in range(n_micro)]
    ys = [(torch.rand(a.micro, a.classes, generator=g) > 0.95).float() for _ in range(n_micro)]
    weight = a.micro / a.batch

    def step():
        opt.zero_grad(set_to_none=True)
        for x, y in zip(xs, ys):
            loss = loss_fn(model(x), y) * weight
            loss.backward()
        opt.step()
        return float(loss)

    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return step, {'trainableParams': params, 'microBatches': n_micro}


def features_setup(a):
    dtype = torch.float64 if a.dtype == 'float64' else torch.float32
    # glibc hands each freed block of more than 128 KiB back to the kernel (munmap, or trimming
    # the heap top), so every clip's 2–7 MB tensors came back as fresh pages: ~4,100 page faults
    # (16 MB zeroed by the kernel) per 10 s clip, measured with getrusage. The project's side
    # reuses its buffers from clip to clip; the fastest reasonable PyTorch code keeps them too.
    # torch.stft has no out=, so the allocator is told to keep freed memory (M_MMAP_THRESHOLD
    # at its 32 MiB maximum, M_TRIM_THRESHOLD 512 MiB): 0 faults per clip afterwards.
    try:
        import ctypes
        libc = ctypes.CDLL('libc.so.6')
        # mallopt returns 1 on success.
        malloc_tuned = libc.mallopt(-3, 32 << 20) == 1 and libc.mallopt(-1, 512 << 20) == 1  # M_MMAP_, M_TRIM_THRESHOLD
    except OSError:
        malloc_tuned = False
    clips_np = np.fromfile(a.clips, dtype=np.float32).reshape(-1, a.clip_samples)
    clips = [torch.from_numpy(c.copy()).to(dtype) for c in clips_np]
    mel = torch.from_numpy(np.fromfile(a.mel, dtype=np.float32).reshape(a.n_mels, a.n_fft // 2 + 1)).to(dtype)
    # Sparse (COO, 2 % non-zero) by default: Debian's torch multiplies dense matrices with the
    # BLAS the system provides (BLAS_INFO=generic: the reference netlib one on the development
    # VM, where the dense [128 × 1281] · [1281 × 605] product takes 80 ms against 1 ms sparse;
    # CSR 1.3 ms). With a fast BLAS the dense product may win: the bench runs both and divides
    # by the faster.
    mel_sparse = mel.to_sparse()
    mel_product = (lambda p: torch.sparse.mm(mel_sparse, p)) if a.mel_product == 'sparse' else (lambda p: mel @ p)
    window = torch.hann_window(a.n_fft, periodic=True, dtype=dtype)
    ref_db = 10 * np.log10(max(a.amin, abs(a.ref)))
    state = {'i': 0}

    def trim(y):
        # librosa 0.6.3 effects.trim: frame mean square on the reflect-padded signal (unfold +
        # mean: 0.6 ms a clip; avg_pool1d on the squares measured 3× slower).
        pad = a.trim_frame // 2
        yp = torch.nn.functional.pad(y[None, None], (pad, pad), mode='reflect')[0, 0]
        frames = yp.unfold(0, a.trim_frame, a.trim_hop)
        mse = (frames * frames).mean(dim=1)
        db = 10 * torch.log10(torch.clamp(mse, min=1e-10)) - 10 * torch.log10(torch.clamp(mse.max(), min=1e-10))
        loud = torch.nonzero(db > -a.top_db_trim).flatten()
        if loud.numel() == 0:
            return y
        start = int(loud[0]) * a.trim_hop
        end = min(y.numel(), (int(loud[-1]) + 1) * a.trim_hop)
        return y[start:end]

    def one_clip(y):
        y = trim(y)
        if y.numel() < a.min_samples:
            left = (a.min_samples - y.numel()) // 2
            y = torch.nn.functional.pad(y, (left, a.min_samples - y.numel() - left))
        spec = torch.stft(y, a.n_fft, hop_length=a.hop, window=window, center=True, pad_mode='reflect',
                          return_complex=True)
        # |X|² as re² + im² with one temporary (spec.abs() takes a hypot and a sqrt).
        ri = torch.view_as_real(spec)
        power = ri[..., 0].square()
        power.addcmul_(ri[..., 1], ri[..., 1])
        # power_to_db and the image in place on the mel power (fresh from the product).
        db = mel_product(power).clamp_(min=a.amin).log10_().mul_(10).sub_(ref_db)
        db = db.clamp_(min=float(db.max() - a.top_db)).float()
        mean = db.mean()
        std = db.std(unbiased=False)
        z = db.sub_(mean).div_(std + 1e-6)
        mn, mx = z.min(), z.max()
        return z.sub_(mn).mul_(255).div_(mx - mn).to(torch.uint8)

    def step():
        with torch.inference_mode():
            img = one_clip(clips[state['i'] % len(clips)])
        state['i'] += 1
        return int(img.shape[1])

    return step, {'dtype': a.dtype, 'melProduct': a.mel_product, 'clips': len(clips), 'mallocTuned': malloc_tuned}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='work', required=True)
    t = sub.add_parser('train')
    t.add_argument('--model', default='cnnModel1')
    t.add_argument('--width', type=float, default=1.0)
    t.add_argument('--size', type=int, default=128)
    t.add_argument('--batch', type=int, default=32)
    t.add_argument('--micro', type=int, default=8)
    t.add_argument('--classes', type=int, default=80)
    t.add_argument('--threads', type=int, default=2)
    t.add_argument('--channels-last', action='store_true')
    f = sub.add_parser('features')
    f.add_argument('--threads', type=int, default=1)
    f.add_argument('--clips', required=True)
    f.add_argument('--clip-samples', type=int, required=True)
    f.add_argument('--mel', required=True)
    f.add_argument('--n-mels', type=int, default=128)
    f.add_argument('--n-fft', type=int, default=2560)
    f.add_argument('--hop', type=int, default=694)
    f.add_argument('--min-samples', type=int, default=88200)
    f.add_argument('--trim-frame', type=int, default=2048)
    f.add_argument('--trim-hop', type=int, default=512)
    f.add_argument('--top-db-trim', type=float, default=60)
    f.add_argument('--ref', type=float, default=1.0)
    f.add_argument('--amin', type=float, default=1e-10)
    f.add_argument('--top-db', type=float, default=80)
    f.add_argument('--dtype', choices=['float32', 'float64'], default='float32')
    f.add_argument('--mel-product', choices=['sparse', 'dense'], default='sparse')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    step, info = train_setup(a) if a.work == 'train' else features_setup(a)
    info.update({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'work': a.work})
    print(json.dumps({'ready': info}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get('op') == 'quit':
            break
        reps = int(cmd.get('reps', 1))
        seconds, cpu_seconds = [], []
        for _ in range(reps):
            c0 = time.thread_time()
            t0 = time.perf_counter()
            step()
            seconds.append(time.perf_counter() - t0)
            cpu_seconds.append(time.thread_time() - c0)
        print(json.dumps({'seconds': seconds, 'cpuSeconds': cpu_seconds}), flush=True)


if __name__ == '__main__':
    main()
