#!/usr/bin/python3
"""Fixtures for importing PyTorch / fastai v1 weights (lib/io/torchFile.ts, lib/models/import/).

Builds CNN-model-1 and VGG16-BN the way the reference builds them with fastai v1.0.51's
`create_cnn` (body + fastai head), with random weights and random BatchNorm statistics, and
saves them in each file kind `fat2019 import-weights` reads:

  <net>_export.pkl     fastai `learn.export()`-style pickle, PyTorch's LEGACY serialization
                       (torch.save(..., _use_new_zipfile_serialization=False)), storages tagged
                       'cuda:0' (as a GPU machine writes them), fake `fastai.*` classes, imagenet
                       normalize stats, y_proc[0].classes
  <net>_learnsave.pth  fastai `learn.save()`-style {'model': state_dict, 'opt': ...}, legacy format
  <net>_state_dict.pt  a plain state_dict, zip format (the current torch.save default)

plus PyTorch's logits for fixed inputs (expected.json, inputs.u8) and hostile files:

  hostile_os_system.pkl    a pickle whose REDUCE calls posix.system
  hostile_eval.pkl         a pickle whose REDUCE calls builtins.eval
  hostile_short_storage.pt a zip-format state_dict whose first storage is shorter than its tensor
  mismatch_export.pkl      an export of a CNN whose third block has 12 instead of 16 channels

Committed fixtures are width-reduced (widths / 16) so that `npm test` needs no Python.
`--full DIR` also writes the full-size networks to DIR (not committed) and, with `--check`,
runs scripts/check-torch-import.ts on them (logits of the project vs PyTorch's).

Usage (Debian: apt-get install python3-torch python3-torchvision; fastai is not needed):
  /usr/bin/python3 scripts/make-torch-fixtures.py [--out tests/fixtures/torchimport] [--full /tmp/full --check]
"""
import argparse
import collections
import functools
import json
import os
import subprocess
import sys
import types
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.vgg import make_layers

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
VGG16_CFG = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M']
NUM_CLASSES = 80
N_INPUTS = 2
H = W = 128


# ---- fake fastai v1.0.51 classes (pickled by module + name, as in the author's files) ----
def fake_module(name):
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    parent, _, child = name.rpartition('.')
    if parent:
        setattr(sys.modules[parent], child, mod)
    return mod


for _name in ['fastai', 'fastai.layers', 'fastai.basic_train', 'fastai.data_block', 'fastai.vision',
              'fastai.vision.data', 'fastai.callbacks', 'fastai.callbacks.hooks']:
    fake_module(_name)


class AdaptiveConcatPool2d(nn.Module):
    "fastai.layers.AdaptiveConcatPool2d: cat([max, avg], channel)."
    def __init__(self, sz=None):
        super().__init__()
        self.output_size = sz or 1
        self.ap = nn.AdaptiveAvgPool2d(self.output_size)
        self.mp = nn.AdaptiveMaxPool2d(self.output_size)

    def forward(self, x):
        return torch.cat([self.mp(x), self.ap(x)], 1)


class Flatten(nn.Module):
    "fastai.layers.Flatten"
    def __init__(self, full=False):
        super().__init__()
        self.full = full

    def forward(self, x):
        return x.view(-1) if self.full else x.view(x.size(0), -1)


class FlattenedLoss:
    def __init__(self, func, axis=-1):
        self.func, self.axis = func, axis


class Learner:
    pass


class Recorder:
    pass


class MultiCategoryProcessor:
    def __init__(self, classes):
        self.classes = classes
        self.c2i = {v: k for k, v in enumerate(classes)}


class ImageList:
    pass


class MultiCategoryList:
    pass


for _cls, _mod in [(AdaptiveConcatPool2d, 'fastai.layers'), (Flatten, 'fastai.layers'),
                   (FlattenedLoss, 'fastai.layers'), (Learner, 'fastai.basic_train'),
                   (Recorder, 'fastai.basic_train'), (MultiCategoryProcessor, 'fastai.data_block'),
                   (MultiCategoryList, 'fastai.data_block'), (ImageList, 'fastai.vision.data')]:
    _cls.__module__ = _mod
    setattr(sys.modules[_mod], _cls.__name__, _cls)


