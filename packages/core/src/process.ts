/** Processes of this machine. */

/**
 * Whether a process with this id is running on this machine: signal 0 is delivered (or refused with EPERM,
 * which says the process exists but belongs to another user).
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
