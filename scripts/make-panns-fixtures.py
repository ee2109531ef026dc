#!/usr/bin/python3
"""Fixtures for importing PANNs checkpoints (lib/models/panns.ts, lib/models/import/panns.ts).

PANNs: Kong et al., "PANNs: Large-Scale Pretrained Audio Neural Networks for Audio Pattern
Recognition", IEEE/ACM TASLP 2020; code github.com/qiuqiangkong/audioset_tagging_cnn (MIT).
The classes below are written out as in its pytorch/models.py (Cnn6, Cnn10, Cnn14: ConvBlock,
ConvBlock5x5, bn0 over the mel bins, mean over frequency, max + mean over time, fc1,
fc_audioset), with a width factor (1 = the paper's channels) so the committed fixtures stay
small. The front end keeps torchlibrosa's state_dict names and shapes
(spectrogram_extractor.stft.conv_real/conv_imag.weight [513, 1, 1024],
logmel_extractor.melW [513, 64]); for the committed files these three tensors are stride-0
views of one value (same names and shapes, a few bytes of storage: the import checks melW's
shape and ignores their values; the --full file has the real ones).

Writes to --out (default tests/fixtures/panns):
  clip.wav            1.2 s of 32 kHz mono 16-bit test audio (tones + noise)
  logmel.f32          torchaudio's MelSpectrogram of clip.wav in float64 (periodic Hann 1024,
                      hop 320, 64 Slaney bands 50-14000 Hz, Slaney norm, power 2, centred,
                      reflect pad), then 10*log10(max(S, 1e-10)), as float32 [64][frames]
  <Arch>_w<k>.pth     torch.save({'model': state_dict, 'iteration': 0}) (zip format) of each
                      network at width 1/k, random weights and BatchNorm statistics (Cnn14 with
                      the 527 AudioSet outputs, Cnn10 and Cnn6 with 10)
  expected.json       shapes, widths, and PyTorch's logits (eval mode) of each network on
                      logmel.f32 and on a second, shorter random input (input2.f32), fc1's
                      output (the embedding) on logmel.f32; the
                      full-size networks' trainable parameter counts

--full DIR also writes a full-width Cnn14 (80 MB, real-size STFT tensors; not committed) with
its expected logits to DIR, for scripts/check-panns-import.ts.

Usage (Debian: apt-get install python3-torch python3-torchaudio):
  /usr/bin/python3 scripts/make-panns-fixtures.py [--out tests/fixtures/panns] [--full /tmp/panns-full]
"""
import argparse
import json
import math
import os
import wave

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchaudio

SR = 32000
N_FFT = 1024
HOP = 320
N_MELS = 64
FMIN = 50
FMAX = 14000
CLASSES = 527


# ---- the paper's code (pytorch/models.py), with a width factor -----------------------------
def init_layer(layer):
    nn.init.xavier_uniform_(layer.weight)
    if hasattr(layer, 'bias') and layer.bias is not None:
        layer.bias.data.fill_(0.)


def init_bn(bn):
    bn.bias.data.fill_(0.)
    bn.weight.data.fill_(1.)


class ConvBlock(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        init_layer(self.conv1); init_layer(self.conv2); init_bn(self.bn1); init_bn(self.bn2)

    def forward(self, input, pool_size=(2, 2), pool_type='avg'):
        x = F.relu_(self.bn1(self.conv1(input)))
        x = F.relu_(self.bn2(self.conv2(x)))
        assert pool_type == 'avg'
        return F.avg_pool2d(x, kernel_size=pool_size)


class ConvBlock5x5(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2), bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        init_layer(self.conv1); init_bn(self.bn1)

    def forward(self, input, pool_size=(2, 2), pool_type='avg'):
        x = F.relu_(self.bn1(self.conv1(input)))
        assert pool_type == 'avg'
        return F.avg_pool2d(x, kernel_size=pool_size)


class STFT(nn.Module):
    """torchlibrosa.stft.STFT's parameters (conv_real / conv_imag: the DFT of a periodic Hann frame)."""
    def __init__(self, n_fft, tiny):
        super().__init__()
        bins = n_fft // 2 + 1
        self.conv_real = nn.Conv1d(1, bins, n_fft, stride=HOP, bias=False)
        self.conv_imag = nn.Conv1d(1, bins, n_fft, stride=HOP, bias=False)
        if not tiny:
            n = np.arange(n_fft)
            w = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)
            k = np.arange(bins)[:, None]
            self.conv_real.weight.data = torch.tensor(np.cos(2 * np.pi * k * n / n_fft) * w, dtype=torch.float32)[:, None, :]
            self.conv_imag.weight.data = torch.tensor(-np.sin(2 * np.pi * k * n / n_fft) * w, dtype=torch.float32)[:, None, :]
        for p in self.parameters():
            p.requires_grad = False


