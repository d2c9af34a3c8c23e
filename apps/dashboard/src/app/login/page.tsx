import { LoginForm } from "@rlhf/ui/login-form";
import { safeNext } from "@rlhf/ui/safe-next";
import { getTranslations } from "next-intl/server";
import { currentUser } from "~/server/session";
import styles from "./login.module.css";
import { SignOutButton } from "./sign-out-button";

export const dynamic = "force-dynamic";

/**
 * Sign in with a workbench account (the labeler's accounts: admins launch and cancel runs). Signed in,
 * the page says who you are and offers to sign out.
 */
export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[]>>;
}) {
  const next = safeNext((await searchParams).next);
  const [user, t, tRole] = await Promise.all([
    currentUser(),
    getTranslations("LoginPage"),
    getTranslations("Role"),
  ]);
  return (
    <div className={styles.page}>
      <section className={`card ${styles.card}`}>
        <h1>{user ? t("signedIn") : t("signIn")}</h1>
        {user ? (
          <>
            <p className="muted">
              {t("as", {
                name: user.name,
                email: user.email,
                role: tRole(user.role === "admin" ? "admin" : "annotator"),
              })}
            </p>
            <SignOutButton />
          </>
        ) : (
          <>
            <p className="muted">{t.rich("hint", { code: (chunks) => <code>{chunks}</code> })}</p>
            <LoginForm
              next={next}
              classNames={{ form: styles.form, error: styles.error, submit: "btn btn--primary" }}
            />
          </>
        )}
      </section>
    </div>
  );
}
