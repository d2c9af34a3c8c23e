import { LoginForm } from "@rlhf/ui/login-form";
import { safeNext } from "@rlhf/ui/safe-next";
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
  const user = await currentUser();
  return (
    <div className={styles.page}>
      <section className={`card ${styles.card}`}>
        <h1>{user ? "Signed in" : "Sign in"}</h1>
        {user ? (
          <>
            <p className="muted">
              As {user.name} ({user.email}), {user.role}.
            </p>
            <SignOutButton />
          </>
        ) : (
          <>
            <p className="muted">
              With your workbench account. The first admin is made with{" "}
              <code>pnpm rlhf users create-admin</code> or the labeler’s first-start page; admins invite
              others.
            </p>
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
