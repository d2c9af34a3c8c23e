import { redirect } from "next/navigation";
import { getTranslations } from "next-intl/server";
import { currentUser } from "~/server/session";
import { SetupForm } from "./setup-form";

export const dynamic = "force-dynamic";

/** First start: while the workbench has no admin, this page creates one. Afterwards it only redirects. */
export default async function SetupPage() {
  const [current, t] = await Promise.all([currentUser(), getTranslations("Setup")]);
  if (current.user) redirect("/");
  if (!current.needsSetup) redirect("/login");
  return (
    <div className="auth-page">
      <section className="card auth-card">
        <h1>{t("title")}</h1>
        <p className="muted">{t.rich("intro", { code: (chunks) => <code>{chunks}</code> })}</p>
        <SetupForm />
      </section>
    </div>
  );
}
