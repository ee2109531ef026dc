import { mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';

/**
 * One lock file per job (e.g. `<run>/<arch>/stage<k>/fold<f>/lock.json`) so that two processes,
 * on this machine or on two machines sharing the run folder, never train the same job at once
 * (both would write its checkpoints). The file holds the owner's pid, host and start time; a
 * second job exits with an error saying who holds it. A lock whose owner is gone (a process of
 * this host that no longer exists: killed, crashed) is stale and taken over. A lock of another
 * host cannot be checked from here, so its owner touches it every {@link LOCK_HEARTBEAT_MS}: one
 * not touched for {@link LOCK_STALE_MS} is stale too (its owner was killed or its machine died;
 * a job that a scheduler requeues onto another node takes it over), and a fresher one is refused
 * with how to remove it. A requeued Slurm job takes over the lock of its own earlier attempt at
 * once (same SLURM_JOB_ID, lower SLURM_RESTART_COUNT). On a shared file system (NFS) this needs exclusive create (`O_EXCL`:
 * NFSv3 and later) and clocks in sync to well within {@link LOCK_STALE_MS} (NTP).
 */

/** How often an owner touches its lock (mtime). */
const LOCK_HEARTBEAT_MS = 30_000;
/** Another host's lock untouched for this long is stale. */
export const LOCK_STALE_MS = 10 * 60_000;

/** Contents of a lock file. */
export interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
  /** What the owner is doing, e.g. "cnnModel1 stage 2 fold 3". */
  job: string;
  /** Under Slurm: the job id and its restart count (SLURM_JOB_ID, SLURM_RESTART_COUNT). */
  slurm?: { jobId: string; restart: number };
}

/** This process's Slurm job and attempt, when it runs as a Slurm job. */
function slurmAttempt(): LockOwner['slurm'] {
  const jobId = process.env.SLURM_JOB_ID;
  if (!jobId) return undefined;
  const restart = Number(process.env.SLURM_RESTART_COUNT ?? 0);
  return { jobId, restart: Number.isInteger(restart) && restart >= 0 ? restart : 0 };
}

/** Thrown when another live process holds the lock. */
export class JobLockedError extends Error {
  constructor(readonly lockPath: string, readonly owner: LockOwner | null, message: string) {
    super(message);
    this.name = 'JobLockedError';
  }
}

/** True when process `pid` exists on this host (EPERM: it exists but belongs to someone else). */
function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockOwner | null {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    return typeof o.pid === 'number' && typeof o.host === 'string' ? o : null;
  } catch {
    return null;
  }
}

/**
 * The live holder of the lock at `path`: its owner when that process still runs on this host,
 * or runs on another host (which cannot be checked from here); null when there is no lock or
 * its owner is gone (a stale lock).
 */
export function liveLockOwner(path: string): LockOwner | null {
  const owner = readOwner(path);
  if (owner === null) return null;
  if (owner.host === hostname() && !processAlive(owner.pid)) return null;
  return owner;
}

/** A lock file being written right now by its owner reads as empty or partial for this long. */
const UNREADABLE_GRACE_MS = 10_000;

/**
 * Takes the lock at `path` for `job`, or throws {@link JobLockedError} naming the holder.
 * A stale lock (its owner's process is gone from this host, or another host's lock untouched for
 * {@link LOCK_STALE_MS}) is taken over, with a note to `log`. The owner touches the lock every
 * `heartbeatMs` until released.
 * @returns release(): removes the lock (only while this process still owns it)
 */
export function acquireJobLock(path: string, job: string, log: (msg: string) => void = () => undefined, heartbeatMs = LOCK_HEARTBEAT_MS): () => void {
  mkdirSync(dirname(path), { recursive: true });
  const me: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), job };
  const slurm = slurmAttempt();
  if (slurm) me.slurm = slurm;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, JSON.stringify(me, null, 2) + '\n', { flag: 'wx' });
      const heartbeat = setInterval(() => {
        try {
          const now = new Date();
          utimesSync(path, now, now);
        } catch {
          // Removed or unreachable for a moment: the next beat tries again.
        }
      }, heartbeatMs);
      heartbeat.unref();
      return () => {
        clearInterval(heartbeat);
        const now = readOwner(path);
        if (now && now.pid === me.pid && now.host === me.host && now.startedAt === me.startedAt) rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create the lock ${path}: ${(err as Error).message}`);
    }
    const owner = readOwner(path);
    if (owner === null) {
      let ageMs = 0;
      try {
        ageMs = Date.now() - statSync(path).mtimeMs;
      } catch {
        continue; // removed meanwhile: try again
      }
      if (ageMs < UNREADABLE_GRACE_MS) {
        throw new JobLockedError(path, null, `${job} is locked by ${path}, which is being written by another process; try again in a few seconds`);
      }
      log(`${path}: unreadable lock older than ${UNREADABLE_GRACE_MS / 1000} s, taken over`);
      rmSync(path, { force: true });
      continue;
    }
    // An earlier attempt of this same Slurm job (requeued, perhaps onto another node): Slurm
    // ends an attempt before it starts the next, so its lock is stale whatever its host.
    if (me.slurm && owner.slurm?.jobId === me.slurm.jobId && owner.slurm.restart < me.slurm.restart) {
      log(`${job}: lock of attempt ${owner.slurm.restart} of Slurm job ${owner.slurm.jobId} (pid ${owner.pid} on ${owner.host}) taken over by its attempt ${me.slurm.restart}`);
      rmSync(path, { force: true });
      continue;
    }
    if (owner.host === me.host && !processAlive(owner.pid)) {
      log(`${job}: stale lock of pid ${owner.pid} (no longer running on ${owner.host}, started ${owner.startedAt}) taken over`);
      rmSync(path, { force: true });
      continue;
    }
    if (owner.host !== me.host) {
      let ageMs = 0;
      try {
        ageMs = Date.now() - statSync(path).mtimeMs;
      } catch {
        continue; // removed meanwhile: try again
      }
      if (ageMs > LOCK_STALE_MS) {
        log(`${job}: stale lock of pid ${owner.pid} on host ${owner.host} (not refreshed for ${Math.round(ageMs / 60_000)} min, started ${owner.startedAt}) taken over`);
        rmSync(path, { force: true });
        continue;
      }
    }
    const where = owner.host === me.host ? `pid ${owner.pid} on this host (${owner.host})` : `pid ${owner.pid} on host ${owner.host}`;
    throw new JobLockedError(
      path,
      owner,
      `${job} is already being run by ${where}, since ${owner.startedAt} (lock ${path}). ` +
        `Wait for it to finish${owner.host === me.host ? '' : `, or, if that job is gone, delete ${path} (a lock not refreshed for ${LOCK_STALE_MS / 60_000} min is taken over)`}.`,
    );
  }
  throw new JobLockedError(path, readOwner(path), `${job}: could not take the lock ${path} (another job keeps taking it)`);
}

/** Runs `work` while holding the lock at `path`; releases it however `work` ends. */
export async function withJobLock<T>(path: string, job: string, work: () => Promise<T>, log?: (msg: string) => void): Promise<T> {
  const release = acquireJobLock(path, job, log);
  try {
    return await work();
  } finally {
    release();
  }
}
