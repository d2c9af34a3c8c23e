"use client";

import { signOut } from "@rlhf/ui/auth-client";

export function UserMenu({ name, role }: { name: string; role: string }) {
  return (
    <div className="user-menu">
      <span className="user-menu__name" data-testid="signed-in-as">
        {name} <span className="tag">{role}</span>
      </span>
      <button type="button" className="button button--ghost" onClick={() => void signOut()}>
        Sign out
      </button>
    </div>
  );
}
