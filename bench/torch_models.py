"""PyTorch references of every network in lib/models (the registry), for parameter-count
fixtures (scripts/torch-param-counts.py) and side-by-side benchmarks (bench/train.ts).

    from torch_models import build, NAMES
    model = build('resnet18', num_classes=80, width=1.0)   # NCHW input [B, 3, 128, 128]

torchvision's own definitions for resnet18/34 and mobilenet_v2; faithful re-definitions for the
rest: CNN-model-1 and VGG16-BN with the fastai v1 head (the FAT2019 12th-place solution), the
7th-place CNN, and XResNet-18/50 following fastai's published `xresnet` (fastai is not a Debian
package). `width` multiplies conv channels as lib/models does (round(c·w), at least 1;
MobileNetV2 uses torchvision's own width_mult); the fastai head keeps 512 hidden units.
Requires Debian's python3-torch and python3-torchvision.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

NAMES = ['cnnModel1', 'vgg16bn', 'resnet18', 'resnet34', 'mobilenetv2', 'cnn7th', 'xresnet18', 'xresnet50',
         'pannsCnn6', 'pannsCnn10', 'pannsCnn14']


def scaled(c, width):
    return max(1, round(c * width))


class AdaptiveConcatPool2d(nn.Module):
    """fastai: concat(global max pool, global avg pool)."""

    def forward(self, x):
        return torch.cat([F.adaptive_max_pool2d(x, 1), F.adaptive_avg_pool2d(x, 1)], 1)


def fastai_head(nf, num_classes, hidden=512, ps=(0.25, 0.5)):
    """fastai v1 create_head(nf, n_out, lin_ftrs=[hidden], ps) on nf = 2 × channels."""
    return nn.Sequential(
        AdaptiveConcatPool2d(), nn.Flatten(),
        nn.BatchNorm1d(nf), nn.Dropout(ps[0]), nn.Linear(nf, hidden), nn.ReLU(inplace=True),
        nn.BatchNorm1d(hidden), nn.Dropout(ps[1]), nn.Linear(hidden, num_classes))


def conv_bn_relu(ci, co, bias):
    return [nn.Conv2d(ci, co, 3, padding=1, bias=bias), nn.BatchNorm2d(co), nn.ReLU(inplace=True)]


def cnn_model1(num_classes, width):
    layers, ci = [], 3
    for c in [64, 128, 256, 512]:
        co = scaled(c, width)
        layers += conv_bn_relu(ci, co, True) + conv_bn_relu(co, co, True) + [nn.AvgPool2d(2)]
        ci = co
    return nn.Sequential(*layers, fastai_head(2 * ci, num_classes))


def vgg16bn(num_classes, width):
    cfg = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M']
    layers, ci = [], 3
    for c in cfg:
        if c == 'M':
            layers.append(nn.MaxPool2d(2))
        else:
            co = scaled(c, width)
            layers += conv_bn_relu(ci, co, True)
            ci = co
    return nn.Sequential(*layers, fastai_head(2 * ci, num_classes))


def resnet(name, num_classes, width):
    if width == 1:
        return getattr(torchvision.models, name)(num_classes=num_classes)
    # torchvision has no width multiplier for ResNet: scale the stage widths by hand.
    block, layers = torchvision.models.resnet.BasicBlock, {'resnet18': [2, 2, 2, 2], 'resnet34': [3, 4, 6, 3]}[name]

    class NarrowResNet(torchvision.models.ResNet):
        def __init__(self):
            nn.Module.__init__(self)
            self._norm_layer = nn.BatchNorm2d
            self.dilation, self.groups, self.base_width = 1, 1, 64
            self.inplanes = scaled(64, width)
            self.conv1 = nn.Conv2d(3, self.inplanes, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(self.inplanes)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._make_layer(block, scaled(64, width), layers[0])
            self.layer2 = self._make_layer(block, scaled(128, width), layers[1], stride=2)
            self.layer3 = self._make_layer(block, scaled(256, width), layers[2], stride=2)
            self.layer4 = self._make_layer(block, scaled(512, width), layers[3], stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(scaled(512, width), num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

    return NarrowResNet()


class ChannelStem(nn.Module):
    """FAT2018 8th place: two 1×1 convs turn the 1-channel image into 3 channels."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 3, 1), nn.Conv2d(3, 3, 1)

    def forward(self, x):
        return self.conv2(F.relu(self.conv1(x)))


def mobilenetv2(num_classes, width, channel_stem=False):
    net = torchvision.models.mobilenet_v2(num_classes=num_classes, width_mult=width)
    return nn.Sequential(ChannelStem(), net) if channel_stem else net


class Cnn7thBlock(nn.Module):
    def __init__(self, ci, co, pool):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(ci, co, 3, padding=1, bias=False), nn.BatchNorm2d(co), nn.ReLU(inplace=True),
            nn.Conv2d(co, co, 3, padding=1, bias=False), nn.BatchNorm2d(co), nn.ReLU(inplace=True))
        self.pool = pool

    def forward(self, x):
        x = self.convs(x)
        return F.max_pool2d(x, self.pool) + F.avg_pool2d(x, self.pool)


def cnn7th(num_classes, width):
    blocks, ci = [], 3
    for c, pool in [(64, (1, 1)), (128, (4, 1)), (256, (1, 3)), (512, (4, 1)), (512, (1, 3))]:
        co = scaled(c, width)
        blocks.append(Cnn7thBlock(ci, co, pool))
        ci = co
    return nn.Sequential(*blocks, fastai_head(2 * ci, num_classes))


# --- XResNet, after fastai.vision.models.xresnet (fastai 2.x) -----------------------------

class Mish(nn.Module):
    def forward(self, x):
        return x * torch.tanh(F.softplus(x))


