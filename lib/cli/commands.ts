import type { Command } from './command';
import { scoreCommand } from './score';
import { preprocessCommand } from './preprocess';

/**
 * Every `fat2019` command, in the order `--help` lists them. Each lives in its own module
 * under lib/cli/ and is added here.
 */
export const COMMANDS: Command[] = [preprocessCommand, scoreCommand];
