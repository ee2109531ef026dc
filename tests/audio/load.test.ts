import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeAudio,
  decodeWav,
  encodeWavPcm16,
  kaiserBestWindow,
  loadAudioFile,
  loadWavFileSync,
  readWavInfo,
  resample,
} from '../../lib/audio';

const G = join(__dirname, '..', 'fixtures', 'golden');
const manifest = JSON.parse(readFileSync(join(G, 'manifest.json'), 'utf8'));
const INPUTS: string[] = Object.keys(manifest.inputs);

function bytesOf(rel: string): ArrayBuffer {
  const b = readFileSync(join(G, rel));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
}
const f32 = (rel: string) => new Float32Array(bytesOf(rel));
const f64 = (rel: string) => new Float64Array(bytesOf(rel));
const i32 = (rel: string) => new Int32Array(bytesOf(rel));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A WAV with any fmt chunk and data, for formats our own encoder does not write. */
function wavBytes(opts: { formatTag: number; channels: number; sampleRate: number; bits: number; data: Uint8Array; extensibleSub?: number; extraChunk?: Uint8Array }): Uint8Array {
  const ext = opts.formatTag === 0xfffe;
  const fmtSize = ext ? 40 : 16;
  const extra = opts.extraChunk ?? new Uint8Array(0);
  const total = 12 + 8 + fmtSize + extra.length + 8 + opts.data.length;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  const str = (o: number, s: string) => { for (let i = 0; i < 4; i++) out[o + i] = s.charCodeAt(i); };
  str(0, 'RIFF'); v.setUint32(4, total - 8, true); str(8, 'WAVE');
  str(12, 'fmt '); v.setUint32(16, fmtSize, true);
  v.setUint16(20, opts.formatTag, true); v.setUint16(22, opts.channels, true); v.setUint32(24, opts.sampleRate, true);
  const blockAlign = (opts.bits / 8) * opts.channels;
  v.setUint32(28, opts.sampleRate * blockAlign, true); v.setUint16(32, blockAlign, true); v.setUint16(34, opts.bits, true);
  let p = 36;
  if (ext) {
    v.setUint16(36, 22, true); v.setUint16(38, opts.bits, true); v.setUint32(40, 3, true);
    v.setUint16(44, opts.extensibleSub ?? 1, true);
    out.set([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 46);
    p = 60;
  }
  out.set(extra, p); p += extra.length;
  str(p, 'data'); v.setUint32(p + 4, opts.data.length, true);
  out.set(opts.data, p + 8);
  return out;
}

test('44.1 kHz int16 goldens decode to int16 / 32768 exactly (checked against the trimmed+padded y2)', async () => {
  for (const name of INPUTS) {
    if (name === 'stereo_48k_24bit') continue;
    const y = await loadAudioFile(join(G, 'audio', `${name}.wav`));
    const info = manifest.inputs[name];
    assert.equal(y.length, info.file_frames, name);
    const [start, end] = Array.from(i32(`${name}/trim_idx.i32`));
    const y2 = f32(`${name}/y2.f32`);
    assert.deepEqual(y.subarray(start, end), y2.subarray(info.pad_left, info.pad_left + end - start), name);
    // Every value is k / 32768 for an integer k.
    for (let i = 0; i < y.length; i += 97) assert.ok(Number.isInteger(y[i] * 32768), `${name}[${i}]`);
  }
});

test('stereo 48 kHz 24-bit WAVE_FORMAT_EXTENSIBLE: header, exact float32 mix-down, kaiser_best resampling', async () => {
  const path = join(G, 'audio', 'stereo_48k_24bit.wav');
  const info = readWavInfo(path);
  assert.equal(info.sampleRate, 48000);
  assert.equal(info.channels, 2);
  assert.equal(info.bitsPerSample, 24);
  assert.equal(info.extensible, true);
  assert.equal(info.sampleFormat, 1);
  assert.equal(info.frames, 72000);
  assert.equal(info.durationSec, 1.5);
  assert.equal(info.dataOffset, 80); // fmt (40) and fact chunks come first

  const native = await loadAudioFile(path, { sampleRate: null });
  assert.equal(maxAbsDiff(native, f32('stereo_48k_24bit/y_mono_native.f32')), 0);

  const y = await loadAudioFile(path);
  const ref = f32('stereo_48k_24bit/y_loaded.f32');
  const err = maxAbsDiff(y, ref);
  assert.ok(err <= 1e-6, `y_loaded max abs error ${err} > 1e-6`);
});

test('kaiser_best table regenerated from its formula matches resampy (every 64th entry)', () => {
  const w = kaiserBestWindow();
  assert.equal(w.length, 409601);
  const ref = f64('resampy_kaiser_best_every64.f64');
  let m = 0;
  for (let i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(ref[i] - w[64 * i]));
  assert.ok(m <= 1e-14, `table max abs error ${m}`);
  assert.equal(kaiserBestWindow(), w, 'the table is cached');
});

test('resample: same rate is the identity; 22.05 → 44.1 kHz keeps a 440 Hz sine; lengths as librosa', () => {
  const x = new Float32Array(2205).map((_, i) => Math.sin((2 * Math.PI * 440 * i) / 22050));
  assert.equal(resample(x, 22050, 22050), x);
  const y = resample(x, 22050, 44100);
  assert.equal(y.length, 4410);
  let err = 0;
  for (let i = 400; i < 4000; i++) err = Math.max(err, Math.abs(y[i] - Math.sin((2 * Math.PI * 440 * i) / 44100)));
  assert.ok(err < 1e-3, `upsampled sine error ${err}`);
  assert.equal(resample(new Float32Array(1000), 48000, 44100).length, Math.ceil(1000 * (44100 / 48000)));
  assert.throws(() => resample(x, 0, 44100), /srOrig must be > 0, got 0/);
});

test('WAV formats: 8/16/24/32-bit PCM, float 32/64, extensible float, odd-sized extra chunk', () => {
  const vals = [-1, -0.5, 0, 0.25, 0.5 - 1 / 128];
  const mk = (bits: number, write: (v: DataView, off: number, x: number) => void) => {
    const data = new Uint8Array((vals.length * bits) / 8);
    const v = new DataView(data.buffer);
    vals.forEach((x, i) => write(v, (i * bits) / 8, x));
    return data;
  };
  const cases: [string, Uint8Array][] = [
    ['pcm8', wavBytes({ formatTag: 1, channels: 1, sampleRate: 8000, bits: 8, data: mk(8, (v, o, x) => v.setUint8(o, x * 128 + 128)) })],
    ['pcm16', wavBytes({ formatTag: 1, channels: 1, sampleRate: 8000, bits: 16, data: mk(16, (v, o, x) => v.setInt16(o, x * 32768, true)) })],
    ['pcm24', wavBytes({ formatTag: 1, channels: 1, sampleRate: 8000, bits: 24, data: mk(24, (v, o, x) => { const k = x * 8388608; v.setUint8(o, k & 255); v.setUint8(o + 1, (k >> 8) & 255); v.setInt8(o + 2, k >> 16); }) })],
    ['pcm32', wavBytes({ formatTag: 1, channels: 1, sampleRate: 8000, bits: 32, data: mk(32, (v, o, x) => v.setInt32(o, x * 2147483648, true)) })],
    ['float32', wavBytes({ formatTag: 3, channels: 1, sampleRate: 8000, bits: 32, data: mk(32, (v, o, x) => v.setFloat32(o, x, true)) })],
    ['float64', wavBytes({ formatTag: 3, channels: 1, sampleRate: 8000, bits: 64, data: mk(64, (v, o, x) => v.setFloat64(o, x, true)) })],
    ['ext-float32', wavBytes({ formatTag: 0xfffe, extensibleSub: 3, channels: 1, sampleRate: 8000, bits: 32, data: mk(32, (v, o, x) => v.setFloat32(o, x, true)) })],
    ['odd LIST chunk', wavBytes({ formatTag: 1, channels: 1, sampleRate: 8000, bits: 16, data: mk(16, (v, o, x) => v.setInt16(o, x * 32768, true)), extraChunk: new Uint8Array([0x4c, 0x49, 0x53, 0x54, 3, 0, 0, 0, 1, 2, 3, 0]) })],
  ];
  for (const [name, bytes] of cases) {
    const d = decodeWav(bytes, name);
    assert.equal(d.frames, vals.length, name);
    assert.deepEqual(Array.from(d.channelData[0]), vals, name);
  }
  // Our encoder round-trips through the decoder (stereo, interleaved).
  const l = new Float32Array([0.5, -0.25, 1, -1]);
  const r = new Float32Array([0, 0.125, -0.5, 0.75]);
  const d = decodeWav(encodeWavPcm16([l, r], 22050), 'roundtrip');
  assert.deepEqual(Array.from(d.channelData[0]), [0.5, -0.25, 32767 / 32768, -1]);
  assert.deepEqual(Array.from(d.channelData[1]), [0, 0.125, -0.5, 0.75]);
  assert.equal(d.sampleRate, 22050);
});

test('bad files: errors name the file and the reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-audio-'));
  try {
    const good = readFileSync(join(G, 'audio', 'chirp_3s.wav'));
    const files: [string, Uint8Array, RegExp][] = [
      ['random.wav', Uint8Array.from({ length: 4000 }, (_, i) => (i * 7919 + 13) % 251), /not a WAV file: no RIFF\/WAVE header/],
      ['empty.wav', new Uint8Array(0), /file is empty \(0 bytes\)/],
      ['truncated_data.wav', good.subarray(0, 10000), /truncated WAV: data chunk declares 264600 bytes but only 9956 are present/],
      ['header_cut.wav', good.subarray(0, 30), /truncated WAV: header cut inside the fmt chunk/],
      ['no_data.wav', good.subarray(0, 40), /the file ends before a data chunk/],
      ['tiny.wav', good.subarray(0, 6), /too short for a RIFF header/],
      ['alaw.wav', wavBytes({ formatTag: 6, channels: 1, sampleRate: 8000, bits: 8, data: new Uint8Array(4) }), /unsupported WAV sample format 0x6/],
      ['zero_frames.wav', wavBytes({ formatTag: 1, channels: 1, sampleRate: 8000, bits: 16, data: new Uint8Array(0) }), /audio holds no samples/],
      ['bad.flac', new Uint8Array([0x66, 0x4c, 0x61, 0x43, 1, 2, 3, 4, 5, 6, 7, 8]), /bad\.flac: /],
    ];
    for (const [name, bytes, reason] of files) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      await assert.rejects(loadAudioFile(path), (err: Error) => {
        assert.ok(err.message.includes(path), `message names the file: ${err.message}`);
        assert.match(err.message, reason);
        return true;
      });
    }
    assert.throws(() => readWavInfo(join(dir, 'truncated_data.wav')), /truncated_data\.wav: truncated WAV/);
    assert.throws(() => loadWavFileSync(join(dir, 'empty.wav')), /empty\.wav: file is empty/);
    await assert.rejects(loadAudioFile(join(dir, 'missing.wav')), /missing\.wav: cannot read: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readWavInfo reads the header only and agrees with the full decode', () => {
  for (const name of INPUTS) {
    const path = join(G, 'audio', `${name}.wav`);
    const info = readWavInfo(path);
    const m = manifest.inputs[name];
    assert.equal(info.frames, m.file_frames, name);
    assert.equal(info.sampleRate, m.file_sample_rate, name);
    assert.equal(info.channels, m.file_channels, name);
    assert.equal(info.durationSec, m.file_frames / m.file_sample_rate, name);
    assert.equal(decodeWav(new Uint8Array(readFileSync(path)), name).channelData[0].length, info.frames);
  }
});

