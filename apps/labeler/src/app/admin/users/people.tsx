"use client";

import { useServerMessage } from "@rlhf/ui/query-error";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { type FormEvent, useState } from "react";
import { useTRPC } from "~/trpc/react";
import { QueryError } from "../../_components/query-error";

export function People({ myId }: { myId: string }) {
  const t = useTranslations("People");
  const roles = useTranslations("UserMenu.role");
  const trpc = useTRPC();
  const serverMessage = useServerMessage();
  const queryClient = useQueryClient();
  const people = useQuery(trpc.admin.users.queryOptions());
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.admin.users.queryKey() });
  const invite = useMutation(trpc.admin.invite.mutationOptions({ onSuccess: refresh }));
  const update = useMutation(trpc.admin.updateUser.mutationOptions({ onSuccess: refresh }));
  const revoke = useMutation(trpc.admin.revokeInvite.mutationOptions({ onSuccess: refresh }));
  const [link, setLink] = useState<string | null>(null);

  async function onInvite(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const role = form.get("role") === "admin" ? "admin" : "annotator";
    const created = await invite.mutateAsync({ email: String(form.get("email")), role }).catch(() => null);
    if (created) setLink(`${window.location.origin}/invite/${created.token}`);
  }

  if (people.isPending) return <p className="empty">{t("loading")}</p>;
  if (people.isError) return <QueryError error={people.error} what={t("what")} />;
  return (
    <div className="layout">
      <section className="card card--flush">
        <table className="table" data-testid="people">
          <thead>
            <tr>
              <th>{t("person")}</th>
              <th>{t("role")}</th>
              <th className="right">{t("answers")}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {people.data.users.map((u) => (
              <tr key={u.id}>
                <td>
                  <div className="cell-title">{u.name}</div>
                  <div className="muted">{u.email}</div>
                </td>
                <td>
                  <select
                    aria-label={t("roleOf", { email: u.email })}
                    value={u.role}
                    disabled={u.id === myId}
                    onChange={(e) =>
                      update.mutate({ id: u.id, role: e.target.value === "admin" ? "admin" : "annotator" })
                    }
                  >
                    <option value="annotator">{roles("annotator")}</option>
                    <option value="admin">{roles("admin")}</option>
                  </select>
                </td>
                <td className="num right">{u.rankings}</td>
                <td>
                  {u.id !== myId && (
                    <button
                      type="button"
                      className="button button--ghost"
                      onClick={() => update.mutate({ id: u.id, banned: !u.banned })}
                    >
                      {u.banned ? t("unblock") : t("block")}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {update.error && <p className="form-error padded">{serverMessage(update.error).text}</p>}
      </section>
      <aside className="stack">
        <section className="card">
          <div className="card__head">
            <h2>{t("invite")}</h2>
          </div>
          <form className="form" onSubmit={onInvite}>
            <label>
              {t("email")}
              <input name="email" type="email" required />
            </label>
            <label>
              {t("role")}
              <select name="role" defaultValue="annotator">
                <option value="annotator">{roles("annotator")}</option>
                <option value="admin">{roles("admin")}</option>
              </select>
            </label>
            {invite.error && <p className="form-error">{serverMessage(invite.error).text}</p>}
            <button type="submit" className="button button--primary">
              {t("createLink")}
            </button>
          </form>
          {link && (
            <div className="invite-link">
              <p className="muted small">{t("sendLink")}</p>
              <input
                readOnly
                value={link}
                onFocus={(e) => e.currentTarget.select()}
                data-testid="invite-link"
              />
            </div>
          )}
        </section>
        {people.data.invites.length > 0 && (
          <section className="card">
            <div className="card__head">
              <h2>{t("pending")}</h2>
            </div>
            <ul className="plain-list">
              {people.data.invites.map((i) => (
                <li key={i.id}>
                  {i.email} <span className="tag">{roles(i.role)}</span>{" "}
                  <button
                    type="button"
                    className="button button--ghost"
                    onClick={() => revoke.mutate({ id: i.id })}
                  >
                    {t("revoke")}
                  </button>
                </li>
              ))}
            </ul>
          </section>
        )}
      </aside>
    </div>
  );
}
