import { redirect } from "next/navigation";
import { currentUser } from "~/server/session";
import { SetupForm } from "./setup-form";

export const dynamic = "force-dynamic";

/** First start: while the workbench has no admin, this page creates one. Afterwards it only redirects. */
export default async function SetupPage() {
  const current = await currentUser();
  if (current.user) redirect("/");
  if (!current.needsSetup) redirect("/login");
  return (
    <div className="auth-page">
      <section className="card auth-card">
        <h1>Set up the labeler</h1>
        <p className="muted">
          This workbench has no admin yet. Create the first admin account: it imports data, invites annotators
          and sees agreement. (From a terminal:{" "}
          <code>pnpm rlhf users create-admin --email you@example.com</code>.)
        </p>
        <SetupForm />
      </section>
    </div>
  );
}