// Loading the decoder must not detach an ArrayBuffer in the thread, as tsx's require hook did when
// it lexed the package: V8 then adds a check to every later typed-array access (features ~25 %
// slower in that preprocess worker). Same start-up as a preprocess worker: tsx/cjs, then require.
test('decoding a FLAC leaves V8\'s ArrayBuffer-detaching protector intact (preprocess workers stay fast)', () => {
  const flac = join(__dirname, '..', '..', 'node_modules', 'supersonic-scsynth-samples', 'samples', 'elec_tick.flac');
  const script = `require('tsx/cjs'); require(${JSON.stringify(join(__dirname, '..', '..', 'lib', 'audio', 'load.ts'))})` +
    `.loadAudioFile(${JSON.stringify(flac)}).then((y) => console.log('samples', y.length));`;
  const out = execFileSync(process.execPath, ['--trace-protector-invalidation', '-e', script], { cwd: join(__dirname, '..', '..'), encoding: 'utf8' });
  assert.match(out, /samples [1-9]/);
  assert.doesNotMatch(out, /Invalidating protector cell ArrayBufferDetaching/);
});

test('FLAC (Sonic Pi ambi_drone) decodes to the golden WAV sox made from it, within 1 LSB', async () => {
  const flac = join(__dirname, '..', '..', 'node_modules', 'supersonic-scsynth-samples', 'samples', 'ambi_drone.flac');
  const bytes = new Uint8Array(readFileSync(flac));
  const audio = await decodeAudio(bytes, flac);
  assert.equal(audio.sampleRate, 44100);
  assert.equal(audio.channelData.length, 2);
  const y = await loadAudioFile(flac);
  const wav = await loadAudioFile(join(G, 'audio', 'real_ambient_ambi_drone.wav'));
  // sox mixed the channels to int16 with its own rounding; we keep the float32 mean.
  const err = maxAbsDiff(y, wav);
  assert.ok(err <= 1 / 32768, `FLAC vs sox WAV max diff ${err * 32768} LSB`);
});
