/**
 * Putting a finished directory in place of another, durably. The files are flushed to the disk before the
 * directory takes its final name (a power cut after the rename would otherwise find empty files under it),
 * and an existing directory of that name is moved aside by a rename rather than deleted first, so there is
 * no moment in which neither the old nor the new one is under the name — deleting a GPT-2-sized checkpoint
 * takes long enough for a kill to land in between. A process killed between the two renames leaves the
 * old directory aside under `<name>.old-<pid>`; `recoverInterruptedPublish` puts it back (loading and
 * saving a checkpoint call it first), and clears what killed writers left behind.
 */
import { constants } from "node:fs";
import { open, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { processAlive } from "@rlhf/core/process";

/** fsync a file or a directory (a directory's fsync makes the names in it durable). */
async function sync(target: string, directory: boolean): Promise<void> {
  const handle = await open(target, directory ? constants.O_RDONLY | constants.O_DIRECTORY : "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flush every file under `dir` (recursively) and `dir` itself. */
async function syncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await syncTree(full);
    else if (entry.isFile()) await sync(full, false);
  }
  await sync(dir, true);
}

const errorCode = (error: unknown) => (error as { code?: string }).code;

/** Make the finished directory `ready` the directory `target`, replacing any that was there. */
export async function publishDirectory(ready: string, target: string): Promise<void> {
  await syncTree(ready);
  const aside = `${target}.old-${process.pid}`;
  await rm(aside, { recursive: true, force: true });
  let replaced = true;
  try {
    await rename(target, aside);
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
    replaced = false;
  }
  await rename(ready, target);
  await sync(path.dirname(target), true);
  if (replaced) await rm(aside, { recursive: true, force: true });
}

/**
 * After a writer of `target` was killed: when `target` is missing but a previous version was moved aside,
 * put that back; remove versions aside that were replaced, and temporary directories of writers that are
 * no longer running. Nothing to do (one readdir) in the usual case.
 */
export async function recoverInterruptedPublish(target: string): Promise<void> {
  const parent = path.dirname(target);
  const base = path.basename(target);
  let names: string[];
  try {
    names = await readdir(parent);
  } catch (error) {
    // No such directory, or one this process may not list (a checkpoint on a read-only share, say):
    // nothing of ours to recover there, and loading must not fail for it.
    if (["ENOENT", "EACCES", "EPERM"].includes(errorCode(error) ?? "")) return;
    throw error;
  }
  const leftovers = names.filter((name) => {
    const match = /^(.*)\.(old|tmp)-(\d+)$/.exec(name);
    return match?.[1] === base && !running(Number(match[3]));
  });
  if (leftovers.length === 0) return;
  const aside = leftovers.filter((name) => name.includes(".old-"));
  if (!names.includes(base) && aside.length > 0) {
    await rename(path.join(parent, aside[0]!), target);
    await sync(parent, true);
  }
  for (const name of leftovers) await rm(path.join(parent, name), { recursive: true, force: true });
}

/** Whether a process with this id is running (its leftovers are still being written). */
function running(pid: number): boolean {
  // Our own leftovers are from an earlier call that failed.
  return pid !== process.pid && processAlive(pid);
}