def conv_layer(ni, nf, ks=3, stride=1, act=None, zero_bn=False):
    """fastai ConvLayer: conv (no bias before BN) → BN (γ = 0 for BatchZero) → activation."""
    bn = nn.BatchNorm2d(nf)
    nn.init.constant_(bn.weight, 0. if zero_bn else 1.)
    layers = [nn.Conv2d(ni, nf, ks, stride=stride, padding=ks // 2, bias=False), bn]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class ResBlock(nn.Module):
    def __init__(self, expansion, ni, nf, stride, act):
        super().__init__()
        nf_out = nf * expansion
        if expansion == 1:
            path = [conv_layer(ni, nf, 3, stride, act), conv_layer(nf, nf_out, 3, zero_bn=True)]
        else:
            path = [conv_layer(ni, nf, 1, act=act), conv_layer(nf, nf, 3, stride, act), conv_layer(nf, nf_out, 1, zero_bn=True)]
        self.convpath = nn.Sequential(*path)
        idpath = []
        if stride != 1:
            idpath.append(nn.AvgPool2d(stride, ceil_mode=True))
        if ni != nf_out:
            idpath.append(conv_layer(ni, nf_out, 1))
        self.idpath = nn.Sequential(*idpath)
        self.act = act()

    def forward(self, x):
        return self.act(self.convpath(x) + self.idpath(x))


def xresnet(name, num_classes, width, mish=False):
    expansion, layers = {'xresnet18': (1, [2, 2, 2, 2]), 'xresnet50': (4, [3, 4, 6, 3])}[name]
    act = Mish if mish else (lambda: nn.ReLU(inplace=True))
    w = lambda c: scaled(c, width)
    mods = [conv_layer(3, w(32), 3, 2, act), conv_layer(w(32), w(32), 3, 1, act), conv_layer(w(32), w(64), 3, 1, act),
            nn.MaxPool2d(3, 2, 1)]
    ci = w(64)
    for stage, (base, count) in enumerate(zip([64, 128, 256, 512], layers)):
        for b in range(count):
            mods.append(ResBlock(expansion, ci, w(base), 2 if b == 0 and stage > 0 else 1, act))
            ci = w(base) * expansion
    mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.0), nn.Linear(ci, num_classes)]
    model = nn.Sequential(*mods)
    for m in model.modules():  # fastai init_cnn: Kaiming normal (fan_in) for convs and linears, zero biases
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


class PannsBlock(nn.Module):
    """PANNs' ConvBlock (two 3x3 convs) or ConvBlock5x5 (one 5x5 conv), each conv -> BN -> ReLU, then a 2x2 average pool
    (none for Cnn14's last block) and dropout 0.2, as in qiuqiangkong/audioset_tagging_cnn pytorch/models.py."""

    def __init__(self, ci, co, kernel, pool):
        super().__init__()
        layers = []
        for a in ([ci] if kernel == 5 else [ci, co]):
            layers += [nn.Conv2d(a, co, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(co), nn.ReLU(inplace=True)]
        if pool > 1:
            layers.append(nn.AvgPool2d(pool))
        layers.append(nn.Dropout(0.2))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


class Panns(nn.Module):
    """PANNs Cnn6/Cnn10/Cnn14 (Kong et al. 2020) in lib/models/panns.ts' layout: input (batch, 1, mel, time), bn0 over
    the mel bands, the conv blocks, mean over frequency, max + mean over time, fc1 (ReLU), fc_audioset; dropout 0.5
    before fc1 and before fc_audioset."""

    def __init__(self, name, num_classes, width, mels):
        super().__init__()
        base = [64, 128, 256, 512, 1024, 2048] if name == 'pannsCnn14' else [64, 128, 256, 512]
        ch = [scaled(c, width) for c in base]
        kernel = 5 if name == 'pannsCnn6' else 3
        pools = [2] * (len(ch) - 1) + [1 if name == 'pannsCnn14' else 2]
        self.bn0 = nn.BatchNorm2d(mels)
        self.blocks = nn.Sequential(*[PannsBlock(a, b, kernel, p) for a, b, p in zip([1] + ch[:-1], ch, pools)])
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(ch[-1], ch[-1]), nn.ReLU(inplace=True), nn.Dropout(0.5),
                                  nn.Linear(ch[-1], num_classes))

    def forward(self, x):
        x = self.bn0(x.transpose(1, 2)).transpose(1, 2)
        x = self.blocks(x).mean(dim=2)
        x = x.amax(dim=2) + x.mean(dim=2)
        return self.head(x)


def input_channels(name):
    """Channels of the network's input: the PANNs take the dB matrix itself, the others the image on 3 channels."""
    return 1 if name.startswith('panns') else 3


def build(name, num_classes=80, width=1.0, **options):
    """The PyTorch network registered as `name` in lib/models (NCHW input, logits out).
    options: channel_stem=True (mobilenetv2), mish=True (xresnet18/50), mels=N (the PANNs' bn0; default 64)."""
    if name == 'cnnModel1':
        return cnn_model1(num_classes, width)
    if name == 'vgg16bn':
        return vgg16bn(num_classes, width)
    if name in ('resnet18', 'resnet34'):
        return resnet(name, num_classes, width)
    if name == 'mobilenetv2':
        return mobilenetv2(num_classes, width, options.get('channel_stem', False))
    if name == 'cnn7th':
        return cnn7th(num_classes, width)
    if name in ('xresnet18', 'xresnet50'):
        return xresnet(name, num_classes, width, options.get('mish', False))
    if name.startswith('panns') and name in NAMES:
        return Panns(name, num_classes, width, options.get('mels', 64))
    raise ValueError(f"unknown network '{name}' (known: {', '.join(NAMES)})")


def trainable_params(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