class Spectrogram(nn.Module):
    def __init__(self, tiny):
        super().__init__()
        self.stft = STFT(N_FFT, tiny)


class LogmelFilterBank(nn.Module):
    def __init__(self):
        super().__init__()
        fb = torchaudio.functional.melscale_fbanks(N_FFT // 2 + 1, FMIN, FMAX, N_MELS, SR, norm='slaney', mel_scale='slaney')
        self.melW = nn.Parameter(fb.float(), requires_grad=False)  # [513, 64], librosa's mel.T


class Panns(nn.Module):
    """Cnn6 / Cnn10 / Cnn14 of pytorch/models.py; forward takes the log-mel (batch, 1, time, mel)."""
    def __init__(self, arch, width=1.0, classes=CLASSES, tiny_stft=True):
        super().__init__()
        self.arch = arch
        self.spectrogram_extractor = Spectrogram(tiny_stft)
        self.logmel_extractor = LogmelFilterBank()
        self.bn0 = nn.BatchNorm2d(N_MELS)
        base = {'Cnn6': [64, 128, 256, 512], 'Cnn10': [64, 128, 256, 512], 'Cnn14': [64, 128, 256, 512, 1024, 2048]}[arch]
        ch = [max(1, round(c * width)) for c in base]
        block = ConvBlock5x5 if arch == 'Cnn6' else ConvBlock
        ins = [1] + ch[:-1]
        for i, (a, b) in enumerate(zip(ins, ch)):
            setattr(self, f'conv_block{i + 1}', block(a, b))
        self.n_blocks = len(ch)
        self.fc1 = nn.Linear(ch[-1], ch[-1], bias=True)
        self.fc_audioset = nn.Linear(ch[-1], classes, bias=True)
        init_bn(self.bn0); init_layer(self.fc1); init_layer(self.fc_audioset)

    def forward(self, x):
        x = x.transpose(1, 3)
        x = self.bn0(x)
        x = x.transpose(1, 3)
        for i in range(self.n_blocks):
            last = self.arch == 'Cnn14' and i == self.n_blocks - 1
            x = getattr(self, f'conv_block{i + 1}')(x, pool_size=(1, 1) if last else (2, 2), pool_type='avg')
            x = F.dropout(x, p=0.2, training=self.training)
        x = torch.mean(x, dim=3)
        (x1, _) = torch.max(x, dim=2)
        x2 = torch.mean(x, dim=2)
        x = x1 + x2
        x = F.dropout(x, p=0.5, training=self.training)
        x = F.relu_(self.fc1(x))
        embedding = F.dropout(x, p=0.5, training=self.training)
        return self.fc_audioset(embedding)  # logits; clipwise_output = sigmoid(logits)


def randomize(model, gen, inputs):
    """Random weights and BatchNorm statistics, so every mapped tensor matters. The statistics
    are first measured on the fixture inputs (each BN in training mode, cumulative average, no
    dropout), then perturbed: random ones far from the activations' scale would let the signal
    die in the deep, narrow test networks, and the logits would not depend on the input."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    model.eval()
    with torch.no_grad():
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        for x in inputs:
            model(x)
        for m in bns:
            m.eval()
            m.momentum = 0.1
            std = m.running_var.sqrt()
            m.running_mean.add_(0.2 * std * torch.randn(m.num_features, generator=gen))
            m.running_var.mul_(0.5 + torch.rand(m.num_features, generator=gen))
            m.weight.copy_(0.5 + torch.rand(m.num_features, generator=gen))
            m.bias.copy_(0.1 * torch.randn(m.num_features, generator=gen))
            m.num_batches_tracked.fill_(1000)
        for m in (model.fc1, model.fc_audioset):
            m.bias.copy_(0.1 * torch.randn(m.out_features, generator=gen))
        # logits of a few units at most (as a trained tagger's), so a tolerance of 1e-4 is
        # float32 rounding, not a loose relative bound
        top = max(model(x).abs().max().item() for x in inputs)
        model.fc_audioset.weight.mul_(5 / top)


def state_dict_for_saving(model, tiny_stft):
    sd = model.state_dict()
    if tiny_stft:
        for k in ('spectrogram_extractor.stft.conv_real.weight', 'spectrogram_extractor.stft.conv_imag.weight', 'logmel_extractor.melW'):
            sd[k] = torch.zeros(1).expand(*sd[k].shape)  # real shape, one stored value
    return sd


def test_audio():
    n = int(1.2 * SR)
    t = np.arange(n) / SR
    rng = np.random.default_rng(22)
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3150 * t) * (t > 0.5) + 0.05 * rng.standard_normal(n)
    x[: n // 10] *= np.linspace(0, 1, n // 10)
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype('<i2')
    return pcm


def write_wav(path, pcm):
    with wave.open(path, 'wb') as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(SR)
        w.writeframes(pcm.tobytes())


def logmel64(samples):
    """torchaudio's Slaney mel spectrogram in float64, then 10*log10(max(S, 1e-10)) (no top-dB clip)."""
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=SR, n_fft=N_FFT, win_length=N_FFT, hop_length=HOP, f_min=FMIN, f_max=FMAX, n_mels=N_MELS,
        window_fn=torch.hann_window, power=2.0, center=True, pad_mode='reflect', norm='slaney', mel_scale='slaney',
    ).double()
    s = mel(torch.tensor(samples, dtype=torch.float64))  # [64, frames]
    return 10 * torch.log10(torch.clamp(s, min=1e-10))


