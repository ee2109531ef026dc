/**
 * Training recipes as data: a recipe is a list of stages, each saying what it trains on, what
 * it starts from and what it selects. The pipeline (./stages, ./trainStageFold, ./runPipeline)
 * interprets them; a run folder stores the recipe's name in run.json (config.pipeline.recipe)
 * and its stage list in recipe.json.
 *
 * Every stage of fold f validates on (and predicts out-of-fold) the clips of fold f only, and
 * trains on clips of the other folds, or on clips outside the labelled sets (selected noisy
 * clips of other folds, pseudo-labelled unlabelled clips), so no held-out clip is ever trained on.
 */
import type { Fat2019Config, RecipeName } from '../../config';
import type { ClipSet } from './folds';

/** Where a stage's extra training clips come from. */
export type StageSelection =
  /** Noisy clips ranked by the geometric mean of the per-clip out-of-fold lwlrap of `scoresFrom` stages (warm-up stage 3: stage3MinScore, stage3MaxPerFoldPerLabel). */
  | { kind: 'noisyByScore'; scoresFrom: number[]; minScore: 'stage3MinScore' | 'stage4MinScore'; capPerFoldPerLabel?: 'stage3MaxPerFoldPerLabel' }
  /** Unlabelled clips predicted by stage `from` (fold f's model), kept when their score ≥ pseudoLabelMinScore, at most pseudoLabelMaxPerClass per class. */
  | { kind: 'pseudoLabel'; from: number };

/** One stage of a recipe. */
export interface StageSpec {
  /** 1-based; the folder `<arch>/stage<k>/`. */
  stage: number;
  /** Which labelled set's other folds the stage trains on (none: only its selection). */
  trainOn: ClipSet[];
  /** Which set's fold f validates the stage (and picks best/). */
  validateOn: ClipSet;
  /** Stage whose fold-f final model initialises this one; null = from scratch. */
  initFrom: number | null;
  /** Clips added to the training set. */
  select?: StageSelection;
  /** One line for logs and help. */
  summary: string;
}

export interface Recipe {
  name: RecipeName;
  summary: string;
  stages: StageSpec[];
  /** Stages whose models form the test ensemble (the default of `infer --stages`). */
  ensembleStages: number[];
  /** Needs a noisy set (train_noisy.csv). */
  needsNoisy: boolean;
  /** Needs unlabelled clips (the test set or an unlabeled/ folder). */
  needsUnlabeled: boolean;
}

const WARMUP: StageSpec[] = [
  { stage: 1, trainOn: ['noisy'], validateOn: 'noisy', initFrom: null, summary: 'noisy set, from scratch' },
  { stage: 2, trainOn: ['curated'], validateOn: 'curated', initFrom: 1, summary: 'curated set, from stage 1' },
  {
    stage: 3, trainOn: ['curated'], validateOn: 'curated', initFrom: 2,
    select: { kind: 'noisyByScore', scoresFrom: [1, 2], minScore: 'stage3MinScore', capPerFoldPerLabel: 'stage3MaxPerFoldPerLabel' },
    summary: 'curated + noisy clips with sqrt(l1·l2) ≥ stage3MinScore (capped per fold and label), from stage 2',
  },
  {
    stage: 4, trainOn: ['curated'], validateOn: 'curated', initFrom: 3,
    select: { kind: 'noisyByScore', scoresFrom: [3], minScore: 'stage4MinScore' },
    summary: 'curated + noisy clips with l3 ≥ stage4MinScore, from stage 3',
  },
];

/** Every recipe, by name: the one list the CLI, config checks and notebooks read. */
export const RECIPES: Readonly<Record<RecipeName, Recipe>> = {
  warmup: {
    name: 'warmup',
    summary: 'the FAT2019 12th-place 4-stage warm-up (noisy → curated → curated + selected noisy, twice)',
    stages: WARMUP,
    ensembleStages: [2, 3, 4],
    needsNoisy: true,
    needsUnlabeled: false,
  },
  single: {
    name: 'single',
    summary: 'one stage on the labelled set',
    stages: [{ stage: 1, trainOn: ['curated'], validateOn: 'curated', initFrom: null, summary: 'labelled set, from scratch' }],
    ensembleStages: [1],
    needsNoisy: false,
    needsUnlabeled: false,
  },
  noisyThenCurated: {
    name: 'noisyThenCurated',
    summary: 'two stages: the noisy set, then the curated set from it',
    stages: WARMUP.slice(0, 2),
    ensembleStages: [2],
    needsNoisy: true,
    needsUnlabeled: false,
  },
  pseudoLabel: {
    name: 'pseudoLabel',
    summary: 'train; pseudo-label the unlabelled clips scoring ≥ pseudoLabelMinScore (≤ pseudoLabelMaxPerClass per class); retrain from it',
    stages: [
      { stage: 1, trainOn: ['curated'], validateOn: 'curated', initFrom: null, summary: 'labelled set, from scratch' },
      {
        stage: 2, trainOn: ['curated'], validateOn: 'curated', initFrom: 1, select: { kind: 'pseudoLabel', from: 1 },
        summary: 'labelled set + pseudo-labelled clips, from stage 1',
      },
    ],
    ensembleStages: [2],
    needsNoisy: false,
    needsUnlabeled: true,
  },
};

export const RECIPE_NAMES = Object.keys(RECIPES) as RecipeName[];

/** The recipe of a config; an unknown name throws, listing the known ones. */
export function recipeOf(config: Pick<Fat2019Config, 'pipeline'>): Recipe {
  const name = config.pipeline.recipe ?? 'warmup';
  const recipe = (RECIPES as Record<string, Recipe | undefined>)[name];
  if (!recipe) throw new Error(`config.pipeline.recipe must be one of ${RECIPE_NAMES.join(', ')}, got "${String(name)}"`);
  return recipe;
}

/** The stage `stage` of `recipe`; throws naming the recipe's stages. */
export function stageSpec(recipe: Recipe, stage: number): StageSpec {
  const spec = recipe.stages.find((s) => s.stage === stage);
  if (!spec) throw new Error(`stage must be one of ${recipe.stages.map((s) => s.stage).join(', ')} (recipe ${recipe.name}), got ${stage}`);
  return spec;
}

/** Stage numbers of a recipe, in order. */
export function recipeStages(recipe: Recipe): number[] {
  return recipe.stages.map((s) => s.stage);
}
