import { LoginForm } from "@rlhf/ui/login-form";
import { safeNext } from "@rlhf/ui/safe-next";
import { redirect } from "next/navigation";
import { getTranslations } from "next-intl/server";
import { currentUser } from "~/server/session";

export const dynamic = "force-dynamic";

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[]>>;
}) {
  const next = safeNext((await searchParams).next);
  const [current, t] = await Promise.all([currentUser(), getTranslations("Login")]);
  if (current.user) redirect("/");
  if (current.needsSetup) redirect("/setup");
  return (
    <div className="auth-page">
      <section className="card auth-card">
        <h1>{t("title")}</h1>
        <p className="muted">{t("intro")}</p>
        <LoginForm
          next={next}
          classNames={{ form: "auth-form", error: "form-error", submit: "button button--primary" }}
        />
      </section>
    </div>
  );
}
