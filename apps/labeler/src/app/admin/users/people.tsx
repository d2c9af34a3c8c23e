"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTRPC } from "~/trpc/react";
import { QueryError } from "../../_components/query-error";

export function People({ myId }: { myId: string }) {
  const trpc = useTRPC();
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

  if (people.isPending) return <p className="empty">Loading…</p>;
  if (people.isError) return <QueryError error={people.error} what="people" />;
  return (
    <div className="layout">
      <section className="card card--flush">
        <table className="table" data-testid="people">
          <thead>
            <tr>
              <th>Person</th>
              <th>Role</th>
              <th className="right">Answers</th>
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
                    aria-label={`Role of ${u.email}`}
                    value={u.role}
                    disabled={u.id === myId}
                    onChange={(e) =>
                      update.mutate({ id: u.id, role: e.target.value === "admin" ? "admin" : "annotator" })
                    }
                  >
                    <option value="annotator">annotator</option>
                    <option value="admin">admin</option>
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
                      {u.banned ? "Unblock" : "Block"}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {update.error && <p className="form-error padded">{update.error.message}</p>}
      </section>
      <aside className="stack">
        <section className="card">
          <div className="card__head">
            <h2>Invite someone</h2>
          </div>
          <form className="form" onSubmit={onInvite}>
            <label>
              Email
              <input name="email" type="email" required />
            </label>
            <label>
              Role
              <select name="role" defaultValue="annotator">
                <option value="annotator">annotator</option>
                <option value="admin">admin</option>
              </select>
            </label>
            {invite.error && <p className="form-error">{invite.error.message}</p>}
            <button type="submit" className="button button--primary">
              Create invitation link
            </button>
          </form>
          {link && (
            <div className="invite-link">
              <p className="muted small">Send this link (valid 7 days, once). It is not shown again.</p>
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
              <h2>Pending invitations</h2>
            </div>
            <ul className="plain-list">
              {people.data.invites.map((i) => (
                <li key={i.id}>
                  {i.email} <span className="tag">{i.role}</span>{" "}
                  <button
                    type="button"
                    className="button button--ghost"
                    onClick={() => revoke.mutate({ id: i.id })}
                  >
                    Revoke
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
