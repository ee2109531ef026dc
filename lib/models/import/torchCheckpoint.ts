/**
 * What a PyTorch / fastai v1 checkpoint holds, independent of parameter names: its parametric
 * layers in forward order, plus the classes and input normalisation a fastai export carries.
 *
 * Three kinds of file (all read by lib/io/torchFile, legacy or zip format):
 * - `state_dict`: an OrderedDict `name → tensor`; layers are the name prefixes in key order.
 * - `learn.save` (fastai v1): `{'model': state_dict, 'opt': optimizer state}`.
 * - `export` (fastai v1 `learn.export()`): `{'model': <nn.Module>, 'data': {'y_proc':
 *   [processor with .classes], 'normalize': {'mean', 'std', 'do_x', …}, …}, 'cls': Learner, …}`;
 *   the module tree is walked depth first in `_modules` order (= forward order for the
 *   nn.Sequential trees fastai's create_cnn builds). A pickled bare nn.Module reads the same way.
 */
import type { InputNormalization } from '../../config';
import type { NdArray } from '../../io/pickle';
import { PyObject } from '../../io/pickle';
import { tensorToFloat32, TorchTensor, type TorchFile } from '../../io/torchFile';

export type TorchLayerKind = 'conv2d' | 'batchnorm' | 'linear' | 'other';

/** One parametric layer of the checkpoint. */
export interface TorchLayer {
  kind: TorchLayerKind;
  /** Module path (`0.0.1.conv1.0`) or state_dict prefix: for messages only. */
  path: string;
  /** Class name (`Conv2d`, `BatchNorm2d`; '' for state_dicts). */
  className: string;
  /** weight, bias, running_mean, running_var (absent ones omitted). */
  tensors: Map<string, TorchTensor>;
  /** Module attributes that change the computation (conv stride/padding, BN eps), when known. */
  attrs: { stride?: number[]; padding?: number[]; dilation?: number[]; groups?: number; eps?: number };
}

/** A pooling module met in a module tree (class and path), for structure checks. */
export interface TorchPooling {
  className: string;
  path: string;
}

export interface TorchCheckpoint {
  kind: 'state_dict' | 'learn.save' | 'export' | 'module';
  layers: TorchLayer[];
  /** Pooling modules in forward order (module trees only; null for state_dicts). */
  poolings: TorchPooling[] | null;
  /** Class names from the export (`data.y_proc[0].classes`), else null. */
  classes: string[] | null;
  /** Input normalisation from the export (`data.normalize` with do_x), else null. */
  normalization: InputNormalization | null;
}

const isTensorMap = (v: unknown): v is Map<unknown, unknown> =>
  v instanceof Map && v.size > 0 && [...v.values()].some((x) => x instanceof TorchTensor);

const isModule = (v: unknown): v is PyObject => v instanceof PyObject && v.attr('_modules') instanceof Map;

/** Reads the layers, classes and normalisation of a loaded torch file; throws naming the file. */
export function readCheckpoint(file: TorchFile): TorchCheckpoint {
  const v = file.value;
  const fail = (m: string): never => {
    throw new Error(`${file.path}: ${m}`);
  };
  if (isModule(v)) return { kind: 'module', ...walkModule(v), classes: null, normalization: null };
  if (!(v instanceof Map)) return fail(`holds ${describe(v)}, not a state_dict, a fastai learn.save file or a fastai export`);
  const model = v.get('model');
  if (isModule(model)) {
    const data = v.get('data');
    return { kind: 'export', ...walkModule(model), classes: exportClasses(data, fail), normalization: exportNormalization(data, fail) };
  }
  if (isTensorMap(model)) return { kind: 'learn.save', layers: stateDictLayers(model, fail), poolings: null, classes: null, normalization: null };
  if (isTensorMap(v)) return { kind: 'state_dict', layers: stateDictLayers(v, fail), poolings: null, classes: null, normalization: null };
  const keys = [...v.keys()].slice(0, 8).map(String).join(', ');
  return fail(`a dict without tensors or a 'model' entry (keys: ${keys}): not a state_dict, a fastai learn.save file or a fastai export`);
}

function describe(v: unknown): string {
  if (v instanceof PyObject) return `a ${v.qualifiedName} object`;
  if (Array.isArray(v)) return 'a list';
  return v === null ? 'None' : typeof v;
}

