/**
 * The demo vocabulary: which real recordings (CC0 Sonic Pi samples, npm package
 * `supersonic-scsynth-samples`, `samples/<name>.flac`) make up each class, and which of them are
 * held out for the test set.
 *
 * Names are FSDKaggle2019 class names where one genuinely fits the samples (Bass_drum, Hi-hat);
 * the other classes take the AudioSet ontology name (the ontology FSDKaggle2019's 80 classes come
 * from), written the FSDKaggle2019 way: spaces → `_`, ", " → `_and_`. A sample is listed only
 * when it really is that sound (by its Sonic Pi name and its Freesound source, see
 * PROVENANCE.md of the package); ambiguous samples (loops, pads, glitches, bells) are left out.
 *
 * Split: `test` recordings are never used by train_curated or train_noisy clips, so test scores
 * measure generalisation to unseen recordings. About one recording in three is held out;
 * two recordings of the same instrument at two velocities (`*_hard` / `*_soft`) stay on the same
 * side so that no near-duplicate leaks across the split.
 */

/** One demo class and its source recordings (sample names without `.flac`). */
export interface DemoClass {
  /** Class name as it appears in the CSVs and the sample_submission columns. */
  label: string;
  /** True when `label` is one of the 80 FSDKaggle2019 classes. */
  inFsdKaggle2019: boolean;
  /** What the samples are, for the provenance document. */
  description: string;
  /** Recordings that train_curated and train_noisy clips draw from. */
  train: readonly string[];
  /** Recordings that only test clips draw from. */
  test: readonly string[];
}

