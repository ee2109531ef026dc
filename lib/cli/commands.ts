import type { Command } from './command';
import { generateCommand } from './generate';
import { scoreCommand } from './score';
import { preprocessCommand } from './preprocess';
import { trainCommand } from './train';
import { lrFindCommand } from './lrFind';
import { inferCommand } from './infer';
import { tagCommand } from './tag';
import { demoCommand } from './demo';
import { importWeightsCommand } from './importWeights';
import { exportCommand } from './export';
import { webCommand } from './web';
import { planCommand } from './plan';
import { mergeCommand } from './merge';
import { embedCommand } from './embed';

/**
 * Every `fat2019` command, in the order `--help` lists them. Each lives in its own module
 * under lib/cli/ and is added here.
 */
export const COMMANDS: Command[] = [demoCommand, generateCommand, preprocessCommand, lrFindCommand, trainCommand, planCommand, scoreCommand, inferCommand, mergeCommand, tagCommand, embedCommand, importWeightsCommand, exportCommand, webCommand];
