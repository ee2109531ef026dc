/**
 * lib/run/jobLock on a shared file system: the owner keeps its lock fresh (mtime), and a lock of
 * another host that nobody refreshed for LOCK_STALE_MS is taken over (a job requeued onto another
 * node), while a fresh one is refused. (Same-host locks: tests/operatorMistakes.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireJobLock, LOCK_STALE_MS } from '../lib/run/jobLock';

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
