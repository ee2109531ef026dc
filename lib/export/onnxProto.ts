/**
 * The ONNX protobuf: the official schema (./onnx.proto, ONNX 1.12, IR version 8) read by
 * protobufjs, and small typed builders for the messages the exporter writes. Field names are
 * the schema's (snake_case, `keepCase`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as protobuf from 'protobufjs';

/** IR version of ./onnx.proto. */
export const ONNX_IR_VERSION = 8;
/** Default-domain opset the exporter writes (the newest ONNX 1.12 knows, so its checker reads the files). */
export const ONNX_OPSET = 17;

/** TensorProto.DataType values used here. */
const DATA_TYPE = { FLOAT: 1, INT64: 7 } as const;
/** AttributeProto.AttributeType values used here. */
const ATTR_TYPE = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export interface TensorProto {
  name: string;
  dims: number[];
  data_type: number;
  raw_data?: Uint8Array;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

export interface NodeProto {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
  domain?: string;
}

/** A dimension: a fixed size, or a named symbolic one (`'batch'`). */
export type Dim = number | string;

export interface ValueInfoProto {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: Array<{ dim_value?: number; dim_param?: string }> } } };
  doc_string?: string;
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  doc_string?: string;
}

export interface ModelProto {
  ir_version: number;
  opset_import: Array<{ domain: string; version: number }>;
  producer_name: string;
  producer_version: string;
  doc_string?: string;
  graph: GraphProto;
  metadata_props: Array<{ key: string; value: string }>;
}

let modelType: protobuf.Type | null = null;

/** The ModelProto message type, parsed once from ./onnx.proto. */
function modelProtoType(): protobuf.Type {
  if (!modelType) {
    const schema = readFileSync(join(__dirname, 'onnx.proto'), 'utf8');
    modelType = protobuf.parse(schema, { keepCase: true }).root.lookupType('onnx.ModelProto');
  }
  return modelType;
}

/** Serialized bytes of `model` (a `.onnx` file). Throws when a field does not fit the schema. */
export function encodeModel(model: ModelProto): Uint8Array {
  const type = modelProtoType();
  const problem = type.verify(model);
  if (problem) throw new Error(`ONNX model does not fit the schema: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/**
 * Parses `.onnx` bytes (int64 fields as numbers, bytes as Uint8Array). Throws with `name` when
 * the bytes are not a ModelProto.
 */
export function decodeModel(bytes: Uint8Array, name: string): ModelProto {
  const type = modelProtoType();
  let message: protobuf.Message;
  try {
    message = type.decode(bytes);
  } catch (err) {
    throw new Error(`${name}: not an ONNX model (${(err as Error).message})`);
  }
  return type.toObject(message, { longs: Number, bytes: Uint8Array as unknown as typeof String, defaults: false, arrays: true }) as ModelProto;
}

/** A float32 initializer `name` of shape `dims` (little-endian raw data, as ONNX stores it). */
export function floatTensor(name: string, dims: readonly number[], values: Float32Array): TensorProto {
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== values.length) throw new Error(`internal: initializer ${name} has ${values.length} values for dims [${dims.join(', ')}]`);
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return { name, dims: [...dims], data_type: DATA_TYPE.FLOAT, raw_data: raw };
}

/** An int64 initializer (shapes, pads of Pad and Reshape). */
export function int64Tensor(name: string, values: readonly number[]): TensorProto {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return { name, dims: [values.length], data_type: DATA_TYPE.INT64, raw_data: raw };
}

/** Node attributes from a plain object: integers → INT, other numbers → FLOAT, arrays → INTS/FLOATS, strings → STRING. */
export function attributes(attrs: Record<string, number | string | readonly number[] | { float: number } | undefined>): AttributeProto[] {
  const out: AttributeProto[] = [];
  for (const [name, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    if (typeof v === 'string') out.push({ name, type: ATTR_TYPE.STRING, s: new TextEncoder().encode(v) });
    else if (typeof v === 'number') out.push(Number.isInteger(v) ? { name, type: ATTR_TYPE.INT, i: v } : { name, type: ATTR_TYPE.FLOAT, f: v });
    else if (Array.isArray(v)) {
      const arr = v as readonly number[];
      out.push(arr.every(Number.isInteger) ? { name, type: ATTR_TYPE.INTS, ints: [...arr] } : { name, type: ATTR_TYPE.FLOATS, floats: [...arr] });
    } else out.push({ name, type: ATTR_TYPE.FLOAT, f: (v as { float: number }).float });
  }
  return out;
}

/** A float tensor's value info, e.g. `valueInfo('input', ['batch', 3, 128, 128])`. */
export function valueInfo(name: string, dims: readonly Dim[], doc?: string): ValueInfoProto {
  return {
    name,
    type: { tensor_type: { elem_type: DATA_TYPE.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
    ...(doc ? { doc_string: doc } : {}),
  };
}

/** The dims of a value info (symbolic dims as their names). */
export function valueInfoDims(info: ValueInfoProto): Dim[] {
  return (info.type?.tensor_type?.shape?.dim ?? []).map((d) => (d.dim_param ? d.dim_param : Number(d.dim_value ?? 0)));
}
