import { findInvite } from "@rlhf/core/auth";
import { getDatabase } from "@rlhf/core/trpc";
import Link from "next/link";
import { databaseOptions } from "~/server/db";
import { InviteForm } from "./invite-form";

export const dynamic = "force-dynamic";

export default async function InvitePage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  const { db } = await getDatabase(databaseOptions);
  const invite = await findInvite(db, token);
  return (
    <div className="auth-page">
      <section className="card auth-card">
        <h1>Join the labeler</h1>
        {invite ? (
          <>
            <p className="muted">
              You are invited as {invite.role === "admin" ? "an admin" : "an annotator"}. Choose your name and
              a password.
            </p>
            <InviteForm token={token} email={invite.email} />
          </>
        ) : (
          <p>
            This invitation link is not valid: it was used, it expired, or it was not copied whole. Ask your
            admin for a new one, or <Link href="/login">sign in</Link>.
          </p>
        )}
      </section>
    </div>
  );
}
