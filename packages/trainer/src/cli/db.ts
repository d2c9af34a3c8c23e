import { openDatabase, redactUrl } from "@rlhf/core/db";
import { type DemoLanguage, seedDemo } from "@rlhf/core/demo";

export async function dbStatus(options: { json?: boolean }): Promise<void> {
  const database = await openDatabase();
  try {
    const { rows } = await database.pool.query(
      `select version() as version,
        (select count(*)::int from drizzle.__drizzle_migrations) as migrations,
        (select count(*)::int from runs) as runs,
        (select count(*)::int from datasets) as datasets,
        (select count(*)::int from comparison_tasks) as tasks,
        (select count(*)::int from rankings) as rankings,
        (select count(*)::bigint from metrics) as metrics`,
    );
    const status = { mode: database.mode, url: redactUrl(database.url), ...rows[0] };
    if (options.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    else
      for (const [key, value] of Object.entries(status)) process.stdout.write(`${key.padEnd(12)} ${value}\n`);
  } finally {
    await database.close();
  }
}

export async function seedDemoCommand(options: { language?: DemoLanguage } = {}): Promise<void> {
  const database = await openDatabase();
  try {
    const { created, language } = await seedDemo(database.db, { language: options.language });
    const said = language === "zh" ? " (Chinese)" : "";
    process.stdout.write(created ? `demo project seeded${said}\n` : `demo project already present${said}\n`);
  } finally {
    await database.close();
  }
}