function kindOf(className: string, tensors: Map<string, TorchTensor>): TorchLayerKind {
  const w = tensors.get('weight');
  if (/^Conv2d$/.test(className) || (!className && w?.shape.length === 4)) return 'conv2d';
  if (/^BatchNorm[12]d$/.test(className) || (!className && tensors.has('running_mean'))) return 'batchnorm';
  if (className === 'Linear' || (!className && w?.shape.length === 2)) return 'linear';
  return 'other';
}

const numList = (v: unknown): number[] | undefined =>
  Array.isArray(v) ? v.map(Number) : typeof v === 'number' ? [v, v] : undefined;

/** Depth-first walk of `_modules`: parametric layers and pooling modules in order. */
function walkModule(root: PyObject): { layers: TorchLayer[]; poolings: TorchPooling[] } {
  const layers: TorchLayer[] = [];
  const poolings: TorchPooling[] = [];
  const visit = (m: PyObject, path: string): void => {
    const tensors = new Map<string, TorchTensor>();
    for (const group of ['_parameters', '_buffers']) {
      const g = m.attr(group);
      if (g instanceof Map) for (const [k, t] of g) if (t instanceof TorchTensor && k !== 'num_batches_tracked') tensors.set(String(k), t);
    }
    if (tensors.size > 0) {
      const groups = m.attr('groups');
      const eps = m.attr('eps');
      layers.push({
        kind: kindOf(m.name, tensors), path: path || '(root)', className: m.name, tensors,
        attrs: {
          stride: numList(m.attr('stride')), padding: numList(m.attr('padding')), dilation: numList(m.attr('dilation')),
          groups: typeof groups === 'number' ? groups : undefined, eps: typeof eps === 'number' ? eps : undefined,
        },
      });
    }
    if (/Pool/.test(m.name)) {
      poolings.push({ className: m.name, path: path || '(root)' });
      if (m.name === 'AdaptiveConcatPool2d') return; // its max + avg children are part of it
    }
    const children = m.attr('_modules') as Map<unknown, unknown>;
    for (const [name, child] of children) {
      if (child instanceof PyObject) visit(child, path ? `${path}.${String(name)}` : String(name));
    }
  };
  visit(root, '');
  return { layers, poolings };
}

/** Groups `prefix.suffix` keys by prefix, in order of first appearance. */
function stateDictLayers(sd: Map<unknown, unknown>, fail: (m: string) => never): TorchLayer[] {
  const byPrefix = new Map<string, Map<string, TorchTensor>>();
  for (const [key, t] of sd) {
    if (!(t instanceof TorchTensor)) continue;
    const name = String(key);
    const dot = name.lastIndexOf('.');
    const prefix = dot < 0 ? '' : name.slice(0, dot);
    const suffix = name.slice(dot + 1);
    if (suffix === 'num_batches_tracked') continue;
    let group = byPrefix.get(prefix);
    if (!group) byPrefix.set(prefix, (group = new Map()));
    group.set(suffix, t);
  }
  if (byPrefix.size === 0) fail('the state_dict holds no tensors');
  return [...byPrefix].map(([path, tensors]) => ({ kind: kindOf('', tensors), path: path || '(root)', className: '', tensors, attrs: {} }));
}

function exportClasses(data: unknown, fail: (m: string) => never): string[] | null {
  const yProc = data instanceof Map ? data.get('y_proc') : data instanceof PyObject ? data.attr('y_proc') : undefined;
  const proc = Array.isArray(yProc) ? yProc[0] : undefined;
  if (!(proc instanceof PyObject)) return null;
  const classes = proc.attr('classes');
  if (classes == null) return null;
  const list = Array.isArray(classes) ? classes : (classes as NdArray).kind === 'ndarray' ? (classes as NdArray).data : null;
  if (!list || !list.every((c) => typeof c === 'string')) return fail('the export\'s data.y_proc[0].classes is not a list of class names');
  return list as string[];
}

function exportNormalization(data: unknown, fail: (m: string) => never): InputNormalization | null {
  const norm = data instanceof Map ? data.get('normalize') : undefined;
  if (!(norm instanceof Map) || norm.get('do_x') === false) return null;
  const vec = (name: string): number[] => {
    const v = norm.get(name);
    const values = v instanceof TorchTensor ? [...tensorToFloat32(v)] : Array.isArray(v) ? v.map(Number) : null;
    if (!values || values.length !== 3 || !values.every(Number.isFinite)) return fail(`the export's data.normalize.${name} is not 3 numbers`);
    return values;
  };
  return { mean: vec('mean'), std: vec('std') };
}