/** The class table (in no particular order; {@link DEMO_VOCABULARY} is the sorted label list). */
export const DEMO_CLASSES: readonly DemoClass[] = [
  {
    label: 'Bass_drum',
    inFsdKaggle2019: true,
    description: 'acoustic and drum-machine kick drums',
    train: [
      'drum_bass_hard', 'drum_bass_soft', 'drum_heavy_kick', 'bd_808', 'bd_ada', 'bd_boom',
      'bd_fat', 'bd_haus', 'bd_klub', 'bd_pure', 'bd_tek', 'bd_zum',
    ],
    test: ['bd_gas', 'bd_jazz', 'bd_mehackit', 'bd_sone', 'bd_zome'],
  },
  {
    label: 'Hi-hat',
    inFsdKaggle2019: true,
    description: 'closed, open and pedal hi-hats, acoustic and drum-machine',
    train: [
      'drum_cymbal_closed', 'drum_cymbal_open', 'drum_cymbal_pedal', 'hat_bdu', 'hat_cats',
      'hat_gnu', 'hat_gump', 'hat_hier', 'hat_mess', 'hat_metal', 'hat_noiz', 'hat_raw', 'hat_sci',
      'hat_snap', 'hat_yosh', 'hat_zap',
    ],
    test: ['hat_cab', 'hat_gem', 'hat_len', 'hat_psych', 'hat_star', 'hat_tap', 'hat_zan', 'hat_zild'],
  },
  {
    label: 'Snare_drum',
    inFsdKaggle2019: false,
    description: 'acoustic and drum-machine snare drums (AudioSet "Snare drum")',
    train: [
      'drum_snare_hard', 'drum_snare_soft', 'sn_dolf', 'sn_dub', 'elec_snare', 'elec_hi_snare',
      'elec_lo_snare', 'elec_filt_snare',
    ],
    test: ['sn_generic', 'sn_zome', 'elec_mid_snare'],
  },
  {
    label: 'Tom-tom_drum',
    inFsdKaggle2019: false,
    description: 'high, mid and low toms of one kit, and a drum-machine tom (AudioSet "Tom-tom drum")',
    train: ['drum_tom_hi_hard', 'drum_tom_hi_soft', 'drum_tom_lo_hard', 'drum_tom_lo_soft', 'elec_fuzz_tom'],
    test: ['drum_tom_mid_hard', 'drum_tom_mid_soft'],
  },
  {
    label: 'Cymbal',
    inFsdKaggle2019: false,
    description: 'crash, splash and ride cymbals, no hi-hats (AudioSet "Cymbal")',
    train: ['drum_cymbal_hard', 'drum_cymbal_soft', 'ride_tri', 'elec_cymbal'],
    test: ['drum_splash_hard', 'drum_splash_soft', 'ride_via'],
  },
  {
    label: 'Tabla',
    inFsdKaggle2019: false,
    description: 'single tabla strokes (ghe, ke, na, re, tas, te, tun, dhec) (AudioSet "Tabla")',
    train: [
      'tabla_dhec', 'tabla_ghe1', 'tabla_ghe3', 'tabla_ghe4', 'tabla_ghe6', 'tabla_ghe7', 'tabla_ke1',
      'tabla_ke2', 'tabla_na', 'tabla_na_s', 'tabla_re', 'tabla_tas1', 'tabla_tas2', 'tabla_te1',
      'tabla_te_m', 'tabla_te_ne', 'tabla_tun1', 'tabla_tun2',
    ],
    test: ['tabla_ghe2', 'tabla_ghe5', 'tabla_ghe8', 'tabla_ke3', 'tabla_na_o', 'tabla_tas3', 'tabla_te2', 'tabla_tun3'],
  },
  {
    label: 'Guitar',
    inFsdKaggle2019: false,
    description:
      'guitar chords, slide and harmonics (AudioSet "Guitar"; not labelled Acoustic_ or Electric_guitar because the sources do not say which)',
    train: ['guit_e_fifths', 'guit_em9', 'guit_harmonics'],
    test: ['guit_e_slide'],
  },
  {
    label: 'Synthesizer',
    inFsdKaggle2019: false,
    description: 'synthesizer bass notes (AudioSet "Synthesizer"; synth basses, not bass guitars)',
    train: ['bass_drop_c', 'bass_hard_c', 'bass_hit_c', 'bass_trance_c', 'bass_voxy_c', 'bass_voxy_hit_c'],
    test: ['bass_dnb_f', 'bass_thick_c', 'bass_woodsy_c'],
  },
  {
    label: 'Beep_and_bleep',
    inFsdKaggle2019: false,
    description: 'short electronic beeps and blips (AudioSet "Beep, bleep")',
    train: ['elec_beep', 'elec_blip', 'elec_blup', 'elec_ping', 'elec_twip'],
    test: ['elec_blip2', 'elec_plip', 'tbd_perc_blip'],
  },
  {
    label: 'Scratching_(performance_technique)',
    inFsdKaggle2019: false,
    description: 'turntable scratch, backspin and rewind (AudioSet "Scratching (performance technique)")',
    train: ['vinyl_backspin', 'vinyl_scratch'],
    test: ['vinyl_rewind'],
  },
  {
    label: 'Whoosh_and_swoosh_and_swish',
    inFsdKaggle2019: false,
    description: 'swooshes (AudioSet "Whoosh, swoosh, swish")',
    train: ['ambi_swoosh', 'ambi_dark_woosh'],
    test: ['perc_swoosh'],
  },
];

/** The demo class names, sorted (= the sample_submission.csv columns after `fname`). */
export const DEMO_VOCABULARY: readonly string[] = Object.freeze(DEMO_CLASSES.map((c) => c.label).sort());

/** Which recordings each set draws from, per class: `{ [label]: { train: names[], test: names[] } }`. */
export type RecordingSplit = Record<string, { train: string[]; test: string[] }>;

/** The recording split of {@link DEMO_CLASSES}, keyed by label, in vocabulary order. */
export function demoRecordingSplit(): RecordingSplit {
  const out: RecordingSplit = {};
  for (const label of DEMO_VOCABULARY) {
    const c = DEMO_CLASSES.find((k) => k.label === label)!;
    out[label] = { train: [...c.train], test: [...c.test] };
  }
  return out;
}

/** Every recording of the table (train and test), sorted, each once. */
export function demoRecordingNames(): string[] {
  return [...new Set(DEMO_CLASSES.flatMap((c) => [...c.train, ...c.test]))].sort();
}