# ---- the reference networks (module tree as fastai's create_cnn makes it) ----
class ConvBlock(nn.Module):
    "CNN-model-1's block (the author's code defines it in __main__ of the training notebook)."
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, 1, 1), nn.BatchNorm2d(out_channels), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(out_channels, out_channels, 3, 1, 1), nn.BatchNorm2d(out_channels), nn.ReLU())

    def forward(self, x):
        return F.avg_pool2d(self.conv2(self.conv1(x)), 2)


def scaled(base, m):
    return max(1, round(base * m))


def fastai_head(nf, hidden, nc):
    "fastai v1 create_head(nf, nc): lin_ftrs [nf, 512, nc], ps [0.25, 0.5]."
    return nn.Sequential(
        AdaptiveConcatPool2d(), Flatten(),
        nn.BatchNorm1d(nf), nn.Dropout(0.25), nn.Linear(nf, hidden), nn.ReLU(inplace=True),
        nn.BatchNorm1d(hidden), nn.Dropout(0.5), nn.Linear(hidden, nc))


def cnn_model1(m, widths=(64, 128, 256, 512)):
    chans = [3] + [scaled(w, m) for w in widths]
    conv = nn.Sequential(*[ConvBlock(chans[i], chans[i + 1]) for i in range(4)])
    body = nn.Sequential(conv)  # create_body: children of Classifier up to its pooling layer
    return nn.Sequential(body, fastai_head(2 * chans[-1], scaled(512, m), NUM_CLASSES))


def vgg16bn(m):
    cfg = [v if v == 'M' else scaled(v, m) for v in VGG16_CFG]
    features = make_layers(cfg, batch_norm=True)  # torchvision's vgg16_bn().features
    body = nn.Sequential(features)  # create_body(vgg16_bn, cut=-1) with torchvision 0.2 (no avgpool)
    return nn.Sequential(body, fastai_head(2 * scaled(512, m), scaled(512, m), NUM_CLASSES))


def randomize(model, gen):
    "Random weights and random BatchNorm statistics (eval-mode outputs then depend on all four)."
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.1)
            elif isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n = mod.num_features
                mod.weight.copy_(0.5 + torch.rand(n, generator=gen))
                mod.bias.copy_(torch.randn(n, generator=gen) * 0.1)
                mod.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
                mod.running_var.copy_(0.5 + torch.rand(n, generator=gen))
                mod.num_batches_tracked.fill_(1234)
    return model.eval()


def logits(model, images_u8, normalize):
    "images_u8 [N, H, W] uint8 → logits [N, C]: /255, 3 identical channels, optional imagenet stats."
    x = torch.from_numpy(images_u8.astype(np.float32) / 255.0)[:, None].repeat(1, 3, 1, 1)
    if normalize:
        x = (x - torch.tensor(IMAGENET_MEAN)[None, :, None, None]) / torch.tensor(IMAGENET_STD)[None, :, None, None]
    with torch.no_grad():
        return model(x).double().numpy()


def lwlrap(y_pred, y_true):
    "A metric function the export references (fastai pickles it by module + name)."
    raise NotImplementedError


class CudaTags:
    "Makes torch.save tag every storage 'cuda:0', as a GPU machine does (the data stays on the CPU)."
    def __enter__(self):
        self.saved = torch.serialization.location_tag
        torch.serialization.location_tag = lambda storage: 'cuda:0'

    def __exit__(self, *exc):
        torch.serialization.location_tag = self.saved


def save_legacy(obj, path, cuda=True):
    if cuda:
        with CudaTags():
            torch.save(obj, path, _use_new_zipfile_serialization=False)
    else:
        torch.save(obj, path, _use_new_zipfile_serialization=False)


