/**
 * One `rlhf pipeline --demo` at a time per pipeline name on a database: a PostgreSQL advisory lock held
 * by a connection of its own for as long as the pipeline runs. PostgreSQL releases it the moment that
 * connection ends, so a killed process (kill -9, a closed laptop) frees it at once, and a live one is
 * never mistaken for a dead one. A database outage ends the connection too: the lock is taken again as
 * soon as the database answers; if another process took it meanwhile, `onLost` is told.
 */
import os from "node:os";
import pg from "pg";

/** The first key of the advisory lock (the second is the pipeline's name hashed): "rlhf" in ASCII. */
const LOCK_CLASS = 0x726c6866;
const RECONNECT_MS = 1000;

/** Another live process runs this pipeline: it is named, and nothing was done. */
export class PipelineBusyError extends Error {}

export interface PipelineLock {
  /** Who this process is, as the runs it executes record it (`cli-<pid>` on this host). */
  holder: string;
  release(): Promise<void>;
}

/** Take the lock of pipeline `name` on the database at `url`, or throw a PipelineBusyError naming its holder. */
export async function acquirePipelineLock(
  url: string,
  name: string,
  events: { echo: (line: string) => void; onLost: (holder: string) => void },
): Promise<PipelineLock> {
  const holder = `cli-${process.pid} on ${os.hostname()}`;
  const applicationName = `rlhf pipeline ${name} (${holder})`.slice(0, 63);
  let client: pg.Client | undefined;
  let released = false;
  let retry: NodeJS.Timeout | undefined;

  const take = async (): Promise<boolean> => {
    const next = new pg.Client({ connectionString: url, application_name: applicationName });
    next.on("error", () => {}); // the 'end' below handles a lost connection
    await next.connect();
    const { rows } = await next.query<{ locked: boolean }>(
      "select pg_try_advisory_lock($1, hashtext($2)) as locked",
      [LOCK_CLASS, name],
    );
    if (!rows[0]!.locked) {
      const who = await describeHolder(next, name);
      await next.end().catch(() => {});
      throw new PipelineBusyError(who);
    }
    client = next;
    next.once("end", () => {
      if (client !== next || released) return;
      client = undefined;
      events.echo(
        `the database connection holding the pipeline's lock ended; taking it again when it answers`,
      );
      retry = setTimeout(again, RECONNECT_MS);
    });
    return true;
  };
  const again = () => {
    if (released) return;
    take().then(
      () => events.echo("the pipeline's lock is held again"),
      (error: unknown) => {
        if (error instanceof PipelineBusyError) events.onLost(error.message);
        else retry = setTimeout(again, RECONNECT_MS);
      },
    );
  };

  await take();
  return {
    holder,
    release: async () => {
      released = true;
      clearTimeout(retry);
      await client?.end().catch(() => {});
    },
  };
}

/** "process cli-123 on host (connected since …)", from the session holding the lock. */
async function describeHolder(client: pg.Client, name: string): Promise<string> {
  const { rows } = await client.query<{ application_name: string; backend_start: Date }>(
    `select a.application_name, a.backend_start from pg_locks l join pg_stat_activity a on a.pid = l.pid
     where l.locktype = 'advisory' and l.granted and l.classid = $1::int4::oid
       and l.objid = hashtext($2)::oid and l.objsubid = 2`,
    [LOCK_CLASS, name],
  );
  const found = rows[0];
  const who = found?.application_name?.match(/\((.*)\)$/)?.[1] ?? "another process";
  const since = found?.backend_start ? ` since ${found.backend_start.toISOString()}` : "";
  return `the demo pipeline "${name}" is being run by ${who}${since} on this database; wait for it to end or stop it (Ctrl-C there), or give this one another --name`;
}
