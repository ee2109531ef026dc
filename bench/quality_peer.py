"""The PyTorch side of `npm run bench:quality`: trains the same network with the recipe the
toolkit chose (read from the toolkit run's resolved config, run.json) on the same clip images
(the toolkit's feature cache, exported by bench/quality.ts), predicts the held-out clips with
the same sliding windows, and writes the scores; bench/quality.ts scores both sides with one
implementation (lib/metrics).

  python3 bench/quality_peer.py --images DIR --config run.json --seed 1 --out scores.f32 [--threads 2]

DIR holds index.json ({numClasses, train: [{nMels, frames, offset, labels}], test: [...]}) and
pixels.u8 (the uint8 images, row-major [nMels][frames], concatenated).

Recipe, as lib/train (one stage from scratch, recipe `single`): epochs = pipeline.stageEpochs[0],
batch train.batchSize (full batches of a shuffled epoch, the last partial one dropped as the
toolkit does), AdamW (decoupled weight decay on every parameter) under fastai's one-cycle
schedule (lr maxLr/divFactor → maxLr cosine over pctStart of the steps → maxLr/finalDivFactor,
β1 beta1Max → beta1Min → beta1Max), per sample: a random model.inputFrames crop (narrower clips
centred and zero-padded), zoom and lighting (fastai v1, with config.augment's p and ranges),
then per batch mixup and SpecMix when enabled; head dropout from config.model; softmax
cross-entropy with label smoothing (singleLabel) or BCE (multiLabel). Prints one JSON line
{"trainSeconds", "params"}.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import torch_models  # noqa: E402


def load_images(folder):
    index = json.load(open(os.path.join(folder, 'index.json')))
    pixels = np.fromfile(os.path.join(folder, 'pixels.u8'), dtype=np.uint8)

    def images(rows):
        return [pixels[r['offset']:r['offset'] + r['nMels'] * r['frames']].reshape(r['nMels'], r['frames']).astype(np.float32) / 255.0 for r in rows]
    return index, images(index['train']), images(index['test'])


def crop(img, frames, start):
    """[H][T] → [H][frames]: the window at start, or centred zero padding when narrower."""
    h, t = img.shape
    if t >= frames:
        return img[:, start:start + frames]
    out = np.zeros((h, frames), dtype=np.float32)
    s = (frames - t) // 2
    out[:, s:s + t] = img
    return out


def zoom(x, rng, cfg):
    """fastai rand_zoom on one [H][W] image (grid_sample, align_corners=True)."""
    if not cfg['enabled'] or rng.random() >= cfg['p']:
        return x
    scale = rng.uniform(cfg['minScale'], cfg['maxScale'])
    rp, cp = rng.random(), rng.random()
    h, w = x.shape
    cy = (1 - 1 / scale) * (2 * rp - 1)
    cx = (1 - 1 / scale) * (2 * cp - 1)
    ys = torch.linspace(-1, 1, h) / scale + cy
    xs = torch.linspace(-1, 1, w) / scale + cx
    gy, gx = torch.meshgrid(ys, xs, indexing='ij')
    grid = torch.stack([gx, gy], -1)[None]
    return F.grid_sample(torch.from_numpy(np.ascontiguousarray(x))[None, None], grid, mode='bilinear', align_corners=True)[0, 0].numpy()


def lighting(x, rng, cfg):
    if not cfg['enabled'] or cfg['p'] <= 0:
        return x
    m = cfg['maxChange']
    b = rng.uniform(0.5 * (1 - m), 0.5 * (1 + m)) if rng.random() < cfg['p'] else None
    c = math.exp(rng.uniform(math.log(1 - m), -math.log(1 - m))) if rng.random() < cfg['p'] else None
    if b is None and c is None:
        return x
    v = np.clip(x, 1e-7, 1 - 1e-7)
    z = np.log(v / (1 - v)) + (math.log(b / (1 - b)) if b is not None else 0.0)
    return (1 / (1 + np.exp(-(c if c is not None else 1.0) * z))).astype(np.float32)


def one_cycle(step, total, opt_cfg, max_lr):
    """fastai fit_one_cycle as lib/train/oneCycle: (lr, beta1) at `step` of `total`."""
    a1 = int(math.floor(total * opt_cfg['pctStart']))
    warm = max(1, a1)
    start, end = max_lr / opt_cfg['divFactor'], max_lr / opt_cfg['finalDivFactor']

    def cos(a, b, pct):
        return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)
    if step <= warm:
        p = step / warm
        return cos(start, max_lr, p), cos(opt_cfg['beta1Max'], opt_cfg['beta1Min'], p)
    p = min(1.0, (step - warm) / max(1, total - a1))
    return cos(max_lr, end, p), cos(opt_cfg['beta1Min'], opt_cfg['beta1Max'], p)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--images', required=True)
    p.add_argument('--config', required=True)
    p.add_argument('--seed', type=int, required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    import random
    prng = random.Random(a.seed)
    config = json.load(open(a.config))
    config = config.get('config', config)
    index, train_x, test_x = load_images(a.images)
    C = index['numClasses']
    m, aug, opt_cfg, task = config['model'], config['augment'], config['optimizer'], config['task']
    single = task['name'] == 'singleLabel'
    train_y = np.zeros((len(train_x), C), dtype=np.float32)
    for i, r in enumerate(index['train']):
        train_y[i, r['labels']] = 1
    model = torch_models.build(m['arch'], num_classes=C, width=m['widthMultiplier'],
                               mish=m.get('xresnetActivation') == 'mish', channel_stem=m.get('mobilenetChannelStem', False))
    drops = [mod for mod in model.modules() if isinstance(mod, torch.nn.Dropout)]
    if len(drops) >= 2:
        drops[-2].p, drops[-1].p = m['headDropout1'], m['headDropout2']
    epochs = config['pipeline']['stageEpochs'][0]
    max_lr = config['pipeline']['stageMaxLr'][0]
    bs = config['train']['batchSize']
    frames = m['inputFrames']
    steps_per_epoch = max(1, len(train_x) // bs)  # the toolkit drops the last partial batch
    total = epochs * steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=max_lr, betas=(opt_cfg['beta1Max'], opt_cfg['beta2']),
                            eps=opt_cfg['epsilon'], weight_decay=opt_cfg['weightDecay'])
    channels = 1 if m['arch'] == 'mobilenetv2' and m.get('mobilenetChannelStem') else 3
    t0 = time.perf_counter()
    step = 0
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(train_x))
        for b in range(steps_per_epoch):
            idx = order[b * bs:(b + 1) * bs]
            xs = []
            for i in idx:
                img = train_x[i]
                start = int(rng.integers(0, img.shape[1] - frames + 1)) if img.shape[1] > frames else 0
                x = crop(img, frames, start)
                x = zoom(x, prng, aug['zoom'])
                x = lighting(x, prng, aug['lighting'])
                xs.append(x)
            x = torch.from_numpy(np.stack(xs))[:, None]
            y = torch.from_numpy(train_y[idx])
            n = x.shape[0]
            if aug['mixup']['enabled'] and n > 1:
                perm = torch.from_numpy(rng.permutation(n))
                lam = torch.from_numpy(rng.beta(aug['mixup']['alpha'], aug['mixup']['alpha'], n).astype(np.float32))
                lam = torch.maximum(lam, 1 - lam)
                apply = torch.from_numpy((rng.random(n) < aug['mixup']['p']).astype(np.float32))
                lam = 1 - apply * (1 - lam)
                x = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[perm]
                y = lam[:, None] * y + (1 - lam[:, None]) * y[perm]
            if aug['specMix']['enabled'] and n > 1:
                perm = rng.permutation(n)
                x2, y2 = x.clone(), y.clone()
                H, W = x.shape[2], x.shape[3]
                for k in range(n):
                    if rng.random() >= aug['specMix']['p']:
                        continue
                    h = int(rng.uniform(0, aug['specMix']['maxFraction']) * H)
                    w = int(rng.uniform(0, aug['specMix']['maxFraction']) * W)
                    r0 = int(rng.integers(0, H - h + 1))
                    c0 = int(rng.integers(0, W - w + 1))
                    mask = torch.zeros(H, W)
                    mask[r0:r0 + h, :] = 1
                    mask[:, c0:c0 + w] = 1
                    frac = float(mask.mean())
                    x2[k, 0] = x[k, 0] * (1 - mask) + x[perm[k], 0] * mask
                    y2[k] = (1 - frac) * y[k] + frac * y[perm[k]]
                x, y = x2, y2
            if channels == 3:
                x = x.expand(-1, 3, -1, -1)
            lr, beta1 = one_cycle(step, total, opt_cfg, max_lr)
            for g in opt.param_groups:
                g['lr'] = lr
                g['betas'] = (beta1, opt_cfg['beta2'])
            logits = model(x)
            if single:
                eps = task.get('labelSmoothing', 0)
                target = (1 - eps) * y + eps / C
                loss = -(target * F.log_softmax(logits, 1)).sum(1).mean()
            else:
                loss = F.binary_cross_entropy_with_logits(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    train_seconds = time.perf_counter() - t0
    model.eval()
    wf, shift = config['infer']['windowFrames'], config['infer']['windowShift']
    scores = np.zeros((len(test_x), C), dtype=np.float32)
    with torch.no_grad():
        for i, img in enumerate(test_x):
            t = img.shape[1]
            if t <= wf:
                starts = [0]
            else:
                s = math.ceil((t - wf) / shift) + 1
                starts = [int(np.round((t - wf) * j / (s - 1))) for j in range(s)]
            x = torch.from_numpy(np.stack([crop(img, wf, st) for st in starts]))[:, None]
            if channels == 3:
                x = x.expand(-1, 3, -1, -1)
            out = model(x)
            prob = F.softmax(out, 1) if single else torch.sigmoid(out)
            scores[i] = prob.mean(0).numpy()
    scores.tofile(a.out)
    print(json.dumps({'trainSeconds': train_seconds, 'params': torch_models.trainable_params(model), 'steps': step}))


if __name__ == '__main__':
    main()