def embedding(model, db):
    """fc1's output (after ReLU): what `fat2019 embed` writes."""
    model.eval()
    out = {}
    hook = model.fc1.register_forward_hook(lambda m, i, o: out.__setitem__('x', F.relu(o)))
    with torch.no_grad():
        model(torch.tensor(np.ascontiguousarray(db.T), dtype=torch.float32)[None, None])
    hook.remove()
    return out['x'][0].double().numpy().tolist()


def logits(model, db):
    """db: [mel, frames] → PyTorch input (1, 1, frames, mel)."""
    model.eval()
    with torch.no_grad():
        x = torch.tensor(np.ascontiguousarray(db.T), dtype=torch.float32)[None, None]
        return model(x)[0].double().numpy().tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='tests/fixtures/panns')
    ap.add_argument('--full', default=None)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    pcm = test_audio()
    write_wav(os.path.join(args.out, 'clip.wav'), pcm)
    samples = pcm.astype(np.float64) / 32768.0
    db = logmel64(samples).numpy()
    db.astype('<f4').tofile(os.path.join(args.out, 'logmel.f32'))
    gen = torch.Generator().manual_seed(22)
    input2 = (-40 + 15 * torch.randn(N_MELS, 45, generator=gen, dtype=torch.float64)).numpy()
    input2.astype('<f4').tofile(os.path.join(args.out, 'input2.f32'))
    calibration = [torch.tensor(np.ascontiguousarray(a.T), dtype=torch.float32)[None, None] for a in (db, input2)]
    expected = {
        'sampleRate': SR, 'clip': 'clip.wav', 'logmel': {'file': 'logmel.f32', 'mels': N_MELS, 'frames': int(db.shape[1])},
        'input2': {'file': 'input2.f32', 'mels': N_MELS, 'frames': int(input2.shape[1])}, 'models': [],
    }
    for arch, div, classes in (('Cnn14', 32, CLASSES), ('Cnn10', 16, 10), ('Cnn6', 16, 10)):
        model = Panns(arch, width=1 / div, classes=classes)
        randomize(model, gen, calibration)
        name = f'{arch}_w{div}.pth'
        torch.save({'iteration': 0, 'model': state_dict_for_saving(model, True)}, os.path.join(args.out, name))
        expected['models'].append({
            'file': name, 'arch': f'panns{arch}', 'widthMultiplier': 1 / div, 'numClasses': classes,
            'logitsClip': logits(model, db.astype(np.float32)), 'logitsInput2': logits(model, input2.astype(np.float32)),
            'embeddingClip': embedding(model, db.astype(np.float32)),
        })
        print(name, os.path.getsize(os.path.join(args.out, name)), 'bytes')
    # Trainable parameters of the full-size networks (527 classes), the front end's frozen tensors left out.
    expected['fullSizeParams'] = {
        f'panns{arch}': sum(p.numel() for p in Panns(arch, width=1).parameters() if p.requires_grad) for arch in ('Cnn14', 'Cnn10', 'Cnn6')
    }
    print('full-size parameters', expected['fullSizeParams'])
    with open(os.path.join(args.out, 'expected.json'), 'w') as f:
        json.dump(expected, f)
    if args.full:
        os.makedirs(args.full, exist_ok=True)
        model = Panns('Cnn14', width=1, tiny_stft=False)
        randomize(model, gen, calibration)
        torch.save({'iteration': 0, 'model': model.state_dict()}, os.path.join(args.full, 'Cnn14_full.pth'))
        db.astype('<f4').tofile(os.path.join(args.full, 'logmel.f32'))
        with open(os.path.join(args.full, 'expected.json'), 'w') as f:
            json.dump({'file': 'Cnn14_full.pth', 'arch': 'pannsCnn14', 'mels': N_MELS, 'frames': int(db.shape[1]),
                       'logits': logits(model, db.astype(np.float32))}, f)
        print('full-size Cnn14 written to', args.full)


if __name__ == '__main__':
    main()