def export_state(model, classes, classes_as_numpy):
    "What fastai v1.0.51 learn.export() pickles (basic_train.py, Learner.export)."
    cls_list = np.array(classes) if classes_as_numpy else list(classes)
    return {
        'opt_func': functools.partial(torch.optim.Adam, betas=(0.9, 0.99)),
        'loss_func': FlattenedLoss(nn.BCEWithLogitsLoss(), axis=-1),
        'metrics': [lwlrap],
        'true_wd': True,
        'bn_wd': True,
        'wd': np.float64(0.01),
        'train_bn': True,
        'model_dir': 'models',
        'callback_fns': [functools.partial(Recorder, add_time=True)],
        'cb_state': {},
        'model': model,
        'data': {
            'x_cls': ImageList, 'x_proc': [], 'y_cls': MultiCategoryList,
            'y_proc': [MultiCategoryProcessor(cls_list)],
            'tfms': [], 'tfm_y': False, 'tfmargs': {'size': np.int64(128), 'padding_mode': 'zeros'},
            'normalize': {'mean': torch.tensor(IMAGENET_MEAN), 'std': torch.tensor(IMAGENET_STD), 'do_x': True, 'do_y': False},
        },
        'cls': Learner,
    }


def learn_save_state(model):
    "fastai learn.save(with_opt=True): {'model': state_dict, 'opt': optimizer state_dict}."
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    return {'model': model.state_dict(), 'opt': opt.state_dict()}


def write_set(out, prefix, model, classes, images, classes_as_numpy):
    save_legacy(export_state(model, classes, classes_as_numpy), os.path.join(out, f'{prefix}_export.pkl'))
    save_legacy(learn_save_state(model), os.path.join(out, f'{prefix}_learnsave.pth'))
    torch.save(model.state_dict(), os.path.join(out, f'{prefix}_state_dict.pt'))
    # Round trip through torch.load: the files are what PyTorch itself reads back.
    back = torch.load(os.path.join(out, f'{prefix}_export.pkl'), map_location='cpu')['model']
    assert np.array_equal(logits(back, images, True), logits(model, images, True))
    return {
        'logitsNormalized': logits(model, images, True).tolist(),
        'logitsRaw': logits(model, images, False).tolist(),
    }


