import { findInvite } from "@rlhf/core/auth";
import { getDatabase } from "@rlhf/core/trpc";
import Link from "next/link";
import { getTranslations } from "next-intl/server";
import { databaseOptions } from "~/server/db";
import { InviteForm } from "./invite-form";

export const dynamic = "force-dynamic";

export default async function InvitePage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  const { db } = await getDatabase(databaseOptions);
  const [invite, t] = await Promise.all([findInvite(db, token), getTranslations("Invite")]);
  return (
    <div className="auth-page">
      <section className="card auth-card">
        <h1>{t("title")}</h1>
        {invite ? (
          <>
            <p className="muted">{t("invitedAs", { role: invite.role })}</p>
            <InviteForm token={token} email={invite.email} />
          </>
        ) : (
          <p>{t.rich("invalid", { login: (chunks) => <Link href="/login">{chunks}</Link> })}</p>
        )}
      </section>
    </div>
  );
}
