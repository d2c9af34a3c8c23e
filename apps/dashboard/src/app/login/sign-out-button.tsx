"use client";

export function SignOutButton() {
  return (
    <button
      type="button"
      className="btn"
      onClick={async () => {
        await fetch("/api/auth/sign-out", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{}",
        });
        window.location.assign("/login");
      }}
    >
      Sign out
    </button>
  );
}
