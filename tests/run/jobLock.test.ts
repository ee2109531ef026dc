/**
 * lib/run/jobLock on a shared file system: the owner keeps its lock fresh (mtime), and a lock of
 * another host that nobody refreshed for LOCK_STALE_MS is taken over (a job requeued onto another
 * node), while a fresh one is refused. (Same-host locks: tests/cli/operatorMistakes.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireJobLock, LOCK_STALE_MS } from '../../lib/run/jobLock';

test('jobLock: the owner refreshes its lock; another host\'s lock is refused while fresh, taken over once stale', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-lock-'));
  try {
    const lock = join(dir, 'lock.json');
    const release = acquireJobLock(lock, 'job', undefined, 20);
    const old = new Date(Date.now() - 3600_000);
    utimesSync(lock, old, old);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(Date.now() - statSync(lock).mtimeMs < 60_000, 'the heartbeat touched the lock');
    release();

    const other = { pid: 4242, host: 'node-17', startedAt: '2026-01-01T00:00:00Z', job: 'x' };
    writeFileSync(lock, JSON.stringify(other));
    const justFresh = new Date(Date.now() - LOCK_STALE_MS + 60_000);
    utimesSync(lock, justFresh, justFresh);
    assert.throws(() => acquireJobLock(lock, 'job'), /pid 4242 on host node-17.*a lock not refreshed for 10 min is taken over/);
    const stale = new Date(Date.now() - LOCK_STALE_MS - 60_000);
    utimesSync(lock, stale, stale);
    const notes: string[] = [];
    const mine = acquireJobLock(lock, 'job', (m) => notes.push(m));
    assert.equal(JSON.parse(readFileSync(lock, 'utf8')).pid, process.pid);
    assert.match(notes.join('\n'), /stale lock of pid 4242 on host node-17 \(not refreshed for 11 min/);
    mine();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('jobLock: a requeued Slurm job takes over the lock of its earlier attempt at once, not that of another job or a later attempt', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-lock-'));
  const saved = { id: process.env.SLURM_JOB_ID, restart: process.env.SLURM_RESTART_COUNT };
  try {
    const lock = join(dir, 'lock.json');
    const write = (slurm: { jobId: string; restart: number }) =>
      writeFileSync(lock, JSON.stringify({ pid: 4242, host: 'node-17', startedAt: '2026-01-01T00:00:00Z', job: 'x', slurm }));
    process.env.SLURM_JOB_ID = '1234';
    process.env.SLURM_RESTART_COUNT = '1';
    write({ jobId: '1234', restart: 0 });
    const notes: string[] = [];
    const mine = acquireJobLock(lock, 'job', (m) => notes.push(m));
    assert.deepEqual(JSON.parse(readFileSync(lock, 'utf8')).slurm, { jobId: '1234', restart: 1 });
    assert.match(notes.join('\n'), /lock of attempt 0 of Slurm job 1234 \(pid 4242 on node-17\) taken over by its attempt 1/);
    mine();
    write({ jobId: '999', restart: 0 }); // another job: fresh, so refused
    assert.throws(() => acquireJobLock(lock, 'job'), /pid 4242 on host node-17/);
    write({ jobId: '1234', restart: 1 }); // the same attempt elsewhere (a second task of one job): refused
    assert.throws(() => acquireJobLock(lock, 'job'), /pid 4242 on host node-17/);
  } finally {
    if (saved.id === undefined) delete process.env.SLURM_JOB_ID; else process.env.SLURM_JOB_ID = saved.id;
    if (saved.restart === undefined) delete process.env.SLURM_RESTART_COUNT; else process.env.SLURM_RESTART_COUNT = saved.restart;
    rmSync(dir, { recursive: true, force: true });
  }
});
