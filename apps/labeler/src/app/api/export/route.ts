import { EXPORT_FORMATS, type ExportFormat, exportPreferences, LabelingError } from "@rlhf/core/labeling";
import { getDatabase, getSession } from "@rlhf/core/trpc";
import { databaseOptions } from "~/server/db";

/**
 * GET /api/export?dataset=<name>&format=trl|trl-conversational|rankings — a JSONL download, admins only
 * (the same files as `rlhf export preferences`).
 */
export async function GET(request: Request): Promise<Response> {
  const { db } = await getDatabase(databaseOptions);
  const session = await getSession(request.headers, db);
  if (!session) return Response.json({ message: "Sign in to do this." }, { status: 401 });
  if (session.user.role !== "admin")
    return Response.json({ message: "Only an admin can do this." }, { status: 403 });
  const url = new URL(request.url);
  const dataset = url.searchParams.get("dataset") ?? "";
  const format = url.searchParams.get("format") ?? "trl";
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    return Response.json({ message: `format must be one of ${EXPORT_FORMATS.join(", ")}` }, { status: 400 });
  }
  try {
    const body = await exportPreferences(db, dataset, format as ExportFormat);
    // The name as written (电影评论-2026.trl.jsonl) in RFC 6266's filename*, an ASCII stand-in for old clients
    // (a header holds ASCII only).
    const file = `${dataset}.${format}.jsonl`;
    const ascii = file.replace(/[^\w.-]+/g, "_");
    return new Response(body, {
      headers: {
        "content-type": "application/jsonl; charset=utf-8",
        "content-disposition": `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(file)}`,
        "cache-control": "no-store",
      },
    });
  } catch (error) {
    if (error instanceof LabelingError || (error instanceof Error && /does not exist/.test(error.message))) {
      return Response.json({ message: error.message }, { status: 404 });
    }
    throw error;
  }
}