class Evil:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def write_hostile(out, gen, classes):
    import pickle
    with open(os.path.join(out, 'hostile_os_system.pkl'), 'wb') as f:
        pickle.dump({'model': Evil(os.system, 'echo pwned > /tmp/fat2019-pwned')}, f, protocol=2)
    with open(os.path.join(out, 'hostile_eval.pkl'), 'wb') as f:
        pickle.dump([Evil(eval, '__import__("os").system("echo pwned")')], f, protocol=2)
    # A zip state_dict whose first storage holds fewer bytes than its tensor needs.
    sd = collections.OrderedDict(weight=torch.randn(8, 4, generator=gen), bias=torch.randn(8, generator=gen))
    tmp = os.path.join(out, 'tmp_short.pt')
    torch.save(sd, tmp)
    with zipfile.ZipFile(tmp) as zin, zipfile.ZipFile(os.path.join(out, 'hostile_short_storage.pt'), 'w', zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith('/data/0'):
                data = data[:len(data) // 2]
            zout.writestr(info.filename, data)
    os.remove(tmp)
    # An export whose third conv block has 12 channels where CNN-model-1 (width / 16) has 16.
    wrong = randomize(cnn_model1(1 / 16, widths=(64, 128, 192, 512)), gen)
    save_legacy(export_state(wrong, classes, False), os.path.join(out, 'mismatch_export.pkl'))


def protocol_sample():
    "One object using every kind of value torch/fastai pickles hold, for each pickle protocol."
    shared = [7, 8]
    return {
        'ints': [0, 1, -1, 255, 256, 65535, 65536, 2 ** 31 - 1, -2 ** 31, 2 ** 40, -2 ** 40],
        'big': 2 ** 70,
        'floats': [0.5, -1e300, 3.25],
        'str': 'h\u00e9llo \u2713',
        'bytes': b'\x00\xff\x10',
        'tuple': (1, (2, 3), ()),
        'set': {1, 2},
        'frozenset': frozenset({3}),
        'none': None,
        'bools': [True, False],
        'od': collections.OrderedDict([('b', 1), ('a', 2)]),
        'shared': [shared, shared],
        'np_f32': np.array([[1.5, -2.0], [0.25, 8.0]], dtype=np.float32),
        'np_i64': np.array([1, -2, 3], dtype=np.int64),
        'np_str': np.array(['Bark', 'Meow']),
        'np_scalar': np.float64(0.125),
        'partial': functools.partial(collections.OrderedDict, a=1),
    }


PROTOCOL_EXPECTED = {
    'ints': [0, 1, -1, 255, 256, 65535, 65536, 2 ** 31 - 1, -2 ** 31, 2 ** 40, -2 ** 40],
    'big': str(2 ** 70),
    'floats': [0.5, -1e300, 3.25],
    'str': 'h\u00e9llo \u2713',
    'bytes': [0, 255, 16],
    'tuple': [1, [2, 3], []],
    'set': [1, 2], 'frozenset': [3], 'none': None, 'bools': [True, False],
    'od': [['b', 1], ['a', 2]],
    'shared': [[7, 8], [7, 8]],
    'np_f32': {'shape': [2, 2], 'data': [1.5, -2.0, 0.25, 8.0]},
    'np_i64': {'shape': [3], 'data': [1, -2, 3]},
    'np_str': {'shape': [2], 'data': ['Bark', 'Meow']},
    'np_scalar': 0.125,
    'partial': 'collections.OrderedDict',
}


def write_protocols(out):
    import pickle
    for proto in range(0, 6):
        with open(os.path.join(out, f'protocol{proto}.pkl'), 'wb') as f:
            pickle.dump(protocol_sample(), f, protocol=proto)
    # fastai transforms keep their functions' type annotations (typing generics, NoneType).
    import typing
    with open(os.path.join(out, 'annotations.pkl'), 'wb') as f:
        pickle.dump({'size': typing.Optional[int], 'pair': typing.Tuple[int, float], 'types': [int, str, type(None)]}, f, protocol=2)
    # Views share one storage with strides and offsets; float16/float64 storages convert.
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 4
    save_legacy({'x': x, 'xt': x.t(), 'col': x[1:, 2], 'half': x.half(), 'double': x.double()}, os.path.join(out, 'strided.pth'))
    expected = dict(PROTOCOL_EXPECTED, strided={
        'x': x.flatten().tolist(), 'xt': x.t().flatten().tolist(), 'col': x[1:, 2].flatten().tolist(),
        'half': x.half().float().flatten().tolist(), 'double': x.flatten().tolist()})
    with open(os.path.join(out, 'protocols.json'), 'w') as f:
        json.dump(expected, f)
        f.write('\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='tests/fixtures/torchimport')
    ap.add_argument('--full', help='also write full-size networks (not committed) to this folder')
    ap.add_argument('--check', action='store_true', help='with --full: run scripts/check-torch-import.ts on them')
    args = ap.parse_args()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(2019)
    rng = np.random.default_rng(2019)
    with open(os.path.join(os.path.dirname(__file__), '..', 'data', 'fsdkaggle2019', 'vocabulary.csv')) as f:
        classes = sorted(line.strip().split(',')[1] for line in f if line.strip())
    assert len(classes) == NUM_CLASSES, len(classes)
    images = rng.integers(0, 256, size=(N_INPUTS, H, W), dtype=np.uint8)

    def write_all(out, m):
        os.makedirs(out, exist_ok=True)
        images.tofile(os.path.join(out, 'inputs.u8'))
        expected = {
            'note': 'written by scripts/make-torch-fixtures.py; logits of PyTorch ' + torch.__version__,
            'inputs': {'file': 'inputs.u8', 'count': N_INPUTS, 'height': H, 'width': W},
            'widthMultiplier': m, 'classes': classes,
            'normalization': {'mean': IMAGENET_MEAN, 'std': IMAGENET_STD},
            'cnnModel1': write_set(out, 'cnnModel1', randomize(cnn_model1(m), gen), classes, images, True),
            'vgg16bn': write_set(out, 'vgg16bn', randomize(vgg16bn(m), gen), classes, images, False),
        }
        with open(os.path.join(out, 'expected.json'), 'w') as f:
            json.dump(expected, f)
            f.write('\n')

    write_all(args.out, 1 / 16)
    write_hostile(args.out, gen, classes)
    write_protocols(args.out)
    print(f'wrote {args.out}')
    if args.full:
        write_all(args.full, 1)
        print(f'wrote {args.full} (full size)')
        if args.check:
            root = os.path.join(os.path.dirname(__file__), '..')
            subprocess.run(['node', '--import', 'tsx', 'scripts/check-torch-import.ts', os.path.abspath(args.full)], cwd=root, check=True)


if __name__ == '__main__':
    main()
