import type { Command } from './command';

/**
 * Every `fat2019` command, in the order `--help` lists them. Each lives in its own module
 * under lib/cli/ and is added here.
 */
export const COMMANDS: Command[] = [];
